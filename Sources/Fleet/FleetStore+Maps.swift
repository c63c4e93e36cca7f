import Foundation
import Logging
import PostgresNIO

/// The NOTIFY channel of fleet changes; payloads are `<fleet>/<map>/<revision>`.
let fleetChannel = "mapctl_fleet"

extension FleetStore {
    // MARK: Documents

    /// Records a desired document; recording the same (name, version, content) again does nothing.
    ///
    /// - Throws: ``FleetError/Code/conflict`` when (name, version) is known with other content.
    public func recordDocument(_ document: FleetDocument) async throws(FleetError) {
        try await perform("record document \(document.name) \(document.version)") { [client, logger, fleet] in
            try await client.withConnection { connection in
                try await Self.insert(document, fleet: fleet, connection, logger: logger)
            }
        }
    }

    /// The document recorded for `name` at `version`, if any.
    public func document(name: String, version: String) async throws(FleetError) -> FleetDocument? {
        try await perform("read document \(name) \(version)") { [client, logger, fleet] in
            let rows = try await client.query(
                """
                SELECT name, version, content_sha256, yaml, source, replica, applied_at FROM mapctl_fleet_documents
                WHERE fleet = \(fleet) AND name = \(name) AND version = \(version)
                """,
                logger: logger
            )
            for try await row in rows {
                let row = row.makeRandomAccess()
                return FleetDocument(
                    name: try row.value("name"),
                    version: try row.value("version"),
                    contentSHA256: try row.value("content_sha256"),
                    yaml: try row.value("yaml"),
                    source: try row.value("source"),
                    replica: try row.value("replica"),
                    appliedAt: try row.value("applied_at")
                )
            }
            return nil
        }
    }

    static func insert(_ document: FleetDocument, fleet: String, _ connection: PostgresConnection, logger: Logger) async throws {
        let inserted = try await connection.query(
            """
            INSERT INTO mapctl_fleet_documents (fleet, name, version, content_sha256, yaml, source, replica, applied_at)
            VALUES (\(fleet), \(document.name), \(document.version), \(document.contentSHA256), \(document.yaml),
                \(document.source), \(document.replica), \(document.appliedAt))
            ON CONFLICT (fleet, name, version) DO NOTHING
            RETURNING 1
            """,
            logger: logger
        ).collect()
        guard inserted.isEmpty else { return }
        let existing = try await connection.query(
            """
            SELECT content_sha256 FROM mapctl_fleet_documents
            WHERE fleet = \(fleet) AND name = \(document.name) AND version = \(document.version)
            """,
            logger: logger
        )
        for try await (sha) in existing.decode(String.self) where sha != document.contentSHA256 {
            throw FleetError(
                .conflict,
                "map '\(document.name)' version \(document.version) is known to fleet '\(fleet)' with other content "
                    + "(sha256 \(sha)); bump the version"
            )
        }
    }

    // MARK: Map state

    /// Every map's decided state, by name.
    public func mapStates() async throws(FleetError) -> [FleetMapState] {
        try await perform("read the fleet's map states") { [client, logger, fleet] in
            try await client.withConnection { connection in
                try await Self.mapStates(fleet: fleet, name: nil, forUpdate: false, connection, logger: logger)
            }
        }
    }

    /// One map's decided state, nil while the fleet has none.
    public func mapState(name: String) async throws(FleetError) -> FleetMapState? {
        try await perform("read the fleet state of map '\(name)'") { [client, logger, fleet] in
            try await client.withConnection { connection in
                try await Self.mapStates(fleet: fleet, name: name, forUpdate: false, connection, logger: logger).first
            }
        }
    }

    /// Changes one map's decided state in one transaction.
    ///
    /// Locks the map (its row `FOR UPDATE`, and an advisory transaction lock so that two first writes of the same
    /// map also take turns), calls `change` with the current state (nil when none) and, when it returns a
    /// ``FleetChange``, writes its state (revision + 1; quarantines replaced by the state's list), appends its
    /// history and records its documents, then notifies `mapctl_fleet` with `<fleet>/<name>/<revision>`
    /// (delivered at commit). `change` may run again only if the caller calls again; it must not have effects.
    ///
    /// - Returns: The state after; the state before when `change` returned nil.
    /// - Throws: What `change` threw (nothing written), or a ``FleetError`` (nothing written, except that a
    ///   timeout during the COMMIT leaves the outcome unknown).
    public func update(
        name: String,
        _ change: @escaping @Sendable (FleetMapState?) throws -> FleetChange?
    ) async throws -> FleetMapState? {
        let what = "update the fleet state of map '\(name)'"
        let result = await Self.withDeadline(timeout) { [client, logger, fleet] in
            try await client.withConnection { connection in
                try await Self.transaction(connection, logger: logger) {
                    try await Self.update(fleet: fleet, name: name, change, connection, logger: logger)
                }
            }
        }
        switch result {
        case .success(let state): return state
        case .failure(let error as CallerError): throw error.underlying
        case .failure(let error): throw Self.translate(error, location: location, doing: what, timeout: timeout)
        }
    }

    private static func update(
        fleet: String,
        name: String,
        _ change: @Sendable (FleetMapState?) throws -> FleetChange?,
        _ connection: PostgresConnection,
        logger: Logger
    ) async throws -> FleetMapState? {
        try await connection.query(
            "SELECT pg_advisory_xact_lock(\(FleetSchema.LockSpace.mapRow.rawValue), \(FleetSchema.lockKey("\(fleet)/\(name)")))",
            logger: logger
        )
        let old = try await mapStates(fleet: fleet, name: name, forUpdate: true, connection, logger: logger).first
        let decided: FleetChange?
        do {
            decided = try change(old)
        } catch {
            throw CallerError(underlying: error)
        }
        guard let decided else { return old }
        var state = decided.state
        state.name = name
        state.revision = (old?.revision ?? 0) + 1
        for document in decided.documents {
            try await insert(document, fleet: fleet, connection, logger: logger)
        }
        try await upsert(state, fleet: fleet, connection, logger: logger)
        for entry in decided.history {
            try await connection.query(
                """
                INSERT INTO mapctl_fleet_history (fleet, name, occurred_at, action, version, from_version, source,
                    content_sha256, reason, replica)
                VALUES (\(fleet), \(name), \(entry.time), \(entry.action), \(entry.version), \(entry.fromVersion),
                    \(entry.source), \(entry.contentSHA256), \(entry.reason), \(entry.replica))
                """,
                logger: logger
            )
        }
        try await connection.query("SELECT pg_notify(\(fleetChannel), \("\(fleet)/\(name)/\(state.revision)"))", logger: logger)
        return state
    }

    private static func upsert(_ state: FleetMapState, fleet: String, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO mapctl_fleet_maps (fleet, name, desired_version, desired_sha256, live_version, live_sha256,
                standby_version, standby_sha256, window_started_at, window_ends_at, phase, reason, revision, updated_at)
            VALUES (\(fleet), \(state.name), \(state.desiredVersion), \(state.desiredSHA256), \(state.liveVersion),
                \(state.liveSHA256), \(state.standbyVersion), \(state.standbySHA256), \(state.windowStartedAt),
                \(state.windowEndsAt), \(state.phase), \(state.reason), \(state.revision), now())
            ON CONFLICT (fleet, name) DO UPDATE SET
                desired_version = excluded.desired_version, desired_sha256 = excluded.desired_sha256,
                live_version = excluded.live_version, live_sha256 = excluded.live_sha256,
                standby_version = excluded.standby_version, standby_sha256 = excluded.standby_sha256,
                window_started_at = excluded.window_started_at, window_ends_at = excluded.window_ends_at,
                phase = excluded.phase, reason = excluded.reason, revision = excluded.revision,
                updated_at = excluded.updated_at
            """,
            logger: logger
        )
        try await connection.query(
            "DELETE FROM mapctl_fleet_quarantines WHERE fleet = \(fleet) AND name = \(state.name)",
            logger: logger
        )
        for (ordinal, quarantine) in state.quarantined.enumerated() {
            try await connection.query(
                """
                INSERT INTO mapctl_fleet_quarantines (fleet, name, version, content_sha256, reason, at, replica, ordinal)
                VALUES (\(fleet), \(state.name), \(quarantine.version), \(quarantine.contentSHA256), \(quarantine.reason),
                    \(quarantine.at), \(quarantine.replica), \(Int64(ordinal)))
                ON CONFLICT (fleet, name, version, content_sha256) DO UPDATE SET
                    reason = excluded.reason, at = excluded.at, replica = excluded.replica
                """,
                logger: logger
            )
        }
    }

    /// The fleet's map states (one map's when `name` is set), quarantines included, read in one statement.
    static func mapStates(
        fleet: String,
        name: String?,
        forUpdate: Bool,
        _ connection: PostgresConnection,
        logger: Logger
    ) async throws -> [FleetMapState] {
        var query: PostgresQuery = """
            SELECT m.name, m.desired_version, m.desired_sha256, m.live_version, m.live_sha256, m.standby_version,
                m.standby_sha256, m.window_started_at, m.window_ends_at, m.phase, m.reason, m.revision,
                q.version AS q_version, q.content_sha256 AS q_sha256, q.reason AS q_reason, q.at AS q_at,
                q.replica AS q_replica
            FROM mapctl_fleet_maps m
            LEFT JOIN mapctl_fleet_quarantines q ON q.fleet = m.fleet AND q.name = m.name
            WHERE m.fleet = \(fleet) AND (\(name)::text IS NULL OR m.name = \(name))
            ORDER BY m.name COLLATE "C", q.ordinal
            """
        if forUpdate { query.sql += " FOR UPDATE OF m" }
        var states: [FleetMapState] = []
        for try await row in try await connection.query(query, logger: logger) {
            let row = row.makeRandomAccess()
            let mapName: String = try row.value("name")
            if states.last?.name != mapName {
                states.append(
                    FleetMapState(
                        name: mapName,
                        desiredVersion: try row.value("desired_version"),
                        desiredSHA256: try row.value("desired_sha256"),
                        liveVersion: try row.value("live_version"),
                        liveSHA256: try row.value("live_sha256"),
                        standbyVersion: try row.value("standby_version"),
                        standbySHA256: try row.value("standby_sha256"),
                        windowStartedAt: try row.value("window_started_at"),
                        windowEndsAt: try row.value("window_ends_at"),
                        phase: try row.value("phase"),
                        reason: try row.value("reason"),
                        revision: try row.value("revision")
                    )
                )
            }
            if let version: String = try row.value("q_version") {
                states[states.count - 1].quarantined.append(
                    FleetQuarantine(
                        version: version,
                        contentSHA256: try row.value("q_sha256"),
                        reason: try row.value("q_reason"),
                        at: try row.value("q_at"),
                        replica: try row.value("q_replica")
                    )
                )
            }
        }
        return states
    }

    // MARK: History

    /// The map's fleet history, oldest first; only the last `limit` entries when set.
    public func history(name: String, limit: Int? = nil) async throws(FleetError) -> [FleetHistoryEntry] {
        try await perform("read the fleet history of map '\(name)'") { [client, logger, fleet] in
            let rows = try await client.query(
                """
                SELECT * FROM (
                    SELECT id, occurred_at, action, version, from_version, source, content_sha256, reason, replica
                    FROM mapctl_fleet_history WHERE fleet = \(fleet) AND name = \(name)
                    ORDER BY id DESC LIMIT \(limit.map { Int64(max(0, $0)) })
                ) AS recent ORDER BY id
                """,
                logger: logger
            )
            var entries: [FleetHistoryEntry] = []
            for try await row in rows {
                let row = row.makeRandomAccess()
                entries.append(
                    FleetHistoryEntry(
                        time: try row.value("occurred_at"),
                        action: try row.value("action"),
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
