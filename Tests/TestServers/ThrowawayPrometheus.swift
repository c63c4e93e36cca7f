import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A real Prometheus server for a test: its own config and TSDB in a temporary directory, listening on a
/// free loopback port, scraping the given targets every `scrapeInterval`. Call ``stop()`` at the end.
///
/// ```swift
/// let prometheus = try await ThrowawayPrometheus(targets: ["127.0.0.1:9100"])
/// defer { prometheus.stop() }
/// // query prometheus.baseURL + "/api/v1/query?query=up"
/// ```
public final class ThrowawayPrometheus: Sendable {
    /// `http://127.0.0.1:PORT`.
    public let baseURL: String
    /// The temporary directory holding `prometheus.yml`, `data/` and `prometheus.log`.
    public let directory: URL
    private let process: Process

    /// The `prometheus` binary: `$PROMETHEUS_BIN`, else the first on `PATH`, else `/usr/bin/prometheus`.
    public static var executable: String? {
        if let configured = ProcessInfo.processInfo.environment["PROMETHEUS_BIN"], FileManager.default.isExecutableFile(atPath: configured)
        {
            return configured
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":") + ["/usr/bin"] {
            let candidate = "\(directory)/prometheus"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// True when a `prometheus` binary is installed (for `.enabled(if:)`).
    public static var isAvailable: Bool { executable != nil }

    /// Writes the config, starts Prometheus and waits until `/-/ready` answers 200.
    ///
    /// - Parameters:
    ///   - targets: `HOST:PORT` scrape targets (path `/metrics`), in one job named `job`.
    ///   - job: The `job` label of the scraped series.
    ///   - scrapeInterval: Prometheus' duration syntax; `1s` by default.
    ///   - port: The port to listen on (one picked with ``LoopbackHTTP/freePort()`` beforehand, when a
    ///     daemon must be told the URL before Prometheus starts); nil picks a free one.
    ///   - timeout: How long to wait for readiness.
    public init(
        targets: [String], job: String = "test", scrapeInterval: String = "1s", port: Int? = nil, timeout: Duration = .seconds(30)
    ) async throws {
        guard let executable = Self.executable else { throw LoopbackHTTP.Failure("prometheus is not installed") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("prometheus-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        let quoted = targets.map { "'\($0)'" }.joined(separator: ", ")
        let config = """
            global:
              scrape_interval: \(scrapeInterval)
              scrape_timeout: \(scrapeInterval)
              evaluation_interval: \(scrapeInterval)
            scrape_configs:
              - job_name: '\(job)'
                static_configs:
                  - targets: [\(quoted)]

            """
        let configURL = directory.appendingPathComponent("prometheus.yml")
        try Data(config.utf8).write(to: configURL)
        let logURL = directory.appendingPathComponent("prometheus.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)

        // The port is free when picked; if Prometheus loses it to someone else, it exits and we try another.
        var attempt = 0
        while true {
            attempt += 1
            let chosen = try port ?? LoopbackHTTP.freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = [
                "--config.file=\(configURL.path)",
                "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(chosen)",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ]
            process.currentDirectoryURL = directory
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = try FileHandle(forWritingTo: logURL)
            process.standardError = try FileHandle(forWritingTo: logURL)
            try process.run()
            let url = "http://127.0.0.1:\(chosen)"
            if try await Self.waitUntilReady(url, process: process, timeout: timeout) {
                self.process = process
                self.baseURL = url
                return
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            if attempt >= 3 || port != nil {
                let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
                try? FileManager.default.removeItem(at: directory)
                throw LoopbackHTTP.Failure("prometheus did not become ready: \(log.suffix(2000))")
            }
        }
    }

    private static func waitUntilReady(_ url: String, process: Process, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else { return false }
            if let response = try? LoopbackHTTP.get(url + "/-/ready", timeout: .seconds(1)), response.status == 200 { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// `GET /api/v1/query?query=EXPRESSION`: Prometheus' JSON answer, for a test to wait on data.
    public func query(_ expression: String) throws -> String {
        var components = URLComponents(string: baseURL + "/api/v1/query")!
        components.percentEncodedQueryItems = [
            URLQueryItem(
                name: "query",
                value: expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            )
        ]
        return try LoopbackHTTP.get(components.string!).body
    }

    /// Polls `expression` until its answer holds a result (a non-empty vector); false after `timeout`.
    public func waitForData(_ expression: String, timeout: Duration = .seconds(20)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let answer = try? query(expression), answer.contains("\"status\":\"success\""), !answer.contains("\"result\":[]") {
                return true
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        return false
    }

    /// The server's log so far (warnings and errors), for failure messages.
    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("prometheus.log"), encoding: .utf8)) ?? ""
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its directory.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}
