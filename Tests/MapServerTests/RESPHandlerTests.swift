import Foundation
import Logging
import MapController
import NIOCore
import NIOEmbedded
import Prometheus
import Testing

@testable import MapServer

/// The RESP connection handler on NIO's `EmbeddedChannel`, in front of a real controller: the token
/// rules (a non-loopback listener cannot always be made on a test machine), pipelining, value
/// translation per value type, and bad input.
@Suite("RESP handler")
struct RESPHandlerTests {
    static let token = APIToken("0123456789abcdef")

    /// A started controller on a fresh state directory, with the maps of `yaml` applied.
    static func controller(_ yaml: String) async throws -> (Controller, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mapctl-resp-\(UUID().uuidString)").path
        let controller = try Controller(
            configuration: Controller.Configuration(stateDirectory: directory, allowFaultInjection: true),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        try await controller.start()
        let report = try await controller.apply(yaml: Array(yaml.utf8), source: "test", isDryRun: false, prune: false)
        #expect(report.plan.allSatisfy { $0.action != .invalid }, "\(report.plan)")
        return (controller, directory)
    }

    static let maps = """
        name: names
        version: 1.0.0
        key_type: string
        value_type: string
        ---
        name: blobs
        version: 1.0.0
        key_type: string
        value_type: bytes
        ---
        name: counts
        version: 1.0.0
        key_type: string
        value_type: int64
        ---
        name: users
        version: 1.0.0
        key_type: string
        value_type: User
        fields:
          id: string
          age: int64?
        """

    static func channel(
        _ controller: Controller, requiresToken: Bool, metrics: RESPCommandMetrics? = nil, limits: RESPLimits = RESPLimits()
    ) throws -> EmbeddedChannel {
        let session = RESPSession(
            backend: controller, authorization: RESPAuthorization(token: token, requiresToken: requiresToken), metrics: metrics,
            clientID: 1,
            limits: limits)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(RESPChannelHandler(session: session, limits: limits))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static func command(_ words: [String]) -> String {
        "*\(words.count)\r\n" + words.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }

    /// Sends `commands` in one write and returns every reply, read as a client reads them.
    static func exchange(_ channel: EmbeddedChannel, _ commands: [[String]]) throws -> [RESPValue] {
        try channel.writeInbound(ByteBuffer(string: commands.map(command).joined()))
        return try replies(channel)
    }

    static func replies(_ channel: EmbeddedChannel) throws -> [RESPValue] {
        var all = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&part) }
        var values: [RESPValue] = []
        while let value = try RESPValueParser().next(in: &all) { values.append(value) }
        #expect(all.readableBytes == 0)
        return values
    }

    @Test("Off loopback every command but AUTH, HELLO … AUTH and QUIT answers NOAUTH until the token is given")
    func tokenRequired() async throws {
        let (controller, directory) = try await Self.controller(Self.maps)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let channel = try Self.channel(controller, requiresToken: true)
        let before = try Self.exchange(channel, [["PING"], ["GET", "names:a"], ["SET", "names:a", "x"], ["HELLO", "3"]])
        #expect(before.count == 4)
        for reply in before {
            guard case .error(let text) = reply else {
                Issue.record("expected an error, got \(reply)")
                continue
            }
            #expect(text.hasPrefix("NOAUTH"))
        }
        let wrong = try Self.exchange(channel, [["AUTH", "nope"], ["AUTH", "admin", Self.token.value]])
        #expect(
            wrong == [
                .error("WRONGPASS invalid username-password pair or user is disabled."),
                .error("WRONGPASS invalid username-password pair or user is disabled."),
            ])
        let after = try Self.exchange(channel, [["AUTH", "default", Self.token.value], ["SET", "names:a", "x"], ["GET", "names:a"]])
        #expect(after == [.simpleString("OK"), .simpleString("OK"), .bulk("x")])

        // HELLO with AUTH authenticates and switches protocol at once.
        let other = try Self.channel(controller, requiresToken: true)
        let hello = try Self.exchange(other, [["HELLO", "3", "AUTH", "default", Self.token.value], ["GET", "names:missing"]])
        #expect(hello.count == 2)
        if case .map(let pairs) = hello.first {
            #expect(pairs.contains(RESPPair(.bulk("proto"), .integer(3))))
        } else {
            Issue.record("HELLO 3 answered \(String(describing: hello.first))")
        }
        #expect(hello.last == .null)
        _ = try? channel.finish()
        _ = try? other.finish()
        await controller.shutdown()
    }

    @Test("On loopback no token is needed, and a correct AUTH is still accepted")
    func loopback() async throws {
        let (controller, directory) = try await Self.controller(Self.maps)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let channel = try Self.channel(controller, requiresToken: false)
        #expect(
            try Self.exchange(channel, [["PING"], ["AUTH", Self.token.value], ["PING", "hi"]]) == [
                .simpleString("PONG"), .simpleString("OK"), .bulk("hi"),
            ])
        _ = try? channel.finish()
        await controller.shutdown()
    }

    @Test("Pipelined commands are answered in order, with one write per read")
    func pipelining() async throws {
        let (controller, directory) = try await Self.controller(Self.maps)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let channel = try Self.channel(controller, requiresToken: false)
        let commands = (0..<100).map { ["SET", "counts:k\($0)", "\($0)"] } + (0..<100).map { ["GET", "counts:k\($0)"] }
        try channel.writeInbound(ByteBuffer(string: commands.map(Self.command).joined()))
        var writes = 0
        var all = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) {
            writes += 1
            all.writeBuffer(&part)
        }
        #expect(writes == 1)
        var replies: [RESPValue] = []
        while let value = try RESPValueParser().next(in: &all) { replies.append(value) }
        #expect(replies == Array(repeating: .simpleString("OK"), count: 100) + (0..<100).map { .bulk("\($0)") })
        _ = try? channel.finish()
        await controller.shutdown()
    }

    @Test("Values travel as a Redis user expects, per value type")
    func valueTypes() async throws {
        let (controller, directory) = try await Self.controller(Self.maps)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let channel = try Self.channel(controller, requiresToken: false)
        let text = "Ada \"Lovelace\"\n\\ ü"
        let binary: [UInt8] = [0, 1, 2, 0xFF, 13, 10]
        var bytesCommand = ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$7\r\nblobs:b\r\n$\(binary.count)\r\n")
        bytesCommand.writeBytes(binary)
        bytesCommand.writeString("\r\n")
        try channel.writeInbound(bytesCommand)
        #expect(try Self.replies(channel) == [.simpleString("OK")])
        let replies = try Self.exchange(
            channel,
            [
                ["SET", "names:n", text], ["GET", "names:n"], ["GET", "blobs:b"],
                ["SET", "counts:c", "42"], ["GET", "counts:c"], ["SET", "counts:c", "forty-two"],
                ["SET", "users:u1", #"{"id":"u1","age":36}"#], ["GET", "users:u1"], ["SET", "users:u2", #"{"id":2}"#],
                ["MGET", "names:n", "counts:none", "counts:c"], ["EXISTS", "names:n", "names:none", "counts:c"],
                ["DEL", "names:n", "names:none"], ["GET", "nomap:x"], ["GET", "nocolon"], ["SET", "names:x", "y", "NX"],
                ["DBSIZE"],
            ])
        #expect(replies[0] == .simpleString("OK"))
        #expect(replies[1] == .bulkString(Array(text.utf8)))
        #expect(replies[2] == .bulkString(binary))
        #expect(replies[3] == .simpleString("OK"))
        #expect(replies[4] == .bulk("42"))
        #expect(replies[5].errorText?.hasPrefix("ERR bad_value") == true, "\(replies[5])")
        #expect(replies[6] == .simpleString("OK"))
        #expect(replies[7] == .bulk(#"{"age":36,"id":"u1"}"#) || replies[7] == .bulk(#"{"id":"u1","age":36}"#))
        #expect(replies[8].errorText?.hasPrefix("ERR bad_value") == true)
        #expect(replies[9] == .array([.bulkString(Array(text.utf8)), .null, .bulk("42")]))
        #expect(replies[10] == .integer(2))
        #expect(replies[11] == .integer(1))
        #expect(replies[12] == .error("ERR map_not_found no such map 'nomap'"))
        #expect(replies[13].errorText?.hasPrefix("ERR bad_key") == true)
        #expect(replies[14].errorText?.hasPrefix("ERR syntax error") == true)
        #expect(replies[15] == .integer(3))  // blobs:b, counts:c, users:u1
        _ = try? channel.finish()
        await controller.shutdown()
    }

    @Test("SCAN pages through one map; every key present throughout is returned")
    func scan() async throws {
        let (controller, directory) = try await Self.controller(Self.maps)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let channel = try Self.channel(controller, requiresToken: false)
        let keys = Set((0..<57).map { "names:k\($0)" })
        _ = try Self.exchange(channel, keys.map { ["SET", $0, "v"] } + [["SET", "counts:other", "1"]])
        var seen: Set<String> = []
        var cursor = "0"
        var calls = 0
        repeat {
            let reply = try Self.exchange(channel, [["SCAN", cursor, "MATCH", "names:*", "COUNT", "10"]])
            guard case .array(let parts) = reply.first, parts.count == 2, case .bulkString(let next) = parts[0],
                case .array(let page) = parts[1]
            else {
                Issue.record("SCAN answered \(reply)")
                break
            }
            for case .bulkString(let key) in page { seen.insert(String(decoding: key, as: UTF8.self)) }
            cursor = String(decoding: next, as: UTF8.self)
            calls += 1
        } while cursor != "0" && calls < 100
        #expect(seen == keys)
        #expect(calls >= 6)
        let filtered = try Self.exchange(channel, [["SCAN", "0", "MATCH", "names:k1?", "COUNT", "1000"]])
        if case .array(let parts) = filtered.first, case .array(let page) = parts[1] {
            #expect(page.count == 10)
        }
        #expect(try Self.exchange(channel, [["SCAN", "0"]]).first?.errorText?.contains("MATCH MAP:PATTERN") == true)
        _ = try? channel.finish()
        await controller.shutdown()
    }

    @Test("Bad input is answered with a protocol error and the connection closed")
    func badInputCloses() async throws {
        let (controller, directory) = try await Self.controller(Self.maps)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for bad in [
            "*1\r\n$1073741824\r\n", "*2147483648\r\n", "*2\r\n*1\r\n*1\r\n", "*1\r\n$x\r\n", String(repeating: "*1\r\n", count: 10_000),
        ] {
            let channel = try Self.channel(controller, requiresToken: false)
            try channel.writeInbound(ByteBuffer(string: "PING\r\n" + bad))
            let replies = try Self.replies(channel)
            #expect(replies.first == .simpleString("PONG"))
            #expect(replies.last?.errorText?.hasPrefix("ERR Protocol error") == true, "\(bad.prefix(20)): \(replies)")
            #expect(!channel.isActive)
        }
        // QUIT answers, then closes.
        let channel = try Self.channel(controller, requiresToken: false)
        #expect(try Self.exchange(channel, [["QUIT"], ["PING"]]) == [.simpleString("OK")])
        #expect(!channel.isActive)
        await controller.shutdown()
    }

    @Test("A value over the limit, and an MGET whose reply would be too large, are refused; large replies go out as they grow")
    func sizeLimits() async throws {
        let (controller, directory) = try await Self.controller(Self.maps)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let limits = RESPLimits(maxValueBytes: 300_000, maxReplyBytes: 1_000_000)
        let channel = try Self.channel(controller, requiresToken: false, limits: limits)
        let big = String(repeating: "x", count: 299_000)
        let replies = try Self.exchange(
            channel,
            [
                ["SET", "names:big", big], ["SET", "names:huge", big + String(repeating: "y", count: 2000)],
                ["MSET", "names:a", "1", "names:b", big + big],
                ["MGET", "names:big", "names:big", "names:big"], ["MGET", "names:big", "names:big", "names:big", "names:big"],
            ])
        #expect(replies[0] == .simpleString("OK"))
        #expect(replies[1].errorText?.hasPrefix("ERR too_large the value has 301000 bytes") == true, "\(replies[1])")
        #expect(replies[2].errorText?.hasPrefix("ERR too_large") == true)
        #expect(replies[3] == .array(Array(repeating: .bulk(big), count: 3)))
        #expect(replies[4].errorText?.hasPrefix("ERR too_large the reply would exceed") == true)
        #expect(try Self.exchange(channel, [["EXISTS", "names:a"]]) == [.integer(0)], "MSET wrote nothing")

        // Pipelined GETs of large values: the replies are written as they pass the threshold.
        try channel.writeInbound(ByteBuffer(string: Array(repeating: Self.command(["GET", "names:big"]), count: 4).joined()))
        var writes = 0
        var all = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) {
            writes += 1
            all.writeBuffer(&part)
        }
        #expect(writes >= 2)
        var values: [RESPValue] = []
        while let value = try RESPValueParser().next(in: &all) { values.append(value) }
        #expect(values == Array(repeating: .bulk(big), count: 4))
        _ = try? channel.finish()
        await controller.shutdown()
    }

    @Test("Commands are counted by name and result")
    func metrics() async throws {
        let (controller, directory) = try await Self.controller(Self.maps)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let registry = PrometheusCollectorRegistry()
        let channel = try Self.channel(controller, requiresToken: false, metrics: RESPCommandMetrics(registry: registry))
        _ = try Self.exchange(channel, [["SET", "names:a", "b"], ["GET", "names:a"], ["GET", "nomap:a"], ["NOPE"]])
        var text: [UInt8] = []
        registry.emit(into: &text)
        let lines = String(decoding: text, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.contains(#"mapctl_resp_commands_total{command="set",result="ok"} 1"#))
        #expect(lines.contains(#"mapctl_resp_commands_total{command="get",result="ok"} 1"#))
        #expect(lines.contains(#"mapctl_resp_commands_total{command="get",result="error"} 1"#))
        #expect(lines.contains(#"mapctl_resp_commands_total{command="other",result="error"} 1"#))
        _ = try? channel.finish()
        await controller.shutdown()
    }
}

extension RESPValue {
    var errorText: String? {
        if case .error(let text) = self { return text }
        return nil
    }
}
