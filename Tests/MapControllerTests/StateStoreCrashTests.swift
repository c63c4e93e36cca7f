import Foundation
import MapController
import MapSchema
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the `mapctl-bench` binary that hosts the crash test's child: `MAPCTL_BENCH` or `.build/debug/mapctl-bench`.
enum StateStoreCrashChildBinary {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var path: String? {
        if let explicit = ProcessInfo.processInfo.environment["MAPCTL_BENCH"] { return explicit }
        let built = packageRoot.appendingPathComponent(".build/debug/mapctl-bench").path
        return FileManager.default.isExecutableFile(atPath: built) ? built : nil
    }
}

@Suite("State store crash consistency")
struct StateStoreCrashTests {
    /// One child run: start it, wait for its first line, let it write for a random moment, SIGKILL it.
    ///
    /// - Returns: The child's `ready` line and the last sequence it acknowledged per map.
    static func runChildAndKill(binary: String, stateDirectory: String, delayMicroseconds: UInt32) throws
        -> (ready: String, acknowledged: [String: Int])
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["state-crash-child", stateDirectory]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()

        var text = ""
        let reader = output.fileHandleForReading
        while !text.contains("\n") {
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
            throw StateStoreCrashError("the child did not start: stdout \(text.debugDescription), stderr \(stderr.debugDescription)")
        }
        #expect(process.terminationReason == .uncaughtSignal, "the child ended by itself: \(stderr)")
        var acknowledged: [String: Int] = [:]
        // The last line may be cut by the kill: only whole lines (followed by a newline) count.
        for line in lines.dropFirst().dropLast() {
            let parts = line.split(separator: " ")
            if parts.count == 3, parts[0] == "committed", let n = Int(parts[2]) { acknowledged[String(parts[1])] = n }
        }
        return (String(first), acknowledged)
    }

    /// Checks that every map's state agrees with its history and documents, as the child writes them in one transaction.
    static func checkConsistency(_ store: StateStore, acknowledged: [String: Int], iteration: Int) throws -> [String: Int] {
        #expect(try store.integrityCheck() == "ok", "iteration \(iteration)")
        var sequences: [String: Int] = [:]
        for state in try store.mapStates() {
            let n = try #require(Int(state.reason?.split(separator: " ").last ?? ""), "iteration \(iteration): \(state)")
            sequences[state.name] = n
            let history = try store.history(name: state.name)
            let documents = try store.documents(name: state.name)
            let context = "iteration \(iteration), map \(state.name) at seq \(n)"
            #expect(history.count == 2 * n, "\(context): \(history.count) history entries")
            #expect(documents.count == n, "\(context): \(documents.count) documents")
            #expect(history.last?.version == state.liveVersion?.description, "\(context)")
            #expect(history.last?.action == .promote, "\(context)")
            #expect(history.map(\.reason) == (1...max(n, 1)).prefix(n).flatMap { ["seq \($0)", "seq \($0)"] }, "\(context)")
            #expect(state.liveVersion == SemanticVersion(major: 1, minor: 0, patch: UInt64(n)), "\(context)")
            #expect(state.quarantined.count == n / 5, "\(context)")
            #expect(documents.last?.contentSHA256 == state.liveSHA256, "\(context)")
            #expect(state.standby?.version == (n > 1 ? SemanticVersion(major: 1, minor: 0, patch: UInt64(n - 1)) : nil), "\(context)")
            // Durability: a save the child acknowledged before the kill is never lost.
            if let acked = acknowledged[state.name] {
                #expect(n >= acked, "\(context): acknowledged seq \(acked) was lost")
                #expect(n <= acked + 1, "\(context): more than one save past the last acknowledged one")
            }
        }
        for (name, acked) in acknowledged where sequences[name] == nil {
            Issue.record("iteration \(iteration): map \(name) acknowledged at seq \(acked) is missing")
        }
        return sequences
    }

    @Test(
        "A child saving state and history in a loop, killed with SIGKILL at random moments 60 times, always leaves a consistent, durable state",
        .enabled(if: StateStoreCrashChildBinary.path != nil, "build mapctl-bench first (swift build), or set MAPCTL_BENCH to its path"),
        .timeLimit(.minutes(5))
    )
    func killedChildLeavesConsistentState() async throws {
        let binary = try #require(StateStoreCrashChildBinary.path)
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        var generator = SystemRandomNumberGenerator()
        var previous: [String: Int] = [:]
        var totalSaves = 0
        for iteration in 0..<60 {
            let delay = UInt32.random(in: 0...40_000, using: &generator)
            let (ready, acknowledged) = try await runBlocking { try Self.runChildAndKill(binary: binary, stateDirectory: dir.path, delayMicroseconds: delay) }
            // The test ends every run cleanly below, so each child sees a clean previous run.
            #expect(ready == "ready clean=true", "iteration \(iteration): \(ready)")

            let store = try StateStore(directory: dir.path)
            let sequences = try Self.checkConsistency(store, acknowledged: acknowledged, iteration: iteration)
            for (name, n) in previous {
                #expect((sequences[name] ?? 0) >= n, "iteration \(iteration): map \(name) went back from seq \(n)")
            }
            totalSaves = sequences.values.reduce(0, +)
            previous = sequences
            let run = try store.beginRun()
            #expect(!run.previousRunEndedCleanly, "iteration \(iteration): a killed run must not look clean")
            #expect(run.crashedVersions.count == sequences.count, "iteration \(iteration)")
            try store.endRunCleanly()
            try store.close()
        }
        // The kills must have landed while the child was writing, not only before its first save.
        #expect(totalSaves > 60, "only \(totalSaves) saves in 60 runs")
    }
}

struct StateStoreCrashError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
