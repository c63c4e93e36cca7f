import Foundation
import MapController
import MapSchema
import TestServers
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

@Suite("State store crash consistency", .heavy)
struct StateStoreCrashTests {
    /// The last sequence the child acknowledged per map, from its `committed MAP N` lines.
    static func acknowledged(_ lines: [String]) -> [String: Int] {
        var acknowledged: [String: Int] = [:]
        for line in lines {
            let parts = line.split(separator: " ")
            if parts.count == 3, parts[0] == "committed", let n = Int(parts[2]) { acknowledged[String(parts[1])] = n }
        }
        return acknowledged
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
            let (ready, lines) = try await runCrashChild(
                binary: binary, subcommand: "state-crash-child", stateDirectory: dir.path, delayMicroseconds: delay)
            let acknowledged = Self.acknowledged(lines)
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
