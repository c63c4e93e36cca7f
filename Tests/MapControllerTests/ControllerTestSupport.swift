import Foundation
import LiveMaps
import Logging
import MapSchema
import Rollout
import TestServers
import Testing

@testable import MapController

/// A controller on a fresh state directory with a manual clock.
struct TestEnvironment {
    let directory: String
    let clock: ManualRolloutClock

    init() {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("mapctl-controller-\(UUID().uuidString)").path
        clock = ManualRolloutClock()
    }

    func makeController(allowFaultInjection: Bool = true) async throws -> Controller {
        let configuration = Controller.Configuration(
            stateDirectory: directory, allowFaultInjection: allowFaultInjection, clock: clock, mapClock: ManualMapClock()
        )
        let controller = try Controller(configuration: configuration, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await controller.start()
        return controller
    }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A schema document with a short window and quick checks, overridable line by line.
func schemaYAML(
    _ name: String = "users",
    version: String,
    keyType: String = "string",
    valueType: String = "int64",
    window: String = "1m",
    standby: String = "warm",
    minOps: Int = 10,
    failureLimit: Int = 2,
    maxErrorRate: String? = "0.1",
    extra: String = ""
) -> String {
    var text = """
        name: \(name)
        version: \(version)
        key_type: \(keyType)
        value_type: \(valueType)
        rollback_window: \(window)
        rollout:
          standby: \(standby)
          interval: 1s
          min_ops: \(minOps)
          failure_limit: \(failureLimit)

        """
    if let maxErrorRate { text += "  max_error_rate: \(maxErrorRate)\n" }
    text += extra
    return text
}

extension Controller {
    @discardableResult
    func apply(_ yaml: String, source: String = "apply:test", dryRun: Bool = false, prune: Bool = false) async throws -> ApplyReport {
        try await apply(yaml: Array(yaml.utf8), source: source, isDryRun: dryRun, prune: prune)
    }

    func put(_ map: String, _ key: String, _ json: String) async throws(ControlPlaneError) {
        try await putEntry(map: map, key: key, json: Array(json.utf8))
    }

    func value(_ map: String, _ key: String) async throws(ControlPlaneError) -> String {
        String(decoding: try await getEntry(map: map, key: key), as: UTF8.self)
    }

    /// `ok` good writes and `bad` writes the schema refuses (errors), through the entry API.
    func traffic(_ map: String, ok: Int, bad: Int = 0) async {
        for i in 0..<ok { try? await put(map, "k\(i)", "\(i)") }
        for i in 0..<bad { try? await put(map, "k\(i)", "\"not a number\"") }
    }
}

/// One run of a `mapctl-bench` crash child: start it, wait for its `ready` line (and `linesFirst` more),
/// let it work for a random moment, SIGKILL it, and collect what it printed.
///
/// Waiting for lines after `ready` puts the kill among the child's work however slowly a loaded machine
/// runs it: a delay alone can end before the child's first change.
///
/// - Returns: the `ready` line, and every whole line after it (the last one may be cut by the kill and
///   is left out).
/// - Throws: when the child did not start; records an issue when it ended by itself.
func runCrashChild(
    binary: String, subcommand: String, stateDirectory: String, delayMicroseconds: UInt32, linesFirst: Int = 0
) async throws -> (ready: String, lines: [String]) {
    try await onOwnThread {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [subcommand, stateDirectory]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        var text = ""
        let reader = output.fileHandleForReading
        while text.count(where: { $0 == "\n" }) <= linesFirst {
            let chunk = reader.availableData
            if chunk.isEmpty { break }  // the child ended before saying it was ready
            text += String(decoding: chunk, as: UTF8.self)
        }
        usleep(delayMicroseconds)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        text += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first, first.hasPrefix("ready") else {
            throw CrashChildError(
                description: "the child did not start: stdout \(text.debugDescription), stderr \(stderr.debugDescription)")
        }
        #expect(process.terminationReason == .uncaughtSignal, "the child ended by itself: \(stderr)")
        return (String(first), lines.dropFirst().dropLast().map(String.init))
    }
}

struct CrashChildError: Error, CustomStringConvertible {
    var description: String
}
