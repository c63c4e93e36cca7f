import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real `mapctl watch` daemon for end-to-end tests: started through ``CLIRunner`` on port 0,
/// known by the URL it prints, stopped with a signal, restarted on the same state.
struct DaemonProcess: Sendable {
    /// A temporary directory per test: the watched schemas, the state, and a working directory
    /// with no `.mapctl` in it (so that no token is found by accident).
    struct Layout: Sendable {
        var root: URL
        var schemas: URL { root.appendingPathComponent("schemas") }
        var state: URL { root.appendingPathComponent("state") }
        var work: URL { root.appendingPathComponent("work") }

        static func make() throws -> Layout {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("mapctl-e2e-\(UUID().uuidString.prefix(8))")
            let layout = Layout(root: root)
            try FileManager.default.createDirectory(at: layout.schemas, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: layout.work, withIntermediateDirectories: true)
            return layout
        }

        func remove() {
            try? FileManager.default.removeItem(at: root)
        }

        /// Writes a file into the watched directory atomically (write and rename, as editors and git do).
        func writeSchema(_ name: String, _ yaml: String) throws {
            try Data(yaml.utf8).write(to: schemas.appendingPathComponent(name), options: .atomic)
        }

        /// Writes a file outside the watched directory, for `apply -f`.
        @discardableResult
        func writeWorkFile(_ name: String, _ text: String) throws -> String {
            let url = work.appendingPathComponent(name)
            try Data(text.utf8).write(to: url, options: .atomic)
            return url.path
        }

        /// The daemon's token, made at first start in `STATE/token`.
        func token() throws -> String {
            try String(contentsOf: state.appendingPathComponent("token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    let layout: Layout
    let process: RunningProcess
    /// `http://127.0.0.1:PORT` as the daemon printed it.
    let url: String

    /// Starts `mapctl watch SCHEMAS --listen 127.0.0.1:0 --state STATE` plus `arguments` and waits for
    /// `listening on http://…` on its stdout.
    static func start(_ cli: CLIRunner, layout: Layout, arguments: [String] = [], timeout: Duration = .seconds(60)) async throws
        -> DaemonProcess
    {
        let process = try cli.launch(
            ["watch", layout.schemas.path, "--listen", "127.0.0.1:0", "--state", layout.state.path] + arguments,
            environment: ["NO_COLOR": "1", "MAPCTL_TOKEN": nil, "MAPCTL_SERVER": nil],
            directory: layout.work
        )
        guard let output = try await process.waitForOutput(containing: "listening on http://", timeout: timeout),
            let url = listeningURL(in: output)
        else {
            process.signal(SIGKILL)
            let result = try await process.wait(timeout: .seconds(5))
            throw DaemonError("the daemon did not print 'listening on http://…': \(result)")
        }
        return DaemonProcess(layout: layout, process: process, url: url)
    }

    static func listeningURL(in text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("listening on http://") {
            return String(line.dropFirst("listening on ".count)).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// Sends `signal` and waits for the exit.
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(20)) async throws -> CLIRunner.Result {
        process.signal(signal)
        return try await process.wait(timeout: timeout)
    }

    /// The environment a client command needs to reach this daemon with its token.
    var clientEnvironment: [String: String?] {
        ["MAPCTL_SERVER": url, "MAPCTL_TOKEN": (try? layout.token()) ?? nil, "NO_COLOR": "1"]
    }
}

struct DaemonError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
