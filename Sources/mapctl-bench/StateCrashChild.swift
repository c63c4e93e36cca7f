import Foundation
import MapController
import MapSchema

/// `mapctl-bench state-crash-child STATE_DIR`: the victim of the state store's crash test.
///
/// Saves map states with their history and documents in a loop, forever,
/// resuming from what the store holds, until it is killed. Each save of map M
/// at sequence N writes, in one transaction: M's state (live version 1.0.N,
/// reason "seq N", one quarantine per fifth N), the document of 1.0.N and two
/// history entries (apply, promote). It prints `ready clean=BOOL` once its run
/// is recorded, then `committed M N` after each save returns, so the test knows
/// what was acknowledged before the SIGKILL.
enum StateCrashChild {
    static let maps = ["crash_a", "crash_b", "crash_c"]

    static func run(_ arguments: [String]) -> Int32 {
        guard let directory = arguments.first else {
            FileHandle.standardError.write(Data("usage: mapctl-bench state-crash-child STATE_DIR\n".utf8))
            return 64
        }
        do {
            let store = try StateStore(directory: directory)
            let run = try store.beginRun()
            var sequence: [String: Int] = [:]
            for state in try store.mapStates() {
                sequence[state.name] = Int(state.reason?.split(separator: " ").last ?? "") ?? 0
            }
            emit("ready clean=\(run.previousRunEndedCleanly)")
            var turn = 0
            while true {
                let name = maps[turn % maps.count]
                turn += 1
                let n = (sequence[name] ?? 0) + 1
                try save(name: name, sequence: n, store: store)
                sequence[name] = n
                emit("committed \(name) \(n)")
            }
        } catch {
            FileHandle.standardError.write(Data("state-crash-child: \(error)\n".utf8))
            return 1
        }
    }

    static func save(name: String, sequence n: Int, store: StateStore) throws {
        let version = SemanticVersion(major: 1, minor: 0, patch: UInt64(n))
        let previous = n > 1 ? SemanticVersion(major: 1, minor: 0, patch: UInt64(n - 1)) : nil
        let sha = String(repeating: String(n % 16, radix: 16), count: 64)
        let now = Date()
        let quarantined = stride(from: 5, through: n, by: 5).map { q in
            PersistedMapState.Quarantine(
                version: SemanticVersion(major: 1, minor: 0, patch: UInt64(q)),
                contentSHA256: "q\(q)",
                reason: "quarantined at seq \(q)",
                at: now
            )
        }
        let state = PersistedMapState(
            name: name,
            liveVersion: version,
            liveSHA256: sha,
            standby: previous.map { PersistedMapState.Standby(version: $0, mode: n % 2 == 0 ? .warm : .cold) },
            windowEndsAt: now.addingTimeInterval(60),
            desiredVersion: version,
            desiredSHA256: sha,
            desiredSource: "crash-child",
            quarantined: quarantined,
            reason: "seq \(n)"
        )
        let document = AppliedDocument(
            name: name,
            version: version,
            contentSHA256: sha,
            yaml: "name: \(name)\nversion: \(version)\n" + String(repeating: "# padding\n", count: n % 50),
            source: "crash-child",
            appliedAt: now
        )
        let history = [
            HistoryEntry(
                time: now, action: .apply, version: version.description, fromVersion: previous?.description,
                source: "crash-child", contentSHA256: sha, reason: "seq \(n)"),
            HistoryEntry(
                time: now, action: .promote, version: version.description, source: "crash-child",
                contentSHA256: sha, reason: "seq \(n)"),
        ]
        try store.save(state, appending: history, recording: [document], at: now)
    }

    private static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
