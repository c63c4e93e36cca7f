import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A real PostgreSQL server for a test: `initdb` into a temporary directory, `pg_ctl start` with its Unix
/// socket in that directory (and, when asked, a loopback TCP port), one database created. Call ``stop()`` at
/// the end; ``kill()`` and ``start()`` make an outage in between.
///
/// PostgreSQL refuses to run as root: when the tests run as root, the server runs as the `postgres` system
/// user (through `runuser`, else `setpriv`), which owns the directory. Authentication is `trust`.
///
/// ```swift
/// let postgres = try await ThrowawayPostgres()
/// defer { postgres.stop() }
/// // connect to postgres.url: postgresql://postgres@/mapctl?host=/tmp/pg-…&port=…
/// ```
public final class ThrowawayPostgres: Sendable {
    /// The directory holding `data/`, the socket and `postgres.log`.
    public let directory: URL
    /// The port (it also names the socket, `DIR/.s.PGSQL.PORT`).
    public let port: Int
    public let database: String
    /// The database superuser the URLs name.
    public let user: String
    /// True when the server also listens on 127.0.0.1:``port``.
    public let listensOnTCP: Bool
    private let binaries: String
    private let runAs: [String]
    private let stopped = Mutex(false)

    /// `postgresql://USER@/DB?host=DIR&port=PORT`: the Unix socket.
    public var url: String { "postgresql://\(user)@/\(database)?host=\(directory.path)&port=\(port)" }
    /// `postgres://USER@127.0.0.1:PORT/DB?sslmode=disable` when the server listens on TCP.
    public var tcpURL: String? { listensOnTCP ? "postgres://\(user)@127.0.0.1:\(port)/\(database)?sslmode=disable" : nil }

    /// The directory of `initdb`, `pg_ctl` and `psql`: `PATH` first, then the newest `/usr/lib/postgresql/*/bin`.
    public static var binDirectory: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) where hasTools(directory) {
            return URL(fileURLWithPath: directory).appendingPathComponent("initdb").resolvingSymlinksInPath().deletingLastPathComponent()
                .path
        }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) where hasTools("\(root)/\(version)/bin") {
            return "\(root)/\(version)/bin"
        }
        return nil
    }

    private static func hasTools(_ directory: String) -> Bool {
        ["initdb", "pg_ctl", "psql"].allSatisfy { FileManager.default.isExecutableFile(atPath: "\(directory)/\($0)") }
    }

    /// True when PostgreSQL is installed and can be run here (for `.enabled(if:)`).
    public static var isAvailable: Bool {
        guard binDirectory != nil else { return false }
        return geteuid() != 0 || (getpwnam("postgres") != nil && dropPrivileges() != nil)
    }

    /// How to run a command as `postgres` when we are root.
    private static func dropPrivileges() -> [String]? {
        for candidate in ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return [candidate, "-u", "postgres", "--"]
        }
        for candidate in ["/usr/bin/setpriv", "/bin/setpriv"] where FileManager.default.isExecutableFile(atPath: candidate) {
            return [candidate, "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        }
        return nil
    }

    /// Makes the cluster, starts it and creates `database`.
    ///
    /// - Parameters:
    ///   - database: The database the URLs name.
    ///   - tcp: Also listen on 127.0.0.1 (the port is picked free).
    public init(database: String = "mapctl", tcp: Bool = false) async throws {
        guard let binaries = Self.binDirectory else { throw Failure("PostgreSQL (initdb, pg_ctl, psql) is not installed") }
        self.binaries = binaries
        self.database = database
        self.listensOnTCP = tcp
        let root = geteuid() == 0
        if root {
            guard let entry = getpwnam("postgres"), let drop = Self.dropPrivileges() else {
                throw Failure("running as root needs the postgres system user and runuser or setpriv")
            }
            runAs = drop
            user = "postgres"
            // /tmp, not $TMPDIR: the postgres user must reach it, and a socket path must stay under 108 bytes.
            directory = URL(fileURLWithPath: "/tmp/pg-\(UUID().uuidString.prefix(8).lowercased())")
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            guard chown(directory.path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
                throw Failure("cannot give \(directory.path) to the postgres user: errno \(errno)")
            }
        } else {
            runAs = []
            user = ProcessInfo.processInfo.environment["USER"] ?? "postgres"
            directory = URL(fileURLWithPath: "/tmp/pg-\(UUID().uuidString.prefix(8).lowercased())")
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        }
        port = try LoopbackHTTP.freePort()
        do {
            try await runDetached(
                "initdb",
                ["-D", dataDirectory, "-U", user, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]
            )
            try await runDetached("pg_ctl", startArguments)
            try await runDetached("psql", psqlArguments("CREATE DATABASE \"\(database)\"", database: "postgres"))
        } catch {
            let log = self.log
            stop()
            throw Failure("\(error)\n\(log.suffix(2000))")
        }
    }

    deinit { stop() }

    private var dataDirectory: String { directory.appendingPathComponent("data").path }

    /// Starts the server (again, after ``kill()``), waiting until it accepts connections.
    public func start() throws {
        try run("pg_ctl", startArguments)
    }

    private var startArguments: [String] {
        let listen = listensOnTCP ? "127.0.0.1" : "''"
        let options = [
            "-k \(directory.path)", "-p \(port)", "-c listen_addresses=\(listen)", "-c max_connections=200",
            // fsync off: a test's outage kills the server, not the machine, so what it wrote to the OS survives.
            // synchronous_commit stays on: off, a commit is acknowledged before its WAL is written, and an
            // immediate stop (a test's outage) loses what the daemons were told was stored.
            "-c fsync=off", "-c full_page_writes=off",
        ]
        return [
            "start", "-w", "-t", "60", "-D", dataDirectory, "-l", directory.appendingPathComponent("postgres.log").path, "-o",
            options.joined(separator: " "),
        ]
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`, as a crash would), keeping its data for ``start()``.
    public func kill() throws {
        try run("pg_ctl", ["stop", "-w", "-m", "immediate", "-D", dataDirectory])
    }

    /// Stops the server (`pg_ctl stop -m fast`, then immediate) and removes its directory. Safe to call twice.
    public func stop() {
        let already = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !already else { return }
        if (try? run("pg_ctl", ["stop", "-w", "-t", "20", "-m", "fast", "-D", dataDirectory])) == nil {
            _ = try? run("pg_ctl", ["stop", "-w", "-m", "immediate", "-D", dataDirectory])
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `sql` through `psql` on the socket and returns its unaligned, tuples-only output (`-At`).
    @discardableResult
    public func psql(_ sql: String, database: String? = nil) throws -> String {
        try run("psql", psqlArguments(sql, database: database))
    }

    private func psqlArguments(_ sql: String, database: String?) -> [String] {
        [
            "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", directory.path, "-p", "\(port)", "-U", user, "-d", database ?? self.database, "-c",
            sql,
        ]
    }

    /// Terminates every other session whose `application_name` is `applicationName` (the default `mapctl`);
    /// returns how many.
    @discardableResult
    public func terminateSessions(applicationName: String = "mapctl") throws -> Int {
        let output = try psql(
            """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE application_name = '\(applicationName.replacingOccurrences(of: "'", with: "''"))' AND pid <> pg_backend_pid()
            """
        )
        return Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Creates another database on the server and returns its socket URL.
    public func createDatabase(_ name: String) throws -> String {
        try psql("CREATE DATABASE \"\(name)\"", database: "postgres")
        return "postgresql://\(user)@/\(name)?host=\(directory.path)&port=\(port)"
    }

    // MARK: One server per test process

    private static let sharedServer = Mutex<Task<ThrowawayPostgres, any Error>?>(nil)
    private static let sharedStarted = Mutex<ThrowawayPostgres?>(nil)

    /// One server for the whole test process, started on first use and stopped when the process exits: `initdb`
    /// takes seconds, so tests that neither stop nor break the server share it (each in its own fleet name or
    /// database). Tests that make outages start their own.
    public static func shared() async throws -> ThrowawayPostgres {
        let task = sharedServer.withLock { task in
            if let task { return task }
            let started = Task { () async throws -> ThrowawayPostgres in
                let server = try await ThrowawayPostgres()
                sharedStarted.withLock { $0 = server }
                atexit { ThrowawayPostgres.stopShared() }
                return server
            }
            task = started
            return started
        }
        return try await task.value
    }

    private static func stopShared() {
        let server = sharedStarted.withLock { server in
            defer { server = nil }
            return server
        }
        server?.stop()
    }

    /// The server's log so far, for failure messages.
    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("postgres.log"), encoding: .utf8)) ?? ""
    }

    /// Runs a PostgreSQL tool (as `postgres` when we are root) and returns its standard output.
    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        try Self.check(tool, arguments, ToolRun.run(command(tool, arguments), in: directory.path))
    }

    /// ``run(_:_:)`` off the concurrency pool's threads.
    @discardableResult
    private func runDetached(_ tool: String, _ arguments: [String]) async throws -> String {
        try Self.check(tool, arguments, await ToolRun.runDetached(command(tool, arguments), in: directory.path))
    }

    private func command(_ tool: String, _ arguments: [String]) -> [String] {
        runAs + ["\(binaries)/\(tool)"] + arguments
    }

    private static func check(_ tool: String, _ arguments: [String], _ outcome: ToolRun.Outcome) throws -> String {
        guard outcome.status == 0 else {
            throw Failure(
                "\(tool) \(arguments.joined(separator: " ")) failed (status \(outcome.status)): \(outcome.errors)\(outcome.output)")
        }
        return outcome.output
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }
}
