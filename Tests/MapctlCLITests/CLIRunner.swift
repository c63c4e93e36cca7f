import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the built `mapctl` binary for end-to-end tests.
///
/// The binary is found next to the test bundle (`swift build` and `swift test`
/// build every product into the same directory), or at `$MAPCTL_BINARY`.
/// Output goes to temporary files rather than pipes, so a chatty child never
/// blocks on a full pipe and a long-running one (the daemon) can be read while
/// it runs.
struct CLIRunner: Sendable {
    struct Result: Sendable, CustomStringConvertible {
        var exitCode: Int32
        var stdout: String
        var stderr: String
        /// True when the process was killed for running past its timeout.
        var timedOut: Bool

        var description: String { "exit \(exitCode)\(timedOut ? " (timed out)" : "")\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
    }

    struct NotFound: Error, CustomStringConvertible {
        var searched: [String]
        var description: String {
            "mapctl binary not found (looked at \(searched.joined(separator: ", "))); run `swift build` first or set MAPCTL_BINARY"
        }
    }

    var executable: URL

    /// Locates `mapctl` (or another product of the package, by name).
    init(product: String = "mapctl") throws {
        var candidates: [String] = []
        if let override = ProcessInfo.processInfo.environment["MAPCTL_BINARY"], product == "mapctl" { candidates.append(override) }
        var bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            bundleDirectory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        }
        // On macOS the bundle is `X.xctest/Contents/MacOS/X`: climb out of it.
        while bundleDirectory.path.contains(".xctest/") { bundleDirectory.deleteLastPathComponent() }
        if bundleDirectory.lastPathComponent.hasSuffix(".xctest") { bundleDirectory.deleteLastPathComponent() }
        candidates.append(bundleDirectory.appendingPathComponent(product).path)
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/\(product)").path)
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw NotFound(searched: candidates)
        }
        executable = URL(fileURLWithPath: found)
    }

    /// The package root, for paths such as `schemas/`.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs to completion (or until `timeout`, then SIGKILL) and returns what it printed.
    ///
    /// - Parameters:
    ///   - arguments: The arguments after the executable.
    ///   - stdin: Bytes for standard input; none (end of file at once) when nil.
    ///   - environment: Added to (and overriding) the test's environment; a nil value removes a variable.
    ///   - directory: The working directory; the package root by default.
    func run(
        _ arguments: [String], stdin: String? = nil, environment: [String: String?] = [:], directory: URL? = nil,
        timeout: Duration = .seconds(30)
    ) async throws -> Result {
        let process = try launch(arguments, stdin: stdin, environment: environment, directory: directory)
        return try await process.wait(timeout: timeout)
    }

    /// Starts the binary and returns at once: for a daemon, read its output while it runs and signal it.
    func launch(_ arguments: [String], stdin: String? = nil, environment: [String: String?] = [:], directory: URL? = nil) throws
        -> RunningProcess
    {
        try RunningProcess(
            executable: executable, arguments: arguments, stdin: stdin, environment: environment, directory: directory ?? Self.packageRoot
        )
    }
}

/// A child process whose output is captured in temporary files.
final class RunningProcess: Sendable {
    let process: Process
    let stdoutURL: URL
    let stderrURL: URL
    private let scratch: URL

    init(executable: URL, arguments: [String], stdin: String?, environment: [String: String?], directory: URL) throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mapctl-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        stdoutURL = scratch.appendingPathComponent("stdout")
        stderrURL = scratch.appendingPathComponent("stderr")
        let stdinURL = scratch.appendingPathComponent("stdin")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stdinURL.path, contents: Data((stdin ?? "").utf8))
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        process.standardInput = try FileHandle(forReadingFrom: stdinURL)
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
    }

    var processIdentifier: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// What the process has written to stdout so far.
    func stdoutSoFar() -> String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    /// What the process has written to stderr so far.
    func stderrSoFar() -> String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Polls stdout until it contains `text`; returns the output, or nil after `timeout` or when the process ends first.
    func waitForOutput(containing text: String, timeout: Duration = .seconds(30)) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let output = stdoutSoFar()
            if output.contains(text) { return output }
            if !process.isRunning { return stdoutSoFar().contains(text) ? stdoutSoFar() : nil }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Once more at the deadline: a loaded test process can oversleep past it with the text already there.
        let output = stdoutSoFar()
        return output.contains(text) ? output : nil
    }

    /// Sends a signal (SIGTERM, SIGINT, SIGKILL…).
    func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for the exit; after `timeout` the process is killed and the result says so.
    func wait(timeout: Duration = .seconds(30)) async throws -> CLIRunner.Result {
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.waitUntilExit()
        let result = CLIRunner.Result(exitCode: process.terminationStatus, stdout: stdoutSoFar(), stderr: stderrSoFar(), timedOut: timedOut)
        try? FileManager.default.removeItem(at: scratch)
        return result
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
