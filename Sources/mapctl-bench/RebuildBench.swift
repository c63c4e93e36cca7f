import Foundation
import Governance
import LiveMaps
import Logging
import MapController
import MapSchema
import Rollout
import Synchronization

/// `mapctl-bench rebuild`: the controller's online rebuild and rollbacks at 1M entries under a concurrent writer.
///
/// Prints one line per figure, `RESULT <name> <value> <unit> target=<...> baseline=<...> ratio=<...>`, with the
/// baseline measured in the same run:
/// - rebuild: snapshot + copy + replay + switch of 1M entries while a writer writes (vs. a plain copy of the
///   same 1M entries into a `Dictionary`, and vs. the same copy into a fresh `DynamicMap` with no writer);
/// - the writer pause at the switch (the gate's closed time), p50/p99/max over the runs, and the latency the
///   writer itself saw (p99, max) over all its writes during the rebuilds;
/// - the warm rollback switch; the cold rollback (copy back) at 1M;
/// - the time from the failing check to the rollback done, through a real `Controller` (state in SQLite).
enum RebuildBench {
    struct Options {
        var entries = 1_000_000
        var runs = 10
        /// Only the same-run baselines (no writer), e.g. to profile the copy.
        var baselinesOnly = false
    }

    static func run(_ arguments: [String]) async -> Int32 {
        var options = Options()
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--entries": options.entries = Int(iterator.next() ?? "") ?? options.entries
            case "--runs": options.runs = Int(iterator.next() ?? "") ?? options.runs
            case "--baselines-only": options.baselinesOnly = true
            default:
                FileHandle.standardError.write(Data("usage: mapctl-bench rebuild [--entries N] [--runs N] [--baselines-only]\n".utf8))
                return 64
            }
        }
        let schema = benchSchema(version: "1.0.0", standby: .warm)
        let entries = (0..<options.entries).map { (MapKey.int64(Int64($0)), JSONValue.int(Int64($0))) }
        print("rebuild bench: \(options.entries) entries, \(options.runs) runs, \(ProcessInfo.processInfo.activeProcessorCount) cores")

        // Baselines: a plain copy into a Dictionary, and the same copy into a DynamicMap with no writer.
        let source = DynamicMap(schema: schema)
        _ = source.load(entries)
        var dictionaryTimes: [Duration] = []
        var offlineTimes: [Duration] = []
        var carryTimes: [Duration] = []
        for _ in 0..<3 {
            // What the rebuild's copy does for this compatible change: the unchecked bulk carry. Freeing
            // the copy is left out of the time (the rebuild frees instances on a background task).
            let target = DynamicMap(schema: benchSchema(version: "0.9.0", standby: .warm))
            carryTimes.append(
                measure {
                    precondition(target.carry(from: source).report.loaded == options.entries)
                })
            dictionaryTimes.append(
                measure {
                    var copy: [MapKey: JSONValue] = [:]
                    copy.reserveCapacity(options.entries)
                    for (key, value) in source.snapshot() { copy[key] = value }
                    precondition(copy.count == options.entries)
                })
            offlineTimes.append(
                measure {
                    let target = DynamicMap(schema: schema)
                    precondition(target.load(source.snapshot()).loaded == options.entries)
                })
        }
        let dictionaryCopy = median(dictionaryTimes)
        let offlineCopy = median(offlineTimes)
        let offlineCarry = median(carryTimes)
        print(
            "BASELINE dictionary-copy \(ms(dictionaryCopy)) ms; dynamicmap-copy-no-writer \(ms(offlineCopy)) ms (load, checked); dynamicmap-carry-no-writer \(ms(offlineCarry)) ms (bulk, unchecked, freeing not timed)"
        )
        if options.baselinesOnly { return 0 }

        // Rebuilds under a writer.
        let governed = GovernedMap(live: source)
        var totals: [Duration] = []
        var pauses: [Duration] = []
        var replayed: [Int] = []
        var copies: [Duration] = []
        let writer = Writer(map: governed, keySpace: options.entries)
        writer.start()
        for run in 0..<options.runs {
            usleep(20_000)
            let report = governed.rebuild(into: DynamicMap(schema: benchSchema(version: "1.\(run + 1).0", standby: .warm)), standby: .none)
            totals.append(report.total)
            pauses.append(report.pause)
            replayed.append(report.replayed)
            copies.append(report.copy)
        }
        let writes = writer.stop()
        precondition(governed.live.count == options.entries, "entries lost: \(governed.live.count)")
        let rebuild = median(totals)
        result("rebuild_1m_total_median", ms(rebuild), "ms", target: "< 500 ms", baseline: dictionaryCopy)
        print(
            "  rebuild total p-max \(ms(totals.max()!)) ms; keys replayed per run (median) \(replayed.sorted()[replayed.count / 2]); copy step (median) \(ms(median(copies))) ms; vs dynamicmap-copy-no-writer ratio \(ratio(rebuild, offlineCopy)); vs dynamicmap-carry-no-writer ratio \(ratio(rebuild, offlineCarry))"
        )
        print(
            "RESULT rebuild_switch_pause p50=\(us(percentile(pauses, 0.5))) p99=\(us(percentile(pauses, 0.99))) max=\(us(pauses.max()!)) us target=\"p99 < 1000 us\""
        )
        print(
            "RESULT writer_latency_during_rebuilds writes=\(writes.count) p50=\(us(percentile(writes, 0.5))) p99=\(us(percentile(writes, 0.99))) max=\(us(writes.max() ?? .zero)) us"
        )

        // Warm rollback: a switch.
        var warmSwitches: [Duration] = []
        var warmCalls: [Duration] = []
        var coldCopies: [Duration] = []
        let rollbackWriter = Writer(map: governed, keySpace: options.entries)
        rollbackWriter.start()
        for run in 0..<options.runs {
            _ = governed.rebuild(
                into: DynamicMap(schema: benchSchema(version: "2.\(run).0", standby: .warm)), standby: .previousLive(.warm))
            usleep(10_000)
            var pause: Duration?
            warmCalls.append(measure { pause = governed.switchToStandby() })
            warmSwitches.append(pause!)
        }
        for run in 0..<max(3, options.runs / 3) {
            usleep(10_000)
            coldCopies.append(
                measure {
                    _ = governed.rebuild(into: DynamicMap(schema: benchSchema(version: "3.\(run).0", standby: .cold)), standby: .none)
                })
        }
        let rollbackWrites = rollbackWriter.stop()
        precondition(governed.live.count == options.entries, "entries lost: \(governed.live.count)")
        print(
            "RESULT warm_rollback_switch p50=\(us(percentile(warmSwitches, 0.5))) p99=\(us(percentile(warmSwitches, 0.99))) max=\(us(warmSwitches.max()!)) us target=\"< 1000 us\""
        )
        print("  warm rollback call incl. freeing the instance rolled back from (after the gate opens): median \(ms(median(warmCalls))) ms")
        result("cold_rollback_1m_median", ms(median(coldCopies)), "ms", target: "none (a copy)", baseline: dictionaryCopy)
        print("  writer latency during rollbacks: p99=\(us(percentile(rollbackWrites, 0.99))) max=\(us(rollbackWrites.max() ?? .zero)) us")

        // From the failing check to the rollback done, through the controller.
        for standby in [RolloutPolicy.Standby.warm, .cold] {
            do {
                let elapsed = try await checkToRollback(entries: entries, standby: standby)
                print(
                    "RESULT check_to_rollback_done_\(standby.rawValue)_1m \(ms(elapsed)) ms (tick: judge the interval, save state + history in SQLite, \(standby == .warm ? "switch" : "copy back 1M"))"
                )
            } catch {
                print("check_to_rollback (\(standby.rawValue)) failed: \(error)")
                return 1
            }
        }
        return 0
    }

    static func checkToRollback(entries: [(MapKey, JSONValue)], standby: RolloutPolicy.Standby) async throws -> Duration {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mapctl-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clock = ManualRolloutClock()
        let controller = try Controller(
            configuration: .init(stateDirectory: directory, clock: clock),
            logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        )
        try await controller.start()
        func yaml(_ version: String) -> String {
            """
            name: bench
            version: \(version)
            key_type: int64
            value_type: int64
            rollback_window: 10m
            rollout:
              standby: \(standby.rawValue)
              interval: 1s
              min_ops: 10
              failure_limit: 1
              max_error_rate: 0.1

            """
        }
        _ = try await controller.apply(yaml: Array(yaml("1.0.0").utf8), source: "bench", isDryRun: false, prune: false)
        _ = controller.governedMap(named: "bench")!.live.load(entries)
        _ = try await controller.apply(yaml: Array(yaml("1.1.0").utf8), source: "bench", isDryRun: false, prune: false)
        let map = controller.governedMap(named: "bench")!
        for i in 0..<100 { try? map.put(.int64(Int64(i)), .string("not a number")) }
        clock.advance(by: .seconds(1))
        let start = ContinuousClock.now
        await controller.tick()
        let elapsed = ContinuousClock.now - start
        let status = try await controller.status(of: "bench")
        precondition(status.liveVersion == "1.0.0" && status.entries == entries.count, "no rollback: \(status)")
        await controller.shutdown()
        return elapsed
    }

    static func benchSchema(version: String, standby: RolloutPolicy.Standby) -> MapSchema {
        var schema = MapSchema(name: "bench", version: try! SemanticVersion(parsing: version), keyType: .int64, valueType: .scalar(.int64))
        schema.rollout.standby = standby
        return schema
    }

    /// One thread writing random keys through the governed map as fast as it can, timing every write.
    final class Writer: Sendable {
        private let map: GovernedMap<DynamicMap>
        private let keySpace: Int
        private let stopFlag = Atomic<Bool>(false)
        private let done = Mutex<[Duration]?>(nil)

        init(map: GovernedMap<DynamicMap>, keySpace: Int) {
            self.map = map
            self.keySpace = keySpace
        }

        func start() {
            let thread = Thread { [self] in
                var latencies: [Duration] = []
                latencies.reserveCapacity(1 << 20)
                var state: UInt64 = 0x9E37_79B9_7F4A_7C15
                while !stopFlag.load(ordering: .acquiring) {
                    state ^= state << 13
                    state ^= state >> 7
                    state ^= state << 17
                    let key = Int64(state % UInt64(keySpace))
                    let start = ContinuousClock.now
                    try? map.put(.int64(key), .int(key))
                    latencies.append(ContinuousClock.now - start)
                }
                done.withLock { $0 = latencies }
            }
            thread.start()
        }

        /// Stops the writer and returns the latency of each of its writes.
        func stop() -> [Duration] {
            stopFlag.store(true, ordering: .releasing)
            while true {
                if let latencies = done.withLock({ $0 }) { return latencies }
                Thread.sleep(forTimeInterval: 0.001)
            }
        }
    }

    static func measure(_ body: () -> Void) -> Duration {
        let start = ContinuousClock.now
        body()
        return ContinuousClock.now - start
    }

    static func median(_ values: [Duration]) -> Duration { percentile(values, 0.5) }

    static func percentile(_ values: [Duration], _ q: Double) -> Duration {
        guard !values.isEmpty else { return .zero }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded(.up)))]
    }

    static func seconds(_ duration: Duration) -> Double {
        let (s, a) = duration.components
        return Double(s) + Double(a) / 1e18
    }

    static func ms(_ duration: Duration) -> String { String(format: "%.1f", seconds(duration) * 1e3) }
    static func us(_ duration: Duration) -> String { String(format: "%.0f", seconds(duration) * 1e6) }
    static func ratio(_ a: Duration, _ b: Duration) -> String { String(format: "%.2f", seconds(a) / max(seconds(b), 1e-12)) }

    static func result(_ name: String, _ value: String, _ unit: String, target: String, baseline: Duration) {
        print(
            "RESULT \(name) \(value) \(unit) target=\"\(target)\" baseline(dictionary-copy)=\(ms(baseline)) ms ratio=\(String(format: "%.2f", (Double(value) ?? 0) / max(seconds(baseline) * 1e3, 1e-9)))"
        )
    }
}
