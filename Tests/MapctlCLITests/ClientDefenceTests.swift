import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The CLI against servers that misbehave: a redirect to another origin must not get the token, a
/// dripping server must not keep it alive (nor busy), a flood must not be read whole, and `get` must
/// not print a body that is not JSON as if it were the value.
@Suite("mapctl against misbehaving servers")
struct ClientDefenceTests {
    static let token = "s3cret-token-for-the-origin-only"

    func run(_ arguments: [String], server: Int, environment: [String: String?] = [:]) async throws -> CLIRunner.Result {
        var merged: [String: String?] = ["MAPCTL_SERVER": "http://127.0.0.1:\(server)", "MAPCTL_TOKEN": Self.token, "NO_COLOR": "1"]
        for (key, value) in environment { merged[key] = value }
        return try await CLIRunner().run(arguments, environment: merged, timeout: .seconds(60))
    }

    static func answer(_ status: String, headers: [String] = [], body: String = "") -> [UInt8] {
        Array(
            ("HTTP/1.1 \(status)\r\n" + headers.map { $0 + "\r\n" }.joined()
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
                + body).utf8)
    }

    @Test func aRedirectToAnotherOriginDoesNotCarryTheToken() async throws {
        let elsewhere = try MisbehavingServer { _, fd, server in
            server.write(fd, Self.answer("200 OK", headers: ["Content-Type: application/json"], body: #"{"maps": []}"#))
        }
        defer { elsewhere.stop() }
        // localhost and 127.0.0.1 are different origins, even on one port; so are two ports.
        let origin = try MisbehavingServer { head, fd, server in
            if head.hasPrefix("GET /v1/maps HTTP") {
                server.write(fd, Self.answer("302 Found", headers: ["Location: /v1/maps?same=origin"]))
            } else {
                server.write(fd, Self.answer("307 Temporary Redirect", headers: ["Location: http://localhost:\(elsewhere.port)/v1/maps"]))
            }
        }
        defer { origin.stop() }
        let result = try await run(["status"], server: origin.port)
        #expect(result.exitCode == 0, "\(result)")
        #expect(origin.requests.count == 2)
        #expect(
            origin.requests.allSatisfy { $0.contains("Authorization: Bearer \(Self.token)") },
            "same origin keeps the token: \(origin.requests)")
        #expect(elsewhere.requests.count == 1)
        #expect(elsewhere.requests.allSatisfy { !$0.lowercased().contains("authorization") }, "\(elsewhere.requests)")
        #expect(elsewhere.requests.allSatisfy { !$0.contains(Self.token) })
    }

    @Test func aDrippingServerEndsTheRequestAtItsDeadlineWithoutBusyWaiting() async throws {
        let server = try MisbehavingServer { _, fd, server in
            server.write(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".utf8))
            while server.write(fd, [32]) { sleep(1) }
        }
        defer { server.stop() }
        let process = try CLIRunner().launch(
            ["status"],
            environment: ["MAPCTL_SERVER": "http://127.0.0.1:\(server.port)", "MAPCTL_TOKEN": Self.token, "MAPCTL_TIMEOUT": "4s"])
        while server.bytesSent == 0 { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .seconds(2))
        let cpu = Self.cpuSeconds(of: process.processIdentifier)
        let result = try await process.wait(timeout: .seconds(60))
        #expect(!result.timedOut, "the CLI must end on its own at its deadline")
        #expect(result.exitCode == 69, "\(result)")
        #expect(result.stderr.contains("no complete answer within 4s"), "\(result)")
        // Waiting on a socket costs nothing; a busy loop costs most of the 2 s.
        if let cpu { #expect(cpu < 0.5, "the CLI used \(cpu) s of CPU in 2 s of waiting") }
    }

    @Test(arguments: [true, false])
    func aHugeAnswerIsRefusedWithoutBeingReadWhole(declaresLength: Bool) async throws {
        let server = try MisbehavingServer { _, fd, server in
            if declaresLength {
                server.write(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: \(1 << 30)\r\n\r\n".utf8))
                let zeros = [UInt8](repeating: 48, count: 1 << 16)
                for _ in 0..<(1 << 14) where server.write(fd, zeros) {}
            } else {
                server.write(fd, Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
                let chunk = Array("10000\r\n".utf8) + [UInt8](repeating: 48, count: 1 << 16) + Array("\r\n".utf8)
                for _ in 0..<(1 << 14) where server.write(fd, chunk) {}
            }
        }
        defer { server.stop() }
        let result = try await run(["status"], server: server.port)
        #expect(result.exitCode == 1, "\(result)")
        #expect(result.stderr.contains("over 64 MiB"), "\(result)")
        #expect(server.bytesSent < 256 << 20, "the client stopped reading: \(server.bytesSent) bytes sent")
    }

    @Test func getExitsOneOnABodyThatIsNotJSON() async throws {
        let server = try MisbehavingServer { _, fd, server in
            server.write(fd, Self.answer("200 OK", headers: ["Content-Type: text/html"], body: "<html>captive portal</html>"))
        }
        defer { server.stop() }
        let result = try await run(["get", "users", "u1"], server: server.port)
        #expect(result.exitCode == 1, "\(result)")
        #expect(result.stderr.contains("not JSON"), "\(result)")
        #expect(result.stdout.isEmpty)
    }

    /// User and system CPU time of a running process, from /proc (nil where there is none).
    static func cpuSeconds(of pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3; utime and stime are fields 14 and 15.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
