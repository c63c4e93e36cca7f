import Logging
import PostgresNIO

/// The PostgreSQL schema of fleets: one migration per change, never edited once released.
///
/// `mapctl_schema_migrations` records the versions applied, as GRDB's migrator does for the SQLite store.
/// Tables are named `mapctl_*` (the database may hold other applications' tables) and every row carries its
/// fleet's name. Times are `timestamptz`; counters `bigint`.
enum FleetSchema {
    struct Migration: Sendable {
        let version: Int64
        let description: String
        let statements: [String]
    }

    /// Advisory lock spaces (the first key of `pg_advisory_lock(int4, int4)`): "mapc" then one byte each.
    enum LockSpace: Int32 {
        case migrations = 0x6d61_7001
        case leadership = 0x6d61_7002
        case mapRow = 0x6d61_7003
    }

    /// A stable 31-bit key for a name (FNV-1a, non-negative so that it reads the same in `pg_locks.objid`).
    static func lockKey(_ text: String) -> Int32 {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int32(bitPattern: hash & 0x7fff_ffff)
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1,
            description: "fleet documents, maps, quarantines, history, samples, checks, replicas, leaders; state store tables",
            statements: fleetTables + stateTables
        )
    ]

    static var latestVersion: Int64 { migrations.last?.version ?? 0 }

    private static let fleetTables = [
        """
        CREATE TABLE mapctl_fleet_documents (
            fleet text NOT NULL,
            name text NOT NULL,
            version text NOT NULL,
            content_sha256 text NOT NULL,
            yaml text NOT NULL,
            source text,
            replica text NOT NULL,
            applied_at timestamptz NOT NULL,
            id bigserial NOT NULL,
            PRIMARY KEY (fleet, name, version)
        )
        """,
        """
        CREATE TABLE mapctl_fleet_maps (
            fleet text NOT NULL,
            name text NOT NULL,
            desired_version text,
            desired_sha256 text,
            live_version text,
            live_sha256 text,
            standby_version text,
            standby_sha256 text,
            window_started_at timestamptz,
            window_ends_at timestamptz,
            phase text NOT NULL CHECK (phase IN ('stable', 'rolling_out', 'rolled_back')),
            reason text,
            revision bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (fleet, name)
        )
        """,
        """
        CREATE TABLE mapctl_fleet_quarantines (
            fleet text NOT NULL,
            name text NOT NULL,
            version text NOT NULL,
            content_sha256 text NOT NULL,
            reason text NOT NULL,
            at timestamptz NOT NULL,
            replica text NOT NULL,
            ordinal bigint NOT NULL,
            PRIMARY KEY (fleet, name, version, content_sha256),
            FOREIGN KEY (fleet, name) REFERENCES mapctl_fleet_maps (fleet, name) ON DELETE CASCADE
        )
        """,
        """
        CREATE TABLE mapctl_fleet_history (
            id bigserial PRIMARY KEY,
            fleet text NOT NULL,
            name text NOT NULL,
            occurred_at timestamptz NOT NULL,
            action text NOT NULL,
            version text,
            from_version text,
            source text,
            content_sha256 text,
            reason text,
            replica text NOT NULL
        )
        """,
        "CREATE INDEX mapctl_fleet_history_by_map ON mapctl_fleet_history (fleet, name, id)",
        """
        CREATE TABLE mapctl_fleet_samples (
            fleet text NOT NULL,
            name text NOT NULL,
            version text NOT NULL,
            window_start timestamptz NOT NULL,
            interval_index bigint NOT NULL,
            replica text NOT NULL,
            ops bigint NOT NULL,
            errors bigint NOT NULL,
            faults bigint NOT NULL,
            latency_buckets bigint[] NOT NULL,
            published_at timestamptz NOT NULL,
            PRIMARY KEY (fleet, name, version, window_start, interval_index, replica)
        )
        """,
        """
        CREATE TABLE mapctl_fleet_checks (
            fleet text NOT NULL,
            name text NOT NULL,
            version text NOT NULL,
            window_start timestamptz NOT NULL,
            interval_index bigint NOT NULL,
            result text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (fleet, name, version, window_start, interval_index)
        )
        """,
        """
        CREATE TABLE mapctl_fleet_replicas (
            fleet text NOT NULL,
            replica text NOT NULL,
            maps jsonb NOT NULL,
            last_seen timestamptz NOT NULL,
            PRIMARY KEY (fleet, replica)
        )
        """,
        """
        CREATE TABLE mapctl_fleet_leaders (
            fleet text PRIMARY KEY,
            replica text NOT NULL,
            backend_pid integer NOT NULL,
            since timestamptz NOT NULL
        )
        """,
    ]

    /// ``PostgresStateStore``'s tables: the SQLite store's documents, maps, quarantines and history, per fleet.
    private static let stateTables = [
        """
        CREATE TABLE mapctl_state_documents (
            fleet text NOT NULL,
            name text NOT NULL,
            version text NOT NULL,
            content_sha256 text NOT NULL,
            yaml text NOT NULL,
            source text,
            applied_at timestamptz NOT NULL,
            id bigserial NOT NULL,
            PRIMARY KEY (fleet, name, version)
        )
        """,
        """
        CREATE TABLE mapctl_state_maps (
            fleet text NOT NULL,
            name text NOT NULL,
            live_version text,
            live_sha256 text,
            standby_version text,
            standby_mode text CHECK (standby_mode IN ('warm', 'cold')),
            window_ends_at timestamptz,
            desired_version text,
            desired_sha256 text,
            desired_source text,
            invalid_diagnostics text,
            invalid_source text,
            invalid_at timestamptz,
            reason text,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (fleet, name),
            CHECK ((standby_version IS NULL) = (standby_mode IS NULL)),
            CHECK ((invalid_diagnostics IS NULL) = (invalid_at IS NULL))
        )
        """,
        """
        CREATE TABLE mapctl_state_quarantines (
            fleet text NOT NULL,
            name text NOT NULL,
            version text NOT NULL,
            content_sha256 text NOT NULL,
            reason text NOT NULL,
            at timestamptz NOT NULL,
            ordinal bigint NOT NULL,
            PRIMARY KEY (fleet, name, version, content_sha256),
            FOREIGN KEY (fleet, name) REFERENCES mapctl_state_maps (fleet, name) ON DELETE CASCADE
        )
        """,
        """
        CREATE TABLE mapctl_state_history (
            id bigserial PRIMARY KEY,
            fleet text NOT NULL,
            name text NOT NULL,
            occurred_at timestamptz NOT NULL,
            action text NOT NULL,
            version text,
            from_version text,
            source text,
            content_sha256 text,
            reason text,
            replica text
        )
        """,
        "CREATE INDEX mapctl_state_history_by_map ON mapctl_state_history (fleet, name, id)",
    ]
}

extension FleetStore {
    /// Brings the fleet tables to this mapctl's schema version, in one transaction.
    ///
    /// Safe when several replicas migrate at once: the transaction takes an advisory lock first, so the others
    /// wait and then find the tables there.
    ///
    /// - Throws: ``FleetError/Code/newerSchema`` when the database was migrated by a newer mapctl.
    public func migrate() async throws(FleetError) {
        try await perform("migrate the fleet tables") { [client, logger, location] in
            try await client.withConnection { connection in
                try await Self.transaction(connection, logger: logger) {
                    try await Self.migrate(connection, logger: logger, location: location)
                }
            }
        }
    }

    /// The schema version the database is at (0 before the first migration).
    public func schemaVersion() async throws(FleetError) -> Int64 {
        try await perform("read the schema version") { [client, logger] in
            let rows = try await client.query("SELECT to_regclass('mapctl_schema_migrations') IS NOT NULL", logger: logger)
            var exists = false
            for try await (value) in rows.decode(Bool.self) { exists = value }
            guard exists else { return 0 }
            let versions = try await client.query("SELECT coalesce(max(version), 0)::bigint FROM mapctl_schema_migrations", logger: logger)
            for try await (version) in versions.decode(Int64.self) { return version }
            return 0
        }
    }

    private static func migrate(_ connection: PostgresConnection, logger: Logger, location: FleetLocation) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(FleetSchema.LockSpace.migrations.rawValue), 0)", logger: logger)
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS mapctl_schema_migrations (
                version bigint PRIMARY KEY,
                description text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        var applied: Int64 = 0
        let rows = try await connection.query("SELECT coalesce(max(version), 0)::bigint FROM mapctl_schema_migrations", logger: logger)
        for try await (version) in rows.decode(Int64.self) { applied = version }
        guard applied <= FleetSchema.latestVersion else {
            throw FleetError(
                .newerSchema,
                "the fleet database at \(location) is at schema version \(applied), written by a newer mapctl "
                    + "(this one knows up to \(FleetSchema.latestVersion)); run that version"
            )
        }
        for migration in FleetSchema.migrations where migration.version > applied {
            logger.info("fleet database: applying migration \(migration.version): \(migration.description)")
            for statement in migration.statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.query(
                "INSERT INTO mapctl_schema_migrations (version, description) VALUES (\(migration.version), \(migration.description))",
                logger: logger
            )
        }
    }
}
