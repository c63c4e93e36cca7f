import Foundation
import Governance
import LiveMaps
import Logging
import MapController
import MapSchema
import Synchronization

/// `mapctl-bench status-during-rebuild`: how long the control plane takes to answer `GET /v1/maps`
/// (the controller's `statuses()`, what the route serves) while another map is rebuilt, against the same
/// calls with nothing rebuilding, in one run.
///
/// The rebuild runs off the controller's actor; before, a million-entry rebuild held the actor for its
/// whole copy and every status call waited for it.
enum StatusDuringRebuildBench {
    static func run(_ arguments: [String]) async -> Int32 {
        var entries = 1_000_000
        var runs = 5
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--entries": entries = Int(iterator.next() ?? "") ?? entries
            case "--runs": runs = Int(iterator.next() ?? "") ?? runs
            default:
                FileHandle.standardError.write(Data("usage: mapctl-bench status-during-rebuild [--entries N] [--runs N]\n".utf8))
                return 64
            }
        }
        do {
            try await measure(entries: entries, runs: runs)
            return 0
        } catch {
            FileHandle.standardError.write(Data("status-during-rebuild: \(error)\n".utf8))
            return 1
        }
    }

    static func schema(_ name: String, _ version: String) -> [UInt8] {
        Array(
            """
            name: \(name)
            version: \(version)
            key_type: int64
            value_type: int64
            rollback_window: 10m
            rollout:
              standby: warm
              interval: 1s
              min_ops: 10
              failure_limit: 1
              max_error_rate: 0.1

            """.utf8)
    }

    static func measure(entries: Int, runs: Int) async throws {
        let directory = NSTemporaryDirectory() + "mapctl-bench-status-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let controller = try Controller(
            configuration: .init(stateDirectory: directory),
            logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        )
        try await controller.start()
        _ = try await controller.apply(yaml: schema("big", "1.0.0"), source: "bench", isDryRun: false, prune: false)
        for index in 0..<20 {
            _ = try await controller.apply(yaml: schema("small_\(index)", "1.0.0"), source: "bench", isDryRun: false, prune: false)
        }
        _ = controller.governedMap(named: "big")!.live.load((0..<entries).map { (MapKey.int64(Int64($0)), JSONValue.int(Int64($0))) })
        print("status-during-rebuild: \(entries) entries in the rebuilt map, 21 maps, \(runs) rebuilds")

        var idle: [Duration] = []
        var during: [Duration] = []
        var rebuilds: [Duration] = []
        for run in 0..<runs {
            // Idle: the same calls with nothing rebuilding.
            for _ in 0..<200 {
                let start = ContinuousClock.now
                _ = await controller.statuses()
                idle.append(ContinuousClock.now - start)
            }
            let rebuildStart = ContinuousClock.now
            let rebuild = Task {
                _ = try await controller.apply(yaml: schema("big", "1.\(run + 1).0"), source: "bench", isDryRun: false, prune: false)
            }
            while await controller.rebuildsInFlight.isEmpty { await Task.yield() }
            while await !controller.rebuildsInFlight.isEmpty {
                let start = ContinuousClock.now
                _ = await controller.statuses()
                during.append(ContinuousClock.now - start)
            }
            try await rebuild.value
            rebuilds.append(ContinuousClock.now - rebuildStart)
        }
        await controller.shutdown()
        func percentile(_ values: [Duration], _ p: Double) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return .nan }
            let index = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)
            let (seconds, attoseconds) = sorted[max(0, index)].components
            return (Double(seconds) + Double(attoseconds) / 1e18) * 1e3
        }
        print(
            String(
                format: "RESULT status idle p50 %.3f ms p99 %.3f ms (%d calls)", percentile(idle, 0.5), percentile(idle, 0.99), idle.count))
        print(
            String(
                format: "RESULT status during-rebuild p50 %.3f ms p99 %.3f ms max %.3f ms (%d calls)", percentile(during, 0.5),
                percentile(during, 0.99), percentile(during, 1.0), during.count))
        print(String(format: "RESULT rebuild p50 %.1f ms (%d entries)", percentile(rebuilds, 0.5), entries))
    }
}
