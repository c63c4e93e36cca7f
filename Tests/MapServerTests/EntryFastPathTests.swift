import Foundation
import TestServers
import Testing

@testable import MapServer

#if canImport(Glibc)
    import Glibc
#endif

/// The entry fast path (``EntryFastPathHandler``) answers as the router does, keeps the order of pipelined
/// answers when it hands requests on, counts what it answers, and leaves the connection's life (idle
/// timeout, `Connection: close`) as it was.
@Suite("HTTP entry fast path", .serialized, .heavy)
struct EntryFastPathTests {
    /// One request, as raw bytes up to the blank line; `Connection: close` and the length are added.
    struct Probe: CustomStringConvertible {
        var method: String
        var path: String
        var headers: [(String, String)] = []
        var body: String?
        var version = "HTTP/1.1"

        var bytes: [UInt8] {
            var head = "\(method) \(path) \(version)\r\n"
            if !headers.contains(where: { $0.0.lowercased() == "host" }) { head += "Host: 127.0.0.1\r\n" }
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            head += "Connection: close\r\n"
            if let body, !headers.contains(where: { $0.0.lowercased() == "transfer-encoding" }) {
                head += "Content-Length: \(body.utf8.count)\r\n"
            }
            return Array((head + "\r\n" + (body ?? "")).utf8)
        }

        var description: String { "\(method) \(path) \(headers) \(body ?? "")" }
    }

    static let probes: [Probe] = [
        Probe(method: "PUT", path: "/v1/maps/users/entries/ann", body: #"{"name":"Ann","age":41}"#),
        Probe(method: "GET", path: "/v1/maps/users/entries/ann"),
        Probe(method: "GET", path: "/v1/maps/users/entries/ann?pretty=1"),
        Probe(method: "PUT", path: "/v1/maps/users/entries/team%2F%C3%A9", body: #""é""#),
        Probe(method: "GET", path: "/v1/maps/users/entries/team%2F%C3%A9"),
        Probe(method: "GET", path: "/v1/maps/users/entries/nobody"),
        Probe(method: "GET", path: "/v1/maps/nomap/entries/ann"),
        Probe(method: "GET", path: "/v1/maps/users/entries/%zz"),
        Probe(method: "GET", path: "/v1/maps/%FF/entries/ann"),
        Probe(method: "PUT", path: "/v1/maps/users/entries/bad", body: "{oops"),
        Probe(method: "PUT", path: "/v1/maps/users/entries/empty", body: ""),
        Probe(method: "PUT", path: "/v1/maps/counts/entries/7", body: #""seven""#),
        Probe(method: "PUT", path: "/v1/maps/counts/entries/x", body: "7"),
        Probe(method: "PUT", path: "/v1/maps/counts/entries/7", body: "7"),
        Probe(method: "GET", path: "/v1/maps/counts/entries/7"),
        Probe(
            method: "PUT", path: "/v1/maps/users/entries/big", headers: [("Transfer-Encoding", "chunked")],
            body: "600\r\n\"" + String(repeating: "a", count: 1534) + "\"\r\n0\r\n\r\n"),
        Probe(method: "PUT", path: "/v1/maps/users/entries/big", body: "\"" + String(repeating: "a", count: 1100) + "\""),
        Probe(method: "GET", path: "/v1/maps/users/entries/ann", headers: [("Host", "evil.example")]),
        Probe(method: "GET", path: "/v1/maps/users/entries/ann", headers: [("Host", "127.0.0.1"), ("Host", "localhost")]),
        Probe(method: "GET", path: "/v1/maps/users/entries/ann", headers: [("Host", "localhost:7468")]),
        Probe(method: "GET", path: "/v1/maps/users/entries/ann", version: "HTTP/1.0"),
        Probe(method: "DELETE", path: "/v1/maps/users/entries/ann"),
        Probe(method: "DELETE", path: "/v1/maps/users/entries/ann"),
        Probe(method: "GET", path: "/v1/maps/users/entries/ann"),
    ]

    @Test("every entry answer is the router's: status, fields and body")
    func answersAsTheRouterDoes() async throws {
        try await Daemons.with(fastPath: true) { fast in
            try await Daemons.with(fastPath: false) { routed in
                var statuses: Set<Int> = []
                for probe in Self.probes {
                    let viaFast = try await RawHTTPClient.send(port: fast.daemon.port, bytes: probe.bytes)
                    let viaRouter = try await RawHTTPClient.send(port: routed.daemon.port, bytes: probe.bytes)
                    #expect(viaFast.status == viaRouter.status, "\(probe)")
                    #expect(viaFast.text == viaRouter.text, "\(probe)")
                    #expect(Self.fields(viaFast) == Self.fields(viaRouter), "\(probe)")
                    #expect(viaFast.header("date") != nil && viaFast.header("server") == "mapctl", "\(probe)")
                    statuses.insert(viaFast.status)
                }
                // The probes cover every kind of answer the fast path gives.
                #expect(statuses == [200, 204, 400, 403, 404, 413])
            }
        }
    }

    @Test("pipelined requests are answered in order, those handed to the router among them")
    func pipelinedAnswersKeepTheirOrder() async throws {
        try await Daemons.with(fastPath: true) { running in
            let port = running.daemon.port
            for index in 0..<40 {
                let put = try await running.daemon.request("PUT", "/v1/maps/users/entries/k\(index)", body: #"{"n":\#(index)}"#)
                #expect(put.status == 204)
            }
            var bytes: [UInt8] = []
            var expected: [(status: Int, body: String?)] = []
            for index in 0..<40 {
                bytes += Array("GET /v1/maps/users/entries/k\(index) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
                expected.append((200, #"{"n":\#(index)}"#))
                if index % 7 == 3 {
                    bytes += Array("GET /v1/maps/users HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
                    expected.append((200, nil))
                    bytes += Array("PUT /v1/maps/users/entries/w\(index) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\n1".utf8)
                    expected.append((204, nil))
                    bytes += Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
                    expected.append((200, #"{"status":"ok"}"# + "\n"))
                }
            }
            bytes += Array("GET /v1/maps/users/entries/w38 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
            expected.append((200, "1"))
            let answers = try await RawHTTPClient.sendPipelined(port: port, bytes: bytes)
            #expect(answers.count == expected.count, "\(answers.map(\.description))")
            for (answer, want) in zip(answers, expected) {
                #expect(answer.status == want.status, "\(answer)")
                if let body = want.body { #expect(answer.text == body) }
            }
        }
    }

    @Test("answers of the fast path are counted in mapctl_http_requests_total under the entry route")
    func answersAreCounted() async throws {
        try await Daemons.with(fastPath: true) { running in
            _ = try await running.daemon.request("PUT", "/v1/maps/users/entries/a", body: "1")
            for _ in 0..<5 { _ = try await running.daemon.request("GET", "/v1/maps/users/entries/a") }
            for _ in 0..<3 { _ = try await running.daemon.request("GET", "/v1/maps/users/entries/missing") }
            let metrics = try await running.daemon.request("GET", "/metrics")
            let route = #"route="/v1/maps/{name}/entries/{key}""#
            #expect(metrics.text.contains(#"mapctl_http_requests_total{method="GET",\#(route),status="200"} 5"#), "\(metrics.text)")
            #expect(metrics.text.contains(#"mapctl_http_requests_total{method="GET",\#(route),status="404"} 3"#))
            #expect(metrics.text.contains(#"mapctl_http_requests_total{method="PUT",\#(route),status="204"} 1"#))
        }
    }

    @Test("a connection busy with entry requests outlives the idle timeout; an idle one does not")
    func idleTimeoutSeesTheFastPath() async throws {
        try await Daemons.with(
            fastPath: true, configure: { $0.http.idleTimeout = .seconds(1) },
            { running in
                let port = running.daemon.port
                _ = try await running.daemon.request("PUT", "/v1/maps/users/entries/a", body: "1")
                let (answered, closedWhenIdle) = try await onOwnThread {
                    let fd = try RawHTTPClient.connect(port: port, timeoutSeconds: 10)
                    defer { close(fd) }
                    var pending: [UInt8] = []
                    var answered = 0
                    let start = ContinuousClock.now
                    while ContinuousClock.now - start < .milliseconds(2500) {
                        try RawHTTPClient.sendAll(fd, Array("GET /v1/maps/users/entries/a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
                        guard let answer = try RawHTTPClient.readOne(fd, pending: &pending), answer.status == 200 else { break }
                        answered += 1
                        Thread.sleep(forTimeInterval: 0.3)
                    }
                    let closed = try RawHTTPClient.readOne(fd, pending: &pending) == nil
                    return (answered, closed)
                }
                #expect(answered >= 6, "the connection was closed after \(answered) answers, 0.3 s apart, with a 1 s idle timeout")
                #expect(closedWhenIdle, "an idle connection is closed")
            })
    }

    /// The fields of an answer, Date aside, as a sorted list of lowercased names and values.
    static func fields(_ response: RawHTTPResponse) -> [String] {
        response.headers.filter { $0.name.lowercased() != "date" }.map { "\($0.name.lowercased()): \($0.value)" }.sorted()
    }

    /// A daemon over a `users` json map and a `counts` int64 map keyed by uint64, with entry bodies limited
    /// to 1 KiB.
    struct Daemons {
        let daemon: RunningDaemon
        let directory: TemporaryDirectory
        let state: TemporaryDirectory

        static func start(fastPath: Bool, configure: (inout DaemonConfiguration) -> Void = { _ in }) async throws -> Daemons {
            let directory = try TemporaryDirectory()
            let state = try TemporaryDirectory()
            try write(schema("users", version: "1.0.0"), to: directory.path + "/users.yaml")
            try write(
                """
                name: counts
                version: 1.0.0
                key_type: uint64
                value_type: int64
                strategy: mutex
                rollback_window: 5m

                """, to: directory.path + "/counts.yaml")
            let daemon = try await RunningDaemon.start(directory: directory.path, stateDirectory: state.path + "/state") {
                $0.entryFastPath = fastPath
                $0.routes.maxEntryBodyBytes = 1024
                configure(&$0)
            }
            _ = try await daemon.waitFor("/readyz") { $0.status == 200 }
            return Daemons(daemon: daemon, directory: directory, state: state)
        }

        func stop() async throws {
            try await daemon.stop()
        }

        /// Runs `body` against a daemon started for it, and stops the daemon whatever `body` does.
        static func with(
            fastPath: Bool, configure: (inout DaemonConfiguration) -> Void = { _ in }, _ body: (Daemons) async throws -> Void
        ) async throws {
            let running = try await start(fastPath: fastPath, configure: configure)
            do {
                try await body(running)
            } catch {
                try? await running.stop()
                throw error
            }
            try await running.stop()
        }
    }
}
