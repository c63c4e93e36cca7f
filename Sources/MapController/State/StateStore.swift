public import Foundation
import GRDB
public import MapSchema

/// The controller's durable state in SQLite: applied documents, each
/// map's live, standby and desired versions, quarantines, history, run markers.
///
/// One database at `STATE/state.sqlite`, in WAL mode through a GRDB
/// `DatabasePool`: readers never wait for the writer. Every public method that
/// changes something is one transaction, so a crash at any point leaves the
/// state as it was before or after the change, never in between; in particular
/// ``save(_:appending:recording:)`` writes a map's state with the history entries
/// that explain it, so the two always agree.
///
/// One controller process per state directory. Errors are thrown as
/// ``StateStoreError``; nothing here traps on bad input or a bad file.
public final class StateStore: MapStateStore, Sendable {
    /// The database file.
    public let path: String
    private let pool: DatabasePool

    /// Opens (or creates) the state database in `directory`.
    ///
    /// The directory is created with mode 0700 when missing (it also holds the
    /// API token). Migrations are applied.
    ///
    /// - Throws: ``StateStoreError`` with ``StateStoreError/Code/cannotOpen``,
    ///   ``StateStoreError/Code/corrupt`` (not a SQLite database),
    ///   ``StateStoreError/Code/newerSchema``, or ``StateStoreError/Code/lostState`` (the
    ///   database is missing or empty although the directory's token shows earlier use).
    public init(directory: String) throws(StateStoreError) {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("state.sqlite").path
        self.path = path
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw StateStoreError(.cannotOpen, "cannot create the state directory \(directory): \(error.localizedDescription)")
        }
        let usedBefore = FileManager.default.fileExists(atPath: URL(fileURLWithPath: directory).appendingPathComponent("token").path)
        if usedBefore, Self.isMissingOrEmpty(path) {
            throw Self.lostState(path: path, directory: directory)
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        configuration.label = "mapctl.state"
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            let migrator = Self.migrator
            if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                throw StateStoreError(
                    .newerSchema,
                    "state database \(path) was written by a newer mapctl; run that version or move the state directory aside"
                )
            }
            // A database without mapctl's tables is as empty as a file of zero bytes. (A database
            // with its tables but no run yet is not: an embedding service may make its token between
            // opening the store and starting the controller.)
            if usedBefore, try pool.read({ try !$0.tableExists("maps") }) {
                throw Self.lostState(path: path, directory: directory)
            }
            try migrator.migrate(pool)
            self.pool = pool
        } catch let error as StateStoreError {
            throw error
        } catch {
            throw Self.translate(error, path: path, doing: "open", opening: true)
        }
    }

    /// True when the database file is absent or holds no byte (SQLite would take it as a new database).
    private static func isMissingOrEmpty(_ path: String) -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return true }
        return (attributes[.size] as? NSNumber)?.intValue == 0
    }

    /// The state directory was used (its API token exists: the daemon makes it after its first
    /// run is recorded) but the database is missing or empty: taking that as a first start would
    /// silently forget every version, window, quarantine and history entry.
    private static func lostState(path: String, directory: String) -> StateStoreError {
        StateStoreError(
            .lostState,
            "state database \(path) is missing or empty, but \(directory)/token shows this state directory was used before: "
                + "starting would forget every map's versions, quarantines and history. Restore the database from a backup; "
                + "to start afresh on purpose, remove the state directory (rm -r \(directory)), which also makes a new API token"
        )
    }

    /// Closes the database; later calls throw.
    public func close() throws(StateStoreError) {
        try perform("close") { try pool.close() }
    }

    // MARK: Documents

    /// Records an applied document; recording the same (name, version, content) again does nothing.
    ///
    /// - Throws: ``StateStoreError/Code/documentConflict`` when the version is known with other content.
    public func record(_ document: AppliedDocument) throws(StateStoreError) {
        try write("record a document") { db in try Self.insert(document, db) }
    }

    /// The document applied for `name` at `version`, if any.
    public func document(name: String, version: SemanticVersion) throws(StateStoreError) -> AppliedDocument? {
        try read("read a document") { db in
            try Row.fetchOne(
                db,
                sql: "SELECT * FROM documents WHERE name = ? AND version = ?",
                arguments: [name, version.description]
            ).map(Self.document(from:))
        }
    }

    /// Every document applied for `name`, oldest first.
    public func documents(name: String) throws(StateStoreError) -> [AppliedDocument] {
        try read("read documents") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM documents WHERE name = ? ORDER BY id", arguments: [name])
                .map(Self.document(from:))
        }
    }

    // MARK: Map state

    /// Every map's state, by name.
    public func mapStates() throws(StateStoreError) -> [PersistedMapState] {
        try read("read map states") { db in
            let quarantines = try Row.fetchAll(db, sql: "SELECT * FROM quarantines ORDER BY rowid")
            var byName: [String: [PersistedMapState.Quarantine]] = [:]
            for row in quarantines {
                byName[try row.decode(String.self, forColumn: "name"), default: []].append(try Self.quarantine(from: row))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM maps ORDER BY name").map { row in
                try Self.mapState(from: row, quarantined: byName[try row.decode(String.self, forColumn: "name")] ?? [])
            }
        }
    }

    /// One map's state, nil if the store has none.
    public func mapState(name: String) throws(StateStoreError) -> PersistedMapState? {
        try read("read a map state") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM maps WHERE name = ?", arguments: [name]) else {
                return nil
            }
            let quarantined = try Row.fetchAll(
                db,
                sql: "SELECT * FROM quarantines WHERE name = ? ORDER BY rowid",
                arguments: [name]
            ).map(Self.quarantine(from:))
            return try Self.mapState(from: row, quarantined: quarantined)
        }
    }

    /// Writes a map's state, the history entries of the change and the documents it applied, all in one transaction.
    ///
    /// Either everything is written or nothing is: a conflicting document, say,
    /// leaves the state and the history as they were.
    ///
    /// - Parameters:
    ///   - state: The map's whole state; it replaces the stored one (quarantines included).
    ///     `updatedAt` is set from `date`.
    ///   - history: New entries, oldest first, appended after the map's existing ones.
    ///   - documents: Documents applied by the change.
    ///   - date: The time of the change.
    /// - Throws: ``StateStoreError``; nothing is written then.
    public func save(
        _ state: PersistedMapState,
        appending history: [HistoryEntry] = [],
        recording documents: [AppliedDocument] = [],
        at date: Date = Date()
    ) throws(StateStoreError) {
        try write("save the state of map '\(state.name)'") { db in
            for document in documents { try Self.insert(document, db) }
            try Self.upsert(state, updatedAt: date, db)
            for entry in history { try Self.insert(entry, name: state.name, db) }
        }
    }

    /// Forgets a map entirely (`--prune`): its state, quarantines, history and documents, in one transaction.
    ///
    /// - Returns: True when the store knew the map.
    @discardableResult
    public func deleteMap(name: String) throws(StateStoreError) -> Bool {
        try write("delete map '\(name)'") { db in
            try db.execute(sql: "DELETE FROM maps WHERE name = ?", arguments: [name])
            let known = db.changesCount > 0
            try db.execute(sql: "DELETE FROM history WHERE name = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM documents WHERE name = ?", arguments: [name])
            return known
        }
    }

    // MARK: History

    /// The map's history, newest last.
    ///
    /// - Parameter limit: Only the last `limit` entries when set.
    public func history(name: String, limit: Int? = nil) throws(StateStoreError) -> [HistoryEntry] {
        try read("read history") { db in
            let rows: [Row]
            if let limit {
                rows = try Row.fetchAll(
                    db,
                    sql: "SELECT * FROM (SELECT * FROM history WHERE name = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
                    arguments: [name, max(0, limit)]
                )
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM history WHERE name = ? ORDER BY id", arguments: [name])
            }
            return try rows.map(Self.historyEntry(from:))
        }
    }

    // MARK: Runs

    /// Records the start of a controller run and reports how the previous one ended.
    ///
    /// Call it once at start, before serving; call ``endRunCleanly(at:)`` on a
    /// clean shutdown. A run that never ends cleanly (a crash, SIGKILL) shows
    /// as `previousRunEndedCleanly == false` at the next start.
    public func beginRun(at date: Date = Date()) throws(StateStoreError) -> RunRecord {
        try write("record the start of a run") { db in
            let previous = try Row.fetchOne(db, sql: "SELECT started_at, ended_at FROM runs ORDER BY id DESC LIMIT 1")
            let previousStartedAt = try previous.map {
                Date(timeIntervalSinceReferenceDate: try $0.decode(Double.self, forColumn: "started_at"))
            }
            let previousEndedCleanly = try previous.map { try $0.decode(Double?.self, forColumn: "ended_at") != nil } ?? true
            var windowed: [RunRecord.WindowedMap] = []
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT name, live_version, window_ends_at FROM maps WHERE window_ends_at IS NOT NULL AND live_version IS NOT NULL ORDER BY name"
            ) {
                windowed.append(
                    RunRecord.WindowedMap(
                        name: try row.decode(String.self, forColumn: "name"),
                        version: try Self.version(try row.decode(String.self, forColumn: "live_version")),
                        windowEndsAt: Date(timeIntervalSinceReferenceDate: try row.decode(Double.self, forColumn: "window_ends_at"))
                    )
                )
            }
            try db.execute(
                sql: "INSERT INTO runs (started_at, pid) VALUES (?, ?)",
                arguments: [date.timeIntervalSinceReferenceDate, Int64(ProcessInfo.processInfo.processIdentifier)]
            )
            let runID = db.lastInsertedRowID
            try db.execute(sql: "DELETE FROM runs WHERE id <= ?", arguments: [runID - Self.runsKept])
            return RunRecord(
                runID: runID,
                startedAt: date,
                previousRunStartedAt: previousStartedAt,
                previousRunEndedCleanly: previousEndedCleanly,
                mapsInWindow: windowed
            )
        }
    }

    /// Marks the current run (the last one begun) as ended cleanly.
    public func endRunCleanly(at date: Date = Date()) throws(StateStoreError) {
        try write("record the clean end of the run") { db in
            try db.execute(
                sql: "UPDATE runs SET ended_at = ? WHERE id = (SELECT MAX(id) FROM runs)",
                arguments: [date.timeIntervalSinceReferenceDate]
            )
        }
    }

    /// Runs whose records are kept.
    static let runsKept: Int64 = 100

    // MARK: Meta

    /// A value of the store's small key-value table.
    public func metaValue(forKey key: String) throws(StateStoreError) -> String? {
        try read("read meta") { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key])
        }
    }

    /// Sets (or, with nil, removes) a value of the store's small key-value table.
    public func setMetaValue(_ value: String?, forKey key: String) throws(StateStoreError) {
        try write("write meta") { db in
            if let value {
                try db.execute(
                    sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    arguments: [key, value]
                )
            } else {
                try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: [key])
            }
        }
    }

    /// SQLite's own check of the file (`PRAGMA integrity_check`): "ok", or what is wrong.
    public func integrityCheck() throws(StateStoreError) -> String {
        try read("check integrity") { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
        }
    }
}

// MARK: - Rows

extension StateStore {
    private static func insert(_ document: AppliedDocument, _ db: Database) throws {
        let version = document.version.description
        if let existing = try String.fetchOne(
            db,
            sql: "SELECT content_sha256 FROM documents WHERE name = ? AND version = ?",
            arguments: [document.name, version]
        ) {
            guard existing == document.contentSHA256 else {
                throw StateStoreError(
                    .documentConflict,
                    "map '\(document.name)' version \(version) was applied with other content (sha256 \(existing)); bump the version"
                )
            }
            return
        }
        try db.execute(
            sql: "INSERT INTO documents (name, version, content_sha256, yaml, source, applied_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [
                document.name, version, document.contentSHA256, document.yaml, document.source,
                document.appliedAt.timeIntervalSinceReferenceDate,
            ]
        )
    }

    private static func upsert(_ state: PersistedMapState, updatedAt: Date, _ db: Database) throws {
        var diagnosticsJSON: String?
        if let invalid = state.invalid {
            let data = try JSONEncoder().encode(invalid.diagnostics)
            diagnosticsJSON = String(decoding: data, as: UTF8.self)
        }
        let arguments: StatementArguments = [
            state.name,
            state.liveVersion?.description,
            state.liveSHA256,
            state.standby?.version.description,
            state.standby?.mode.rawValue,
            state.windowEndsAt?.timeIntervalSinceReferenceDate,
            state.desiredVersion?.description,
            state.desiredSHA256,
            state.desiredSource,
            diagnosticsJSON,
            state.invalid?.source,
            state.invalid?.at.timeIntervalSinceReferenceDate,
            state.reason,
            updatedAt.timeIntervalSinceReferenceDate,
        ]
        try db.execute(
            sql: """
                INSERT INTO maps (name, live_version, live_sha256, standby_version, standby_mode, window_ends_at,
                    desired_version, desired_sha256, desired_source, invalid_diagnostics, invalid_source, invalid_at,
                    reason, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET
                    live_version = excluded.live_version, live_sha256 = excluded.live_sha256,
                    standby_version = excluded.standby_version, standby_mode = excluded.standby_mode,
                    window_ends_at = excluded.window_ends_at,
                    desired_version = excluded.desired_version, desired_sha256 = excluded.desired_sha256,
                    desired_source = excluded.desired_source,
                    invalid_diagnostics = excluded.invalid_diagnostics, invalid_source = excluded.invalid_source,
                    invalid_at = excluded.invalid_at, reason = excluded.reason, updated_at = excluded.updated_at
                """,
            arguments: arguments
        )
        try db.execute(sql: "DELETE FROM quarantines WHERE name = ?", arguments: [state.name])
        for quarantine in state.quarantined {
            try db.execute(
                sql: """
                    INSERT INTO quarantines (name, version, content_sha256, reason, at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT DO UPDATE SET reason = excluded.reason, at = excluded.at
                    """,
                arguments: [
                    state.name, quarantine.version.description, quarantine.contentSHA256, quarantine.reason,
                    quarantine.at.timeIntervalSinceReferenceDate,
                ]
            )
        }
    }

    private static func insert(_ entry: HistoryEntry, name: String, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO history (name, time, action, version, from_version, source, content_sha256, reason)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                name, entry.time.timeIntervalSinceReferenceDate, entry.action.rawValue, entry.version,
                entry.fromVersion, entry.source, entry.contentSHA256, entry.reason,
            ]
        )
    }

    private static func version(_ text: String) throws -> SemanticVersion {
        do {
            return try SemanticVersion(parsing: text)
        } catch {
            throw StateStoreError(.corrupt, "stored version '\(text)' is not a semantic version: \(error)")
        }
    }

    private static func date(_ row: Row, _ column: String) throws -> Date? {
        try row.decode(Double?.self, forColumn: column).map(Date.init(timeIntervalSinceReferenceDate:))
    }

    private static func document(from row: Row) throws -> AppliedDocument {
        AppliedDocument(
            name: try row.decode(String.self, forColumn: "name"),
            version: try version(try row.decode(String.self, forColumn: "version")),
            contentSHA256: try row.decode(String.self, forColumn: "content_sha256"),
            yaml: try row.decode(String.self, forColumn: "yaml"),
            source: try row.decode(String?.self, forColumn: "source"),
            appliedAt: try date(row, "applied_at") ?? Date(timeIntervalSinceReferenceDate: 0)
        )
    }

    private static func quarantine(from row: Row) throws -> PersistedMapState.Quarantine {
        PersistedMapState.Quarantine(
            version: try version(try row.decode(String.self, forColumn: "version")),
            contentSHA256: try row.decode(String.self, forColumn: "content_sha256"),
            reason: try row.decode(String.self, forColumn: "reason"),
            at: try date(row, "at") ?? Date(timeIntervalSinceReferenceDate: 0)
        )
    }

    private static func mapState(from row: Row, quarantined: [PersistedMapState.Quarantine]) throws -> PersistedMapState {
        var standby: PersistedMapState.Standby?
        if let standbyVersion = try row.decode(String?.self, forColumn: "standby_version") {
            let modeText = try row.decode(String?.self, forColumn: "standby_mode") ?? ""
            guard let mode = RolloutPolicy.Standby(rawValue: modeText) else {
                throw StateStoreError(.corrupt, "stored standby mode '\(modeText)' is neither warm nor cold")
            }
            standby = PersistedMapState.Standby(version: try version(standbyVersion), mode: mode)
        }
        var invalid: PersistedMapState.InvalidDocument?
        if let json = try row.decode(String?.self, forColumn: "invalid_diagnostics") {
            let diagnostics: [Diagnostic]
            do {
                diagnostics = try JSONDecoder().decode([Diagnostic].self, from: Data(json.utf8))
            } catch {
                throw StateStoreError(.corrupt, "stored diagnostics are not valid: \(error)")
            }
            invalid = PersistedMapState.InvalidDocument(
                diagnostics: diagnostics,
                source: try row.decode(String?.self, forColumn: "invalid_source"),
                at: try date(row, "invalid_at") ?? Date(timeIntervalSinceReferenceDate: 0)
            )
        }
        return PersistedMapState(
            name: try row.decode(String.self, forColumn: "name"),
            liveVersion: try row.decode(String?.self, forColumn: "live_version").map(version),
            liveSHA256: try row.decode(String?.self, forColumn: "live_sha256"),
            standby: standby,
            windowEndsAt: try date(row, "window_ends_at"),
            desiredVersion: try row.decode(String?.self, forColumn: "desired_version").map(version),
            desiredSHA256: try row.decode(String?.self, forColumn: "desired_sha256"),
            desiredSource: try row.decode(String?.self, forColumn: "desired_source"),
            quarantined: quarantined,
            invalid: invalid,
            reason: try row.decode(String?.self, forColumn: "reason"),
            updatedAt: try date(row, "updated_at")
        )
    }

    private static func historyEntry(from row: Row) throws -> HistoryEntry {
        let actionText = try row.decode(String.self, forColumn: "action")
        guard let action = HistoryEntry.Action(rawValue: actionText) else {
            throw StateStoreError(.corrupt, "stored history action '\(actionText)' is unknown")
        }
        return HistoryEntry(
            time: try date(row, "time") ?? Date(timeIntervalSinceReferenceDate: 0),
            action: action,
            version: try row.decode(String?.self, forColumn: "version"),
            fromVersion: try row.decode(String?.self, forColumn: "from_version"),
            source: try row.decode(String?.self, forColumn: "source"),
            contentSHA256: try row.decode(String?.self, forColumn: "content_sha256"),
            reason: try row.decode(String?.self, forColumn: "reason")
        )
    }
}

// MARK: - Errors

extension StateStore {
    private func read<T>(_ what: String, _ body: (Database) throws -> T) throws(StateStoreError) -> T {
        try perform(what) { try pool.read(body) }
    }

    private func write<T>(_ what: String, _ body: (Database) throws -> T) throws(StateStoreError) -> T {
        try perform(what) { try pool.write(body) }
    }

    private func perform<T>(_ what: String, _ body: () throws -> T) throws(StateStoreError) -> T {
        do {
            return try body()
        } catch let error as StateStoreError {
            throw error
        } catch {
            throw Self.translate(error, path: path, doing: what, opening: false)
        }
    }

    private static func translate(_ error: any Error, path: String, doing what: String, opening: Bool) -> StateStoreError {
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return StateStoreError(
                    .corrupt,
                    "state database \(path) is not a valid SQLite database (\(error.message ?? "\(error.resultCode)")); "
                        + "move it aside to start afresh, or restore it from a backup"
                )
            case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY:
                return StateStoreError(.cannotOpen, "cannot open state database \(path): \(error.message ?? "\(error.resultCode)")")
            default:
                break
            }
        }
        if error is RowDecodingError {
            return StateStoreError(.corrupt, "state database \(path): cannot \(what): unexpected content: \(error)")
        }
        return StateStoreError(opening ? .cannotOpen : .io, "state database \(path): cannot \(what): \(error)")
    }
}
