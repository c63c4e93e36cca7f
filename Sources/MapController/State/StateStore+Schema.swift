import GRDB

extension StateStore {
    /// The state database's own schema, one migration per change, never edited once released.
    ///
    /// Tables are STRICT (SQLite 3.37+), so a value of the wrong type is refused
    /// on write instead of surfacing as a puzzle on read. Times are REAL seconds
    /// since 2001-01-01 UTC (Foundation's reference date): a `Date` round-trips
    /// exactly.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: documents, maps, quarantines, history, runs, meta") { db in
            try db.execute(
                sql: """
                    CREATE TABLE documents (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL,
                        version TEXT NOT NULL,
                        content_sha256 TEXT NOT NULL,
                        yaml TEXT NOT NULL,
                        source TEXT,
                        applied_at REAL NOT NULL,
                        UNIQUE (name, version)
                    ) STRICT;

                    CREATE TABLE maps (
                        name TEXT PRIMARY KEY NOT NULL,
                        live_version TEXT,
                        live_sha256 TEXT,
                        standby_version TEXT,
                        standby_mode TEXT CHECK (standby_mode IN ('warm', 'cold')),
                        window_ends_at REAL,
                        desired_version TEXT,
                        desired_sha256 TEXT,
                        desired_source TEXT,
                        invalid_diagnostics TEXT,
                        invalid_source TEXT,
                        invalid_at REAL,
                        reason TEXT,
                        updated_at REAL NOT NULL,
                        CHECK ((standby_version IS NULL) = (standby_mode IS NULL)),
                        CHECK ((invalid_diagnostics IS NULL) = (invalid_at IS NULL))
                    ) STRICT;

                    CREATE TABLE quarantines (
                        name TEXT NOT NULL REFERENCES maps(name) ON DELETE CASCADE,
                        version TEXT NOT NULL,
                        content_sha256 TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        at REAL NOT NULL,
                        PRIMARY KEY (name, version, content_sha256)
                    ) STRICT;

                    CREATE TABLE history (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL,
                        time REAL NOT NULL,
                        action TEXT NOT NULL,
                        version TEXT,
                        from_version TEXT,
                        source TEXT,
                        content_sha256 TEXT,
                        reason TEXT
                    ) STRICT;
                    CREATE INDEX history_by_name ON history (name, id);

                    CREATE TABLE runs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        started_at REAL NOT NULL,
                        ended_at REAL,
                        pid INTEGER NOT NULL
                    ) STRICT;

                    CREATE TABLE meta (
                        key TEXT PRIMARY KEY NOT NULL,
                        value TEXT NOT NULL
                    ) STRICT;
                    """
            )
        }
        return migrator
    }
}
