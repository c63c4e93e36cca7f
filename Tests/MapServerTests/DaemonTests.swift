import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import MapServer

/// A daemon running in-process: the real `Controller`, the watcher and the Hummingbird
/// server on a free port, driven over real sockets.
final class RunningDaemon: Sendable {
    let port: Int
    let token: String
    let group: ServiceGroup
    let task: Task<Void, any Error>

    private init(port: Int, token: String, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.token = token
        self.group = group
        self.task = task
    }

    static func start(
        directory: String, stateDirectory: String, pollInterval: Duration? = nil,
        configure: (inout DaemonConfiguration) -> Void = { _ in }
    ) async throws -> RunningDaemon {
        var configuration = DaemonConfiguration(
            directory: directory,
            host: "127.0.0.1",
            port: 0,
            stateDirectory: stateDirectory,
            pollInterval: pollInterval,
            resyncInterval: nil
        )
        configure(&configuration)
        let (events, continuation) = AsyncStream.makeStream(of: StartEvent.self)
        let task = Task {
            defer { continuation.finish() }
            try await Daemon.run(
                configuration: configuration,
                logger: testLogger("daemon"),
                onListening: { url in continuation.yield(.listening(url)) },
                onServiceGroup: { group in continuation.yield(.group(group)) }
            )
        }
        var url: String?
        var group: ServiceGroup?
        for await event in events {
            switch event {
            case .listening(let value): url = value
            case .group(let value): group = value
            }
            if url != nil, group != nil { break }
        }
        guard let url, let group else {
            _ = try await task.value
            throw RawHTTPError(description: "the daemon ended before it listened")
        }
        #expect(url.hasPrefix("http://127.0.0.1:"))
        let port = try #require(Int(url.split(separator: ":").last ?? ""))
        #expect(port != 0)
        let token = try String(contentsOfFile: stateDirectory + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return RunningDaemon(port: port, token: token, group: group, task: task)
    }

    enum StartEvent: Sendable {
        case listening(String)
        case group(ServiceGroup)
    }

    var bearer: [(String, String)] { [("Authorization", "Bearer \(token)")] }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: String = "") async throws -> RawHTTPResponse {
        try await RawHTTPClient.request(port: port, method: method, path: path, headers: headers, body: Array(body.utf8))
    }

    /// Polls until `condition` holds on a GET of `path`, or `timeout` passes (a backstop against a
    /// daemon that never gets there, far beyond what a loaded machine needs).
    func waitFor(_ path: String, timeout: Duration = .seconds(60), _ condition: (RawHTTPResponse) -> Bool) async throws -> RawHTTPResponse {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            let response = try await request("GET", path)
            if condition(response) || ContinuousClock.now >= deadline { return response }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// SIGTERM's path without a signal: graceful shutdown of the group, then the controller's clean-run marker.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

func schema(_ name: String, version: String, description: String = "test map") -> String {
    """
    name: \(name)
    version: \(version)
    description: \(description)
    key_type: string
    value_type: json
    strategy: sharded
    shards: 4
    rollback_window: 5m

    """
}

@Suite(.serialized) struct DaemonTests {
    @Test func theDaemonServesTheAPIEndToEnd() async throws {
        let directory = try TemporaryDirectory()
        let state = try TemporaryDirectory()
        try write(schema("users", version: "1.0.0"), to: directory.path + "/users.yaml")
        let daemon = try await RunningDaemon.start(directory: directory.path, stateDirectory: state.path + "/state")

        do {
            var info = stat()
            #expect(stat(state.path + "/state/token", &info) == 0 && info.st_mode & 0o777 == 0o600)

            let ready = try await daemon.waitFor("/readyz") { $0.status == 200 }
            #expect(ready.status == 200)
            #expect(try await daemon.request("GET", "/healthz").status == 200)

            // The map from the directory is live.
            let list = try await daemon.request("GET", "/v1/maps")
            let maps = try #require(list.json?["maps"] as? [[String: Any]])
            #expect(maps.map { $0["name"] as? String } == ["users"])
            #expect(maps.first?["live_version"] as? String == "1.0.0")

            // Entries: PUT, GET, DELETE, with a percent-encoded key.
            let put = try await daemon.request("PUT", "/v1/maps/users/entries/team%2Fann", body: #"{"name": "Ann", "age": 41}"#)
            #expect(put.status == 204, "\(put)")
            let get = try await daemon.request("GET", "/v1/maps/users/entries/team%2Fann")
            #expect(get.status == 200)
            #expect(get.json?["name"] as? String == "Ann")
            #expect(get.json?["age"] as? Int == 41)
            #expect(try await daemon.request("PUT", "/v1/maps/users/entries/k", body: "{oops").status == 400)
            #expect(try await daemon.request("GET", "/v1/maps/users/entries/nobody").status == 404)
            #expect(try await daemon.request("GET", "/v1/maps/nomap/entries/k").status == 404)
            #expect(try await daemon.request("DELETE", "/v1/maps/users/entries/team%2Fann").status == 204)
            #expect(try await daemon.request("GET", "/v1/maps/users/entries/team%2Fann").status == 404)
            #expect(try await daemon.request("PUT", "/v1/maps/users/entries/team%2Fann", body: #""back""#).status == 204)

            // Apply: the token is required; a valid and an invalid document give 200 with both in the plan.
            let orders = schema("orders", version: "1.0.0")
            let denied = try await daemon.request("POST", "/v1/apply", body: orders)
            #expect(denied.status == 401)
            #expect(denied.errorCode == "unauthorized")
            let mixed = try await daemon.request(
                "POST", "/v1/apply", headers: daemon.bearer,
                body: orders + "---\nname: broken\nversion: 1.0.0\nkey_type: string\nvalue_type: string\nstrategy: shardd\n")
            #expect(mixed.status == 200, "\(mixed)")
            let plan = try #require(mixed.json?["plan"] as? [[String: Any]])
            #expect(Set(plan.compactMap { $0["action"] as? String }) == ["create", "invalid"])
            let ordersStatus = try await daemon.request("GET", "/v1/maps/orders")
            #expect(ordersStatus.json?["live_version"] as? String == "1.0.0")

            // Every document invalid: 422 with positioned diagnostics.
            let invalid = try await daemon.request(
                "POST", "/v1/apply", headers: daemon.bearer,
                body: "name: broken\nversion: 1.0.0\nkey_type: string\nvalue_type: string\nstrategy: shardd\n")
            #expect(invalid.status == 422, "\(invalid)")
            #expect(invalid.errorCode == "invalid_schema")
            let diagnostics = try #require(invalid.json?["diagnostics"] as? [[String: Any]])
            #expect(
                diagnostics.contains { ($0["line"] as? Int) == 5 && (($0["message"] as? String) ?? "").contains("shardd") },
                "\(diagnostics)")

            // Dry run changes nothing.
            let dry = try await daemon.request(
                "POST", "/v1/apply?dry_run=true", headers: daemon.bearer, body: schema("carts", version: "1.0.0"))
            #expect(dry.status == 200)
            #expect(dry.json?["dry_run"] as? Bool == true)
            #expect(try await daemon.request("GET", "/v1/maps/carts").status == 404)

            // Editing the file makes the new version live, data carried across. (How fast is the
            // watch-latency benchmark's business, not this test's.)
            try write(schema("users", version: "1.1.0", description: "edited"), to: directory.path + "/users.yaml")
            let live = try await daemon.waitFor("/v1/maps/users") { $0.json?["live_version"] as? String == "1.1.0" }
            #expect(live.json?["live_version"] as? String == "1.1.0")
            #expect(live.json?["phase"] as? String == "rolling_out")
            #expect(live.json?["standby_version"] as? String == "1.0.0")
            #expect(try await daemon.request("GET", "/v1/maps/users/entries/team%2Fann").text == #""back""#)

            let history = try await daemon.request("GET", "/v1/maps/users/history")
            let records = try #require(history.jsonArray)
            #expect(records.last?["version"] as? String == "1.1.0")
            #expect(records.last?["from_version"] as? String == "1.0.0")
            #expect(records.allSatisfy { ($0["time"] as? String)?.hasSuffix("Z") == true })

            // Manual rollback needs the token, then goes back to 1.0.0.
            #expect(try await daemon.request("POST", "/v1/maps/users/rollback", body: "{}").status == 401)
            let rolledBack = try await daemon.request(
                "POST", "/v1/maps/users/rollback", headers: daemon.bearer, body: #"{"reason": "end-to-end test"}"#)
            #expect(rolledBack.status == 200, "\(rolledBack)")
            #expect(rolledBack.json?["live_version"] as? String == "1.0.0")

            // Metrics: the documented names, accepted by promtool.
            let metrics = try await daemon.request("GET", "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
            #expect(metrics.text.contains(#"mapctl_map_info{map="users",version="1.0.0""#))
            #expect(metrics.text.contains(#"mapctl_rollbacks_total{map="users",reason="manual"} 1"#))
            #expect(metrics.text.contains("mapctl_http_requests_total{"))
            #expect(metrics.text.contains("mapctl_map_op_duration_seconds_bucket{"))
            // promtool's verdict on this text: DaemonMetricsPromtoolTests, skipped visibly without it.

            // Malformed and oversized requests: 4xx, and the daemon lives on.
            let garbage = try await RawHTTPClient.send(port: daemon.port, bytes: Array("\u{1}\u{2} nonsense\r\n\r\n".utf8))
            #expect((400..<500).contains(garbage.status))
            let oversized = try await daemon.request(
                "POST", "/v1/apply", headers: daemon.bearer, body: String(repeating: "#", count: 2 << 20))
            #expect(oversized.status == 413)
            #expect(try await daemon.request("GET", "/v1/nothing/here").status == 404)
            #expect(try await daemon.request("DELETE", "/v1/apply").status == 405)
            #expect(try await daemon.request("GET", "/healthz").status == 200)
        } catch {
            try? await daemon.stop()
            throw error
        }
        try await daemon.stop()

        // A restart restores the applied map (no file for it) before it serves.
        let restarted = try await RunningDaemon.start(directory: directory.path, stateDirectory: state.path + "/state")
        do {
            let orders = try await restarted.request("GET", "/v1/maps/orders")
            #expect(orders.status == 200)
            #expect(orders.json?["live_version"] as? String == "1.0.0")
            #expect(restarted.token == daemon.token, "the token survives restarts")
        } catch {
            try? await restarted.stop()
            throw error
        }
        try await restarted.stop()
    }

    @Test func pollingModeAndAConfigMapSwapReachTheController() async throws {
        let directory = try TemporaryDirectory()
        let state = try TemporaryDirectory()
        let root = directory.path
        #expect(mkdir(root + "/..2024_01_01.1", 0o755) == 0)
        try write(schema("flags", version: "1.0.0"), to: root + "/..2024_01_01.1/flags.yaml")
        #expect(symlink("..2024_01_01.1", root + "/..data") == 0)
        #expect(symlink("..data/flags.yaml", root + "/flags.yaml") == 0)

        for pollInterval in [nil, Duration.milliseconds(100)] {
            let daemon = try await RunningDaemon.start(directory: root, stateDirectory: state.path, pollInterval: pollInterval)
            do {
                let before = try await daemon.waitFor("/v1/maps/flags") { $0.status == 200 }
                let current = try #require(before.json?["live_version"] as? String)
                let next = current == "1.0.0" ? "1.1.0" : "1.2.0"
                let stamp = "..2024_01_01.\(next)"
                #expect(mkdir(root + "/" + stamp, 0o755) == 0)
                try write(schema("flags", version: next), to: root + "/" + stamp + "/flags.yaml")
                #expect(symlink(stamp, root + "/..data_tmp") == 0)
                #expect(rename(root + "/..data_tmp", root + "/..data") == 0)
                let after = try await daemon.waitFor("/v1/maps/flags") { $0.json?["live_version"] as? String == next }
                #expect(after.json?["live_version"] as? String == next, "poll \(String(describing: pollInterval))")
            } catch {
                try? await daemon.stop()
                throw error
            }
            try await daemon.stop()
        }
    }
}
