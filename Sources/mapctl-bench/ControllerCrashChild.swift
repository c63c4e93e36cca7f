import Foundation
import Logging
import MapController

/// `mapctl-bench controller-crash-child STATE_DIR`: the victim of the controller's crash test.
///
/// Starts a `Controller` on STATE_DIR (which restores the map and applies the crash-loop rule), prints
/// `ready live=VERSION`, then applies `crashy` 1.K.0 for K = 1, 2, ... (each one rebuilt online from
/// the live version, with 1,000 entries written through the entry API) and rolls every third one back by
/// hand, forever, until it is killed. After each call returns it prints `applied VERSION` or
/// `rolledback VERSION`, so the test knows what was acknowledged before the SIGKILL.
enum ControllerCrashChild {
    static func run(_ arguments: [String]) async -> Int32 {
        guard let directory = arguments.first else {
            FileHandle.standardError.write(Data("usage: mapctl-bench controller-crash-child STATE_DIR\n".utf8))
            return 64
        }
        do {
            let controller = try Controller(
                configuration: .init(stateDirectory: directory),
                logger: Logger(label: "crash-child") { _ in SwiftLogNoOpLogHandler() }
            )
            try await controller.start()
            let history = (try? await controller.history(of: "crashy")) ?? []
            var minor = history.compactMap { entry in entry.version.flatMap { Int($0.split(separator: ".")[1]) } }.max() ?? 0
            let live = (try? await controller.status(of: "crashy"))?.liveVersion ?? "none"
            emit("ready live=\(live)")
            while true {
                minor += 1
                let version = "1.\(minor).0"
                let report = try await controller.apply(
                    yaml: Array(yaml(version).utf8), source: "crash-child", isDryRun: false, prune: false)
                guard report.plan.first?.action == .create || report.plan.first?.action == .update else {
                    FileHandle.standardError.write(Data("unexpected plan for \(version): \(report.plan)\n".utf8))
                    return 1
                }
                emit("applied \(version)")
                for i in 0..<1_000 { try await controller.putEntry(map: "crashy", key: "k\(i % 200)", json: Array("\(i)".utf8)) }
                if minor % 3 == 0 {
                    _ = try await controller.rollback(name: "crashy", to: nil, reason: "crash test", source: "crash-child")
                    emit("rolledback \(version)")
                }
            }
        } catch {
            FileHandle.standardError.write(Data("controller-crash-child: \(error)\n".utf8))
            return 1
        }
    }

    static func yaml(_ version: String) -> String {
        """
        name: crashy
        version: \(version)
        key_type: string
        value_type: int64
        rollback_window: 10m
        rollout:
          standby: \(version.hasSuffix("0.0") ? "warm" : "cold")
          interval: 1s

        """
    }

    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
