import Foundation
import Logging
import PostgresNIO

extension FleetStore {
    /// Tries to become (or checks that this process still is) the fleet's leader.
    ///
    /// Leadership is a session-level advisory lock, `pg_try_advisory_lock`, on a key derived from the fleet name,
    /// held on a dedicated connection: PostgreSQL releases it when that connection drops, so a dead leader
    /// loses it without anyone's help. Each call checks the connection with a cheap query; when it dropped, the
    /// call returns false and a later call connects again and tries again.
    ///
    /// - Returns: True while this process holds the lock.
    /// - Throws: ``FleetError/Code/unavailable`` when the database cannot be reached (not leader then).
    public func tryLead(replica: String) async throws(FleetError) -> Bool {
        try await leadership.tryLead(replica: replica)
    }

    /// Gives leadership up (the lock is released with the connection). Does nothing when not leader.
    public func resign() async {
        await leadership.close()
    }

    /// The replica id of the fleet's leader: the replica that recorded itself and whose session holds the lock.
    public func leader() async throws(FleetError) -> String? {
        try await perform("read the fleet's leader") { [client, logger, fleet] in
            let key = FleetSchema.lockKey(fleet)
            let rows = try await client.query(
                """
                SELECT l.replica FROM mapctl_fleet_leaders l
                JOIN pg_locks k ON k.pid = l.backend_pid AND k.locktype = 'advisory' AND k.granted
                    AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    AND k.classid::bigint = \(Int64(FleetSchema.LockSpace.leadership.rawValue))
                    AND k.objid::bigint = \(Int64(key)) AND k.objsubid = 2
                WHERE l.fleet = \(fleet)
                """,
                logger: logger
            )
            for try await (replica) in rows.decode(String.self) { return replica }
            return nil
        }
    }
}

/// The leadership lock's connection. Calls take turns (an actor, plus a turn flag across its suspension points).
actor LeadershipSession {
    private let location: FleetLocation
    private let fleet: String
    private let logger: Logger
    private let timeout: Duration
    private var connection: PostgresConnection?
    private var holding = false
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var connections = 0

    init(location: FleetLocation, fleet: String, logger: Logger, timeout: Duration) {
        self.location = location
        self.fleet = fleet
        self.logger = logger
        self.timeout = timeout
    }

    func tryLead(replica: String) async throws(FleetError) -> Bool {
        await takeTurn()
        defer { endTurn() }
        if let connection, holding {
            if !connection.isClosed, await alive(connection) { return true }
            logger.warning("fleet '\(fleet)': the leadership connection dropped; leadership is lost")
            await drop()
            return false
        }
        let connection: PostgresConnection
        if let existing = self.connection, !existing.isClosed {
            connection = existing
        } else {
            await drop()
            connections += 1
            connection = try await FleetStore.connect(
                location,
                applicationName: "\(FleetStore.applicationName) lead \(fleet)",
                logger: logger,
                id: connections
            )
            self.connection = connection
        }
        do {
            let acquired = try await withWatchdog(connection) { [fleet, logger] in
                let key = FleetSchema.lockKey(fleet)
                let rows = try await connection.query(
                    "SELECT pg_try_advisory_lock(\(FleetSchema.LockSpace.leadership.rawValue), \(key))",
                    logger: logger
                )
                var acquired = false
                for try await (value) in rows.decode(Bool.self) { acquired = value }
                guard acquired else { return false }
                try await connection.query(
                    """
                    INSERT INTO mapctl_fleet_leaders (fleet, replica, backend_pid, since)
                    VALUES (\(fleet), \(replica), pg_backend_pid(), now())
                    ON CONFLICT (fleet) DO UPDATE SET replica = excluded.replica, backend_pid = excluded.backend_pid,
                        since = excluded.since
                    """,
                    logger: logger
                )
                return true
            }
            holding = acquired
            if acquired { logger.info("fleet '\(fleet)': replica \(replica) is the leader") }
            return acquired
        } catch {
            await drop()
            throw FleetStore.translate(error, location: location, doing: "take the fleet's leadership")
        }
    }

    /// Closes the connection (releasing the lock when held).
    func close() async {
        await takeTurn()
        defer { endTurn() }
        if holding, let connection, !connection.isClosed {
            let fleet = self.fleet
            let logger = self.logger
            // Unlock explicitly: closing the connection releases the lock too, but only once the server has
            // noticed, and a successor trying right after resign() should find it free.
            _ = try? await withWatchdog(connection) {
                try await connection.query(
                    "DELETE FROM mapctl_fleet_leaders WHERE fleet = \(fleet) AND backend_pid = pg_backend_pid()",
                    logger: logger
                )
                try await connection.query(
                    "SELECT pg_advisory_unlock(\(FleetSchema.LockSpace.leadership.rawValue), \(FleetSchema.lockKey(fleet)))",
                    logger: logger
                )
            }
            logger.info("fleet '\(fleet)': resigned the leadership")
        }
        await drop()
    }

    private func drop() async {
        holding = false
        guard let connection else { return }
        self.connection = nil
        try? await connection.close()
    }

    /// A cheap query within the timeout: false when the connection no longer answers.
    private func alive(_ connection: PostgresConnection) async -> Bool {
        let logger = self.logger
        do {
            return try await withWatchdog(connection) {
                try await connection.query("SELECT 1", logger: logger).collect().count == 1
            }
        } catch {
            return false
        }
    }

    /// Runs `body`; when it has not finished within the timeout the connection is closed, which fails it.
    private func withWatchdog<T: Sendable>(
        _ connection: PostgresConnection,
        _ body: @Sendable () async throws -> T
    ) async throws -> T {
        let timeout = self.timeout
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            try? await connection.close()
        }
        defer { watchdog.cancel() }
        return try await body()
    }

    private func takeTurn() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func endTurn() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
