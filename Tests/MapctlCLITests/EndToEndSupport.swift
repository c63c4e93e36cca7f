import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A daemon and a way to run client commands against it.
struct Session: Sendable {
    let cli: CLIRunner
    let daemon: DaemonProcess

    var layout: DaemonProcess.Layout { daemon.layout }

    /// Runs `mapctl ARGS` against the daemon with its token, from a directory with no state in it.
    func mapctl(_ arguments: [String], stdin: String? = nil, withToken: Bool = true) async throws -> CLIRunner.Result {
        var environment = daemon.clientEnvironment
        if !withToken { environment["MAPCTL_TOKEN"] = .some(nil) }
        return try await cli.run(arguments, stdin: stdin, environment: environment, directory: layout.work, timeout: .seconds(60))
    }

    /// `status NAME -o json` as an object.
    func status(_ name: String) async throws -> [String: Any] {
        let result = try await mapctl(["status", name, "-o", "json"])
        guard result.exitCode == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw DaemonError("status \(name) failed: \(result)")
        }
        return object
    }

    /// Polls `status NAME -o json` until `condition` holds; returns the status that satisfied it.
    ///
    /// `timeout` is a backstop against a state that never comes, not a speed check: it is far
    /// beyond what a loaded machine needs.
    func waitForStatus(
        _ name: String, timeout: Duration = .seconds(60), _ condition: @Sendable ([String: Any]) -> Bool
    ) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        var last: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            if let status = try? await status(name) {
                if condition(status) { return status }
                last = status
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DaemonError("\(name) did not reach the expected status within \(timeout); last: \(last)")
    }

    /// `history NAME -o json` as its entries, whether the API wraps them or not.
    func history(_ name: String) async throws -> [[String: Any]] {
        let result = try await mapctl(["history", name, "-o", "json"])
        guard result.exitCode == 0 else { throw DaemonError("history failed: \(result)") }
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        // The history entries themselves, newest last.
        if let entries = object as? [[String: Any]] { return entries }
        throw DaemonError("unexpected history shape: \(result.stdout)")
    }

    /// Starts a session on a fresh temporary layout (or `layout`, to restart on the same state).
    static func start(layout: DaemonProcess.Layout? = nil, arguments: [String] = []) async throws -> Session {
        let cli = try CLIRunner()
        let daemon = try await DaemonProcess.start(cli, layout: layout ?? .make(), arguments: arguments)
        return Session(cli: cli, daemon: daemon)
    }
}

/// Direct HTTP to the daemon, for write load that a process per request could not produce.
struct EntryClient: Sendable {
    let baseURL: String
    let session: URLSession

    init(baseURL: String) {
        self.baseURL = baseURL
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        configuration.httpMaximumConnectionsPerHost = 8
        session = URLSession(configuration: configuration)
    }

    func put(map: String, key: String, json: String) async -> Int {
        var request = URLRequest(url: URL(string: "\(baseURL)/v1/maps/\(map)/entries/\(key)")!)
        request.httpMethod = "PUT"
        request.httpBody = Data(json.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        guard let (_, response) = try? await session.data(for: request) else { return 0 }
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    func get(map: String, key: String) async -> (status: Int, body: String) {
        let request = URLRequest(url: URL(string: "\(baseURL)/v1/maps/\(map)/entries/\(key)")!)
        guard let (data, response) = try? await session.data(for: request) else { return (0, "") }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

/// Schema documents for the tests.
enum Fixture {
    static func schema(
        _ name: String, version: String, valueType: String = "json", extra: String = ""
    ) -> String {
        """
        name: \(name)
        version: \(version)
        key_type: string
        value_type: \(valueType)
        \(extra)
        """
    }
}
