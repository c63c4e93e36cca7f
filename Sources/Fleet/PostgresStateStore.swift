public import Foundation
import Logging
public import MapController
public import MapSchema
import PostgresNIO

/// The controller's map state (``MapStateStore``) in PostgreSQL, scoped by the fleet name of its ``FleetStore``.
///
/// The same transactions as the SQLite ``StateStore``: ``save(_:appending:recording:at:)`` writes the state,
/// its history and its documents in one transaction; ``deleteMap(name:)`` forgets all of a map at once. It
/// uses the fleet store's connection pool (``FleetStore/run()`` must be running) and tables
/// (``FleetStore/migrate()`` or ``migrate()`` first). Errors: ``StateStoreError``, with
/// ``StateStoreError/Code/io`` when the database cannot be reached or refuses.
public final class PostgresStateStore: MapStateStore, Sendable {
    public let store: FleetStore

    public init(store: FleetStore) {
        self.store = store
    }

    /// ``FleetStore/migrate()``, with its errors as ``StateStoreError``.
    public func migrate() async throws(StateStoreError) {
        do {
            try await store.migrate()
        } catch {
            throw Self.stateError(error)
        }
    }

    // MARK: Documents

    public func record(_ document: AppliedDocument) async throws(StateStoreError) {
        try await perform("record a document") { [fleet = store.fleet, logger = store.logger] client in
            try await client.withConnection { connection in
                try await Self.insert(document, fleet: fleet, connection, logger: logger)
            }
        }
    }

    public func document(name: String, version: SemanticVersion) async throws(StateStoreError) -> AppliedDocument? {
        try await perform("read a document") { [fleet = store.fleet, logger = store.logger] client in
            let rows = try await client.query(
                """
                SELECT name, version, content_sha256, yaml, source, applied_at FROM mapctl_state_documents
                WHERE fleet = \(fleet) AND name = \(name) AND version = \(version.description)
                """,
                logger: logger
            )
            for try await row in rows { return try Self.document(from: row.makeRandomAccess()) }
            return nil
        }
    }

    public func documents(name: String) async throws(StateStoreError) -> [AppliedDocument] {
        try await perform("read documents") { [fleet = store.fleet, logger = store.logger] client in
            let rows = try await client.query(
                """
                SELECT name, version, content_sha256, yaml, source, applied_at FROM mapctl_state_documents
                WHERE fleet = \(fleet) AND name = \(name) ORDER BY id
                """,
                logger: logger
            )
            var documents: [AppliedDocument] = []
            for try await row in rows { documents.append(try Self.document(from: row.makeRandomAccess())) }
            return documents
        }
    }

    // MARK: Map state

    public func mapStates() async throws(StateStoreError) -> [PersistedMapState] {
        try await perform("read map states") { [fleet = store.fleet, logger = store.logger] client in
            try await client.withConnection { connection in
                try await Self.mapStates(fleet: fleet, name: nil, connection, logger: logger)
            }
        }
    }

    public func mapState(name: String) async throws(StateStoreError) -> PersistedMapState? {
        try await perform("read a map state") { [fleet = store.fleet, logger = store.logger] client in
            try await client.withConnection { connection in
                try await Self.mapStates(fleet: fleet, name: name, connection, logger: logger).first
            }
        }
    }

    public func save(
        _ state: PersistedMapState,
        appending history: [HistoryEntry] = [],
        recording documents: [AppliedDocument] = [],
        at date: Date = Date()
    ) async throws(StateStoreError) {
        let diagnostics: String?
        do {
            diagnostics = try state.invalid.map { String(decoding: try JSONEncoder().encode($0.diagnostics), as: UTF8.self) }
        } catch {
            throw StateStoreError(.invalidArgument, "cannot encode the diagnostics of map '\(state.name)': \(error)")
        }
        try await perform("save the state of map '\(state.name)'") { [fleet = store.fleet, logger = store.logger] client in
            try await client.withConnection { connection in
                try await FleetStore.transaction(connection, logger: logger) {
                    for document in documents { try await Self.insert(document, fleet: fleet, connection, logger: logger) }
                    try await Self.upsert(state, diagnostics: diagnostics, updatedAt: date, fleet: fleet, connection, logger: logger)
                    for entry in history { try await Self.insert(entry, name: state.name, fleet: fleet, connection, logger: logger) }
                }
            }
        }
    }

    @discardableResult
    public func deleteMap(name: String) async throws(StateStoreError) -> Bool {
        try await perform("delete map '\(name)'") { [fleet = store.fleet, logger = store.logger] client in
            try await client.withConnection { connection in
                try await FleetStore.transaction(connection, logger: logger) {
                    let known = try await connection.query(
                        "DELETE FROM mapctl_state_maps WHERE fleet = \(fleet) AND name = \(name) RETURNING 1",
                        logger: logger
                    ).collect()
                    try await connection.query("DELETE FROM mapctl_state_history WHERE fleet = \(fleet) AND name = \(name)", logger: logger)
                    try await connection.query(
                        "DELETE FROM mapctl_state_documents WHERE fleet = \(fleet) AND name = \(name)", logger: logger)
                    return !known.isEmpty
                }
            }
        }
    }

    // MARK: History

    public func history(name: String, limit: Int? = nil) async throws(StateStoreError) -> [HistoryEntry] {
        try await perform("read history") { [fleet = store.fleet, logger = store.logger] client in
            let rows = try await client.query(
                """
                SELECT * FROM (
                    SELECT id, occurred_at, action, version, from_version, source, content_sha256, reason, replica
                    FROM mapctl_state_history WHERE fleet = \(fleet) AND name = \(name)
                    ORDER BY id DESC LIMIT \(limit.map { Int64(max(0, $0)) })
                ) AS recent ORDER BY id
                """,
                logger: logger
            )
            var entries: [HistoryEntry] = []
            for try await row in rows {
                let row = row.makeRandomAccess()
                let actionText: String = try row.value("action")
                guard let action = HistoryEntry.Action(rawValue: actionText) else {
                    throw StateStoreError(.corrupt, "stored history action '\(actionText)' is unknown")
                }
                entries.append(
                    HistoryEntry(
                        time: try row.value("occurred_at"),
                        action: action,
                        version: try row.value("version"),
                        fromVersion: try row.value("from_version"),
                        source: try row.value("source"),
                        contentSHA256: try row.value("content_sha256"),
                        reason: try row.value("reason"),
                        replica: try row.value("replica")
                    )
                )
            }
            return entries
        }
    }
}

// MARK: - Errors

extension PostgresStateStore {
    private func perform<T: Sendable>(
        _ what: String,
        _ body: @escaping @Sendable (PostgresClient) async throws -> T
    ) async throws(StateStoreError) -> T {
        let store = self.store
        let result = await FleetStore.withDeadline(store.timeout) { try await body(store.client) }
        switch result {
        case .success(let value):
            return value
        case .failure(let error as StateStoreError):
            throw error
        case .failure(let error):
            throw Self.stateError(FleetStore.translate(error, location: store.location, doing: what, timeout: store.timeout))
        }
    }

    static func stateError(_ error: FleetError) -> StateStoreError {
        switch error.code {
        case .conflict: StateStoreError(.documentConflict, error.message)
        case .newerSchema: StateStoreError(.newerSchema, error.message)
        case .badLocation: StateStoreError(.cannotOpen, error.message)
        case .unavailable, .database: StateStoreError(.io, "fleet state store: \(error.message)")
        }
    }
}
