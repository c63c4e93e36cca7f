import Foundation
import Synchronization
import TestServers
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `mapctl watch --resp` driven by the real Redis clients, `redis-cli` and `redis-benchmark`
/// (Debian `redis-tools`); skipped, visibly, where they are not installed.
@Suite(
    "RESP end to end", .heavy,
    .enabled(if: RESPClient.isInstalled, "redis-cli and redis-benchmark are not installed (apt-get install redis-tools)")
)
struct RESPEndToEndTests {
    static let userCache = """
        name: user_cache
        version: 1.0.0
        key_type: string
        value_type: User
        fields:
          id: string
          name: string
          age: int64?
        """

    @Test("redis-cli SET, GET and DEL of a record value; a refused value; a missing map")
    func recordValues() async throws {
        let daemon = try await RESPDaemon.start(schemas: ["user_cache.yaml": Self.userCache])
        defer { daemon.stop() }
        let client = daemon.client
        let user = #"{"id":"u1","name":"Ada","age":36}"#
        #expect(try await client.run(["SET", "user_cache:u1", user]).stdout == "OK\n")
        let stored = try await client.run(["GET", "user_cache:u1"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let object = try JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any]
        #expect(object?["id"] as? String == "u1")
        #expect(object?["name"] as? String == "Ada")
        #expect(object?["age"] as? Int == 36)
        #expect(try await client.run(["DEL", "user_cache:u1"]).stdout == "1\n")
        #expect(try await client.run(["GET", "user_cache:u1"]).stdout == "\n")

        let refused = try await client.run(["SET", "user_cache:u2", #"{"id":"u2"}"#])
        #expect(refused.stdout.hasPrefix("ERR bad_value "), "\(refused)")
        #expect(refused.stdout.contains("name"), "the error names the missing field: \(refused)")

        let missing = try await client.run(["GET", "no_such_map:u1"])
        #expect(missing.stdout.hasPrefix("ERR map_not_found no such map 'no_such_map'"), "\(missing)")

        let scan = try await client.run(["--scan", "--pattern", "user_cache:*"])
        #expect(scan.exitCode == 0)
        let hello = try await client.run(["-3", "HELLO", "3"])
        #expect(hello.stdout.contains("proto"), "\(hello)")
    }

    @Test("An open breaker answers -BUSY with the retry time; reads go on")
    func breakerOpen() async throws {
        let schema = """
            name: hot
            version: 1.0.0
            key_type: string
            value_type: string
            circuit_breaker:
              open_after_faults: 3
              window: 1m
              cooldown: 1m
            fault_injection:
              fault_rate: 1.0
            """
        let daemon = try await RESPDaemon.start(schemas: ["hot.yaml": schema], arguments: ["--enable-fault-injection"])
        defer { daemon.stop() }
        // Every operation faults; after three the breaker opens and writes are refused.
        let commands = (0..<20).map { "SET hot:k\($0) v\n" }.joined()
        let result = try await daemon.client.run([], stdin: commands)
        let busy = result.stdout.split(separator: "\n").filter { $0.hasPrefix("BUSY") }
        #expect(!busy.isEmpty, "\(result)")
        #expect(busy.first?.hasPrefix("BUSY breaker open, retry after ") == true)
        #expect(busy.first?.contains("s (map 'hot')") == true)
        let read = try await daemon.client.run(["GET", "hot:k0"])
        #expect(!read.stdout.hasPrefix("BUSY"), "reads go on while the breaker is open: \(read)")
    }

    @Test("Off loopback every command needs AUTH with the token first")
    func authOffLoopback() async throws {
        guard let address = RESPDaemon.nonLoopbackAddress() else {
            // No such address here: RESPHandlerTests covers the rule on an EmbeddedChannel.
            return
        }
        let daemon = try await RESPDaemon.start(schemas: ["user_cache.yaml": Self.userCache], respHost: address)
        defer { daemon.stop() }
        #expect(daemon.host == address)
        let refused = try await daemon.client.run(["GET", "user_cache:u1"])
        #expect(refused.stdout.hasPrefix("NOAUTH"), "\(refused)")
        let token = try daemon.daemon.layout.token()
        let wrong = try await daemon.client.run(["--no-auth-warning", "-a", "not-the-token", "PING"])
        #expect(wrong.stdout.contains("WRONGPASS") || wrong.stderr.contains("WRONGPASS"), "\(wrong)")
        let accepted = try await daemon.client.run(["--no-auth-warning", "-a", token, "PING"])
        #expect(accepted.stdout == "PONG\n", "\(accepted)")
        let withUser = try await daemon.client.run([
            "--no-auth-warning", "--user", "default", "--pass", token, "SET", "user_cache:u1", #"{"id":"u1","name":"Ada"}"#,
        ])
        #expect(withUser.stdout == "OK\n", "\(withUser)")
    }

    @Test("redis-benchmark -t get,set -P 16 against a string map named key finishes with no errors")
    func redisBenchmark() async throws {
        let schema = "name: key\nversion: 1.0.0\nkey_type: string\nvalue_type: string\n"
        let daemon = try await RESPDaemon.start(schemas: ["key.yaml": schema])
        defer { daemon.stop() }
        let result = try await RESPClient.run(
            "redis-benchmark",
            ["-h", daemon.host, "-p", String(daemon.port), "-t", "get,set", "-P", "16", "-n", "20000", "-r", "1000", "--csv"],
            timeout: .seconds(300)
        )
        #expect(result.exitCode == 0, "\(result)")
        #expect(!result.stderr.lowercased().contains("error"), "\(result)")
        #expect(!result.stdout.lowercased().contains("error"), "\(result)")
        #expect(result.stdout.contains("\"SET\""), "\(result)")
        #expect(result.stdout.contains("\"GET\""), "\(result)")
        let size = try await daemon.client.run(["DBSIZE"])
        #expect((Int(size.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0, "\(size)")
    }

    @Test("SIGTERM with RESP clients connected shuts down cleanly: the connections are closed, exit 0")
    func cleanShutdown() async throws {
        let schema = "name: names\nversion: 1.0.0\nkey_type: string\nvalue_type: string\n"
        let daemon = try await RESPDaemon.start(schemas: ["names.yaml": schema])
        defer { daemon.layout.remove() }
        #expect(try await daemon.client.run(["SET", "names:kept", "across the restart"]).stdout == "OK\n")
        // A client that stays connected, its last command answered.
        let port = daemon.port
        let connection = Task {
            try await onOwnThread { () throws -> [UInt8] in
                let fd = try RawSocket.connect(port: port, timeoutSeconds: 60)
                defer { close(fd) }
                try RawSocket.sendAll(fd, Array("PING\r\n".utf8))
                return RawSocket.readToEnd(fd)  // until the daemon closes the connection
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        let stopped = try await daemon.daemon.stop(signal: SIGTERM, timeout: .seconds(60))
        #expect(stopped.exitCode == 0, "\(stopped)")
        #expect(stopped.stderr.contains("shut down cleanly"), "\(stopped.stderr)")
        #expect(String(decoding: try await connection.value, as: UTF8.self) == "+PONG\r\n")

        // The contents were saved at shutdown and come back over RESP.
        let restarted = try await RESPDaemon.start(layout: daemon.layout, maps: ["names"])
        defer { restarted.stop() }
        #expect(try await restarted.client.run(["GET", "names:kept"]).stdout == "across the restart\n")
    }

    @Test("Past --resp-max-connections a new client reads '-ERR max number of clients reached' and is closed; the others go on")
    func connectionCap() async throws {
        let schema = "name: names\nversion: 1.0.0\nkey_type: string\nvalue_type: string\n"
        let daemon = try await RESPDaemon.start(schemas: ["names.yaml": schema], arguments: ["--resp-max-connections", "2"])
        defer { daemon.stop() }
        let port = daemon.port
        let (held, refused, after) = try await onOwnThread { () throws -> ([String], String, String) in
            // Two clients hold the two slots, each answered.
            var fds: [Int32] = []
            defer { for fd in fds { close(fd) } }
            var held: [String] = []
            for _ in 0..<2 {
                let fd = try RawSocket.connect(port: port, timeoutSeconds: 30)
                fds.append(fd)
                try RawSocket.sendAll(fd, Array("PING\r\n".utf8))
                var reply = [UInt8](repeating: 0, count: 64)
                let count = recv(fd, &reply, reply.count, 0)
                held.append(String(decoding: reply.prefix(max(0, count)), as: UTF8.self))
            }
            // The third is refused and closed without sending anything.
            let third = try RawSocket.connect(port: port, timeoutSeconds: 30)
            defer { close(third) }
            let refused = String(decoding: RawSocket.readToEnd(third), as: UTF8.self)
            // A held slot still serves.
            try RawSocket.sendAll(fds[0], Array("PING\r\n".utf8))
            var reply = [UInt8](repeating: 0, count: 64)
            let count = recv(fds[0], &reply, reply.count, 0)
            return (held, refused, String(decoding: reply.prefix(max(0, count)), as: UTF8.self))
        }
        #expect(held == ["+PONG\r\n", "+PONG\r\n"])
        #expect(refused == "-ERR max number of clients reached\r\n")
        #expect(after == "+PONG\r\n")
        // Once the held clients are gone, a new one is served.
        var served = false
        for _ in 0..<100 where !served {
            served = (try? await daemon.client.run(["PING"]).stdout) == "PONG\n"
            if !served { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(served, "slots are given back when clients close")
        let log = daemon.daemon.process.stdoutSoFar() + daemon.daemon.process.stderrSoFar()
        #expect(log.contains("RESP connection refused"), "the refusal is logged: \(log)")
    }

    @Test("No acknowledged SET is lost across a rebuild to a new version")
    func noAcknowledgedSetLost() async throws {
        func schema(_ version: String, shards: Int) -> String {
            "name: names\nversion: \(version)\nkey_type: string\nvalue_type: string\nshards: \(shards)\nrollback_window: 1m\n"
        }
        let daemon = try await RESPDaemon.start(schemas: ["names.yaml": schema("1.0.0", shards: 64)])
        defer { daemon.stop() }
        let stop = StopFlag()
        let acknowledged = AcknowledgedKeys()
        // A writer: batches of SETs through redis-cli, each key once, until told to stop.
        let writer = Task {
            var batch = 0
            while !stop.isSet {
                let keys = (0..<300).map { "b\(batch)-\($0)" }
                let result = try await daemon.client.run([], stdin: keys.map { "SET names:\($0) value-\($0)\n" }.joined())
                let replies = result.stdout.split(separator: "\n", omittingEmptySubsequences: true)
                for (key, reply) in zip(keys, replies) where reply == "OK" {
                    acknowledged.add(key)
                }
                batch += 1
            }
        }
        try await acknowledged.wait(atLeast: 300)
        try daemon.daemon.layout.writeSchema("names.yaml", schema("1.1.0", shards: 16))
        let session = Session(cli: daemon.cli, daemon: daemon.daemon)
        _ = try await session.waitForStatus("names") { ($0["live_version"] as? String) == "1.1.0" }
        // Writes go on after the switch, then stop.
        let afterSwitch = acknowledged.count + 300
        try await acknowledged.wait(atLeast: afterSwitch)
        stop.set()
        try await writer.value

        let keys = acknowledged.all
        #expect(keys.count >= afterSwitch)
        var missing: [String] = []
        for chunk in stride(from: 0, to: keys.count, by: 500).map({ Array(keys[$0..<min($0 + 500, keys.count)]) }) {
            let result = try await daemon.client.run(["MGET"] + chunk.map { "names:\($0)" })
            let values = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for (index, key) in chunk.enumerated() where index >= values.count || values[index] != "value-\(key)" {
                missing.append(key)
            }
        }
        #expect(missing.isEmpty, "\(missing.count) of \(keys.count) acknowledged SETs lost, e.g. \(missing.prefix(5))")
    }
}

/// A daemon started with `--resp HOST:0`, and the address its RESP listener printed.
struct RESPDaemon: Sendable {
    let cli: CLIRunner
    let daemon: DaemonProcess
    let host: String
    let port: Int

    var client: RESPClient { RESPClient(host: host, port: port) }
    var layout: DaemonProcess.Layout { daemon.layout }

    static func start(schemas: [String: String], arguments: [String] = [], respHost: String = "127.0.0.1") async throws -> RESPDaemon {
        let layout = try DaemonProcess.Layout.make()
        for (name, yaml) in schemas { try layout.writeSchema(name, yaml) }
        return try await start(
            layout: layout, maps: schemas.keys.map { String($0.prefix { $0 != "." }) }, arguments: arguments, respHost: respHost)
    }

    /// Starts on `layout` (a restart when it holds state) and waits for `maps` to be live.
    static func start(layout: DaemonProcess.Layout, maps: [String], arguments: [String] = [], respHost: String = "127.0.0.1") async throws
        -> RESPDaemon
    {
        let cli = try CLIRunner()
        let daemon = try await DaemonProcess.start(cli, layout: layout, arguments: ["--resp", "\(respHost):0"] + arguments)
        guard let output = try await daemon.process.waitForOutput(containing: "resp listening on ", timeout: .seconds(60)),
            let line = output.split(separator: "\n").first(where: { $0.hasPrefix("resp listening on ") }),
            let colon = line.lastIndex(of: ":"), let port = Int(line[line.index(after: colon)...])
        else {
            _ = try? await daemon.stop(signal: SIGKILL)
            throw DaemonError("the daemon did not print 'resp listening on HOST:PORT'")
        }
        // Every schema's map is live before the test starts (the first reconcile).
        let session = Session(cli: cli, daemon: daemon)
        for map in maps {
            _ = try await session.waitForStatus(map) { ($0["live_version"] as? String) != nil }
        }
        return RESPDaemon(cli: cli, daemon: daemon, host: respHost, port: port)
    }

    func stop() {
        daemon.process.signal(SIGTERM)
        daemon.layout.remove()
    }

    /// An IPv4 address of this machine other than loopback, if it has one.
    static func nonLoopbackAddress() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            guard let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            let ipv4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            var copy = ipv4
            guard inet_ntop(AF_INET, &copy, &text, socklen_t(text.count)) != nil else { continue }
            let string = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !string.hasPrefix("127.") { return string }
        }
        return nil
    }
}

/// The real `redis-cli` (and `redis-benchmark`) as a test's client.
struct RESPClient: Sendable {
    let host: String
    let port: Int

    static func path(of tool: String) -> URL? {
        for directory in ["/usr/bin", "/usr/local/bin", "/bin"] {
            let url = URL(fileURLWithPath: directory).appendingPathComponent(tool)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    static var isInstalled: Bool { path(of: "redis-cli") != nil && path(of: "redis-benchmark") != nil }

    /// `redis-cli -h HOST -p PORT ARGS`, its replies as it prints them when not on a terminal.
    func run(_ arguments: [String], stdin: String? = nil) async throws -> CLIRunner.Result {
        try await Self.run("redis-cli", ["-h", host, "-p", String(port)] + arguments, stdin: stdin, timeout: .seconds(120))
    }

    static func run(_ tool: String, _ arguments: [String], stdin: String? = nil, timeout: Duration) async throws -> CLIRunner.Result {
        guard let executable = path(of: tool) else { throw DaemonError("\(tool) is not installed") }
        let process = try RunningProcess(
            executable: executable, arguments: arguments, stdin: stdin, environment: ["REDISCLI_AUTH": nil],
            directory: FileManager.default.temporaryDirectory)
        return try await process.wait(timeout: timeout)
    }
}

/// Keys whose SET was acknowledged, in order.
final class AcknowledgedKeys: Sendable {
    private let keys = Mutex<[String]>([])

    func add(_ key: String) { keys.withLock { $0.append(key) } }
    var count: Int { keys.withLock { $0.count } }
    var all: [String] { keys.withLock { $0 } }

    /// Waits for `target` acknowledged keys; fails after two minutes (a backstop, not a speed check).
    func wait(atLeast target: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while count < target {
            if ContinuousClock.now >= deadline { throw DaemonError("only \(count) of \(target) SETs acknowledged") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
