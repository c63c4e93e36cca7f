import Foundation
import Logging
import MapController
import MapSchema
import PostgresNIO

extension PostgresStateStore {
    static func insert(_ document: AppliedDocument, fleet: String, _ connection: PostgresConnection, logger: Logger) async throws {
        let version = document.version.description
        let inserted = try await connection.query(
            """
            INSERT INTO mapctl_state_documents (fleet, name, version, content_sha256, yaml, source, applied_at)
            VALUES (\(fleet), \(document.name), \(version), \(document.contentSHA256), \(document.yaml), \(document.source),
                \(document.appliedAt))
            ON CONFLICT (fleet, name, version) DO NOTHING
            RETURNING 1
            """,
            logger: logger
        ).collect()
        guard inserted.isEmpty else { return }
        let existing = try await connection.query(
            "SELECT content_sha256 FROM mapctl_state_documents WHERE fleet = \(fleet) AND name = \(document.name) AND version = \(version)",
            logger: logger
        )
        for try await (sha) in existing.decode(String.self) where sha != document.contentSHA256 {
            throw StateStoreError(
                .documentConflict,
                "map '\(document.name)' version \(version) was applied with other content (sha256 \(sha)); bump the version"
            )
        }
    }

    static func upsert(
        _ state: PersistedMapState,
        diagnostics: String?,
        updatedAt: Date,
        fleet: String,
        _ connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO mapctl_state_maps (fleet, name, live_version, live_sha256, standby_version, standby_mode,
                window_ends_at, desired_version, desired_sha256, desired_source, invalid_diagnostics, invalid_source,
                invalid_at, reason, updated_at)
            VALUES (\(fleet), \(state.name), \(state.liveVersion?.description), \(state.liveSHA256),
                \(state.standby?.version.description), \(state.standby?.mode.rawValue), \(state.windowEndsAt),
                \(state.desiredVersion?.description), \(state.desiredSHA256), \(state.desiredSource), \(diagnostics),
                \(state.invalid?.source), \(state.invalid?.at), \(state.reason), \(updatedAt))
            ON CONFLICT (fleet, name) DO UPDATE SET
                live_version = excluded.live_version, live_sha256 = excluded.live_sha256,
                standby_version = excluded.standby_version, standby_mode = excluded.standby_mode,
                window_ends_at = excluded.window_ends_at,
                desired_version = excluded.desired_version, desired_sha256 = excluded.desired_sha256,
                desired_source = excluded.desired_source,
                invalid_diagnostics = excluded.invalid_diagnostics, invalid_source = excluded.invalid_source,
                invalid_at = excluded.invalid_at, reason = excluded.reason, updated_at = excluded.updated_at
            """,
            logger: logger
        )
        try await connection.query("DELETE FROM mapctl_state_quarantines WHERE fleet = \(fleet) AND name = \(state.name)", logger: logger)
        for (ordinal, quarantine) in state.quarantined.enumerated() {
            try await connection.query(
                """
                INSERT INTO mapctl_state_quarantines (fleet, name, version, content_sha256, reason, at, ordinal)
                VALUES (\(fleet), \(state.name), \(quarantine.version.description), \(quarantine.contentSHA256),
                    \(quarantine.reason), \(quarantine.at), \(Int64(ordinal)))
                ON CONFLICT (fleet, name, version, content_sha256) DO UPDATE SET reason = excluded.reason, at = excluded.at
                """,
                logger: logger
            )
        }
    }

    static func insert(_ entry: HistoryEntry, name: String, fleet: String, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO mapctl_state_history (fleet, name, occurred_at, action, version, from_version, source,
                content_sha256, reason, replica)
            VALUES (\(fleet), \(name), \(entry.time), \(entry.action.rawValue), \(entry.version), \(entry.fromVersion),
                \(entry.source), \(entry.contentSHA256), \(entry.reason), \(entry.replica))
            """,
            logger: logger
        )
    }

    /// The fleet's map states (one map's when `name` is set), quarantines included, read in one statement.
    static func mapStates(fleet: String, name: String?, _ connection: PostgresConnection, logger: Logger) async throws
        -> [PersistedMapState]
    {
        let rows = try await connection.query(
            """
            SELECT m.name, m.live_version, m.live_sha256, m.standby_version, m.standby_mode, m.window_ends_at,
                m.desired_version, m.desired_sha256, m.desired_source, m.invalid_diagnostics, m.invalid_source,
                m.invalid_at, m.reason, m.updated_at,
                q.version AS q_version, q.content_sha256 AS q_sha256, q.reason AS q_reason, q.at AS q_at
            FROM mapctl_state_maps m
            LEFT JOIN mapctl_state_quarantines q ON q.fleet = m.fleet AND q.name = m.name
            WHERE m.fleet = \(fleet) AND (\(name)::text IS NULL OR m.name = \(name))
            ORDER BY m.name COLLATE "C", q.ordinal
            """,
            logger: logger
        )
        var states: [PersistedMapState] = []
        for try await row in rows {
            let row = row.makeRandomAccess()
            let mapName: String = try row.value("name")
            if states.last?.name != mapName {
                states.append(try mapState(from: row, name: mapName))
            }
            if let version: String = try row.value("q_version") {
                states[states.count - 1].quarantined.append(
                    PersistedMapState.Quarantine(
                        version: try Self.version(version),
                        contentSHA256: try row.value("q_sha256"),
                        reason: try row.value("q_reason"),
                        at: try row.value("q_at")
                    )
                )
            }
        }
        return states
    }

    private static func mapState(from row: PostgresRandomAccessRow, name: String) throws -> PersistedMapState {
        var standby: PersistedMapState.Standby?
        if let standbyVersion: String = try row.value("standby_version") {
            let modeText: String = try row.value("standby_mode", as: String?.self) ?? ""
            guard let mode = RolloutPolicy.Standby(rawValue: modeText) else {
                throw StateStoreError(.corrupt, "stored standby mode '\(modeText)' is neither warm nor cold")
            }
            standby = PersistedMapState.Standby(version: try version(standbyVersion), mode: mode)
        }
        var invalid: PersistedMapState.InvalidDocument?
        if let json: String = try row.value("invalid_diagnostics") {
            let diagnostics: [Diagnostic]
            do {
                diagnostics = try JSONDecoder().decode([Diagnostic].self, from: Data(json.utf8))
            } catch {
                throw StateStoreError(.corrupt, "stored diagnostics are not valid: \(error)")
            }
            invalid = PersistedMapState.InvalidDocument(
                diagnostics: diagnostics,
                source: try row.value("invalid_source"),
                at: try row.value("invalid_at", as: Date?.self) ?? Date(timeIntervalSinceReferenceDate: 0)
            )
        }
        return PersistedMapState(
            name: name,
            liveVersion: try (row.value("live_version", as: String?.self)).map(version),
            liveSHA256: try row.value("live_sha256"),
            standby: standby,
            windowEndsAt: try row.value("window_ends_at"),
            desiredVersion: try (row.value("desired_version", as: String?.self)).map(version),
            desiredSHA256: try row.value("desired_sha256"),
            desiredSource: try row.value("desired_source"),
            invalid: invalid,
            reason: try row.value("reason"),
            updatedAt: try row.value("updated_at")
        )
    }

    static func document(from row: PostgresRandomAccessRow) throws -> AppliedDocument {
        AppliedDocument(
            name: try row.value("name"),
            version: try version(try row.value("version")),
            contentSHA256: try row.value("content_sha256"),
            yaml: try row.value("yaml"),
            source: try row.value("source"),
            appliedAt: try row.value("applied_at")
        )
    }

    private static func version(_ text: String) throws -> SemanticVersion {
        do {
            return try SemanticVersion(parsing: text)
        } catch {
            throw StateStoreError(.corrupt, "stored version '\(text)' is not a semantic version: \(error)")
        }
    }
}
