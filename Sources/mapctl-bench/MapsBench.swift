import Foundation
import LiveMaps
import MapSchema
import Synchronization

/// `mapctl-bench maps`: the live map engine against a `Mutex<[UInt64: Int64]>` baseline, with the same
/// workload as the Go peer (../shared/peers/go-maps): 1,000,000 prefilled keys, uniform random keys from
/// a per-thread xorshift64*, read100 / read90 / mixed50 / write90 (a write overwrites an existing key).
///
/// Output lines mirror the Go peer's so that one script can join them:
/// `RESULT swift <target> <workload> <threads> <Mops/s> <foreign-cores> <attempts>`, `MEM swift <target> <bytes/entry>`.
enum MapsBench {
    static let keyCount: UInt64 = 1_000_000

    struct Options {
        var ops = 5_000_000
        var threads = [1, 2]
        var clean = 0.25
        var tries = 4
        var targets = ["baseline"] + Strategy.allCases.map(\.rawValue)
        var workloads = ["read100", "read90", "mixed50", "write90"]
        var countersOff = true
        var memoryOnly = false
        var emptyMaps = false
    }

    static func run(_ arguments: [String]) -> Int32 {
        var options = Options()
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--ops": options.ops = Int(iterator.next() ?? "") ?? options.ops
            case "--threads": options.threads = (iterator.next() ?? "1,2").split(separator: ",").compactMap { Int($0) }
            case "--clean": options.clean = Double(iterator.next() ?? "") ?? options.clean
            case "--tries": options.tries = Int(iterator.next() ?? "") ?? options.tries
            case "--targets": options.targets = (iterator.next() ?? "").split(separator: ",").map(String.init)
            case "--workloads": options.workloads = (iterator.next() ?? "").split(separator: ",").map(String.init)
            case "--no-counters-off": options.countersOff = false
            case "--memory-only": options.memoryOnly = true
            case "--empty-maps": options.emptyMaps = true
            default:
                FileHandle.standardError.write(
                    Data(
                        ("usage: mapctl-bench maps [--ops N] [--threads 1,2] [--clean CORES] [--tries N] "
                            + "[--targets baseline,mutex,...] [--workloads read100,...] [--no-counters-off] [--memory-only] [--empty-maps]\n")
                            .utf8))
                return 64
            }
        }
        if options.emptyMaps {
            EmptyMapFootprint.run()
            return 0
        }
        if options.memoryOnly {
            for target in options.targets {
                if target == "baseline" {
                    let (map, bytes, rss) = measureMemory { BaselineMap.prefilled() }
                    print("MEM swift baseline \(format(bytes)) rss=\(format(rss))")
                    withExtendedLifetime(map) {}
                } else if let strategy = Strategy(rawValue: target) {
                    let (map, bytes, rss) = measureMemory { LiveTarget.prefilled(strategy: strategy, counters: true) }
                    let estimated = Double(map.map.estimatedBytes) / Double(keyCount)
                    print("MEM swift \(target) \(format(bytes)) estimated=\(format(estimated)) rss=\(format(rss))")
                }
            }
            return 0
        }
        for target in options.targets {
            if target == "baseline" {
                runWorkloads(BaselineMap.prefilled(), name: "baseline", options: options)
                continue
            }
            if target.hasSuffix("-nocounters"), let strategy = Strategy(rawValue: String(target.dropLast("-nocounters".count))) {
                runWorkloads(LiveTarget.prefilled(strategy: strategy, counters: false), name: target, options: options)
                continue
            }
            guard let strategy = Strategy(rawValue: target) else {
                FileHandle.standardError.write(Data("unknown target \(target)\n".utf8))
                return 64
            }
            var uncounted: LiveTarget?
            do {
                let counted = LiveTarget.prefilled(strategy: strategy, counters: true)
                runWorkloads(counted, name: target, options: options)
                if options.countersOff {
                    let fresh = LiveTarget.prefilled(strategy: strategy, counters: false)
                    compareCounters(counted, fresh, name: target, options: options)
                    uncounted = fresh
                }
            }
            // The uncounted map's lone runs (its RESULT lines, as before), with the counted map freed.
            if let uncounted { runWorkloads(uncounted, name: "\(target)-nocounters", options: options, warm: false) }
        }
        return 0
    }

    static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    static func writePercent(_ workload: String) -> UInt64 {
        switch workload {
        case "read100": 0
        case "read90": 10
        case "mixed50": 50
        case "write90": 90
        default: 0
        }
    }

    static func runWorkloads<Target: BenchTarget>(_ target: Target, name: String, options: Options, warm: Bool = true) {
        if warm {
            for key in 0..<keyCount { _ = target.load(key) }  // warm-up, as the Go peer does
        }
        for workload in options.workloads {
            for threads in options.threads {
                let point = measureClean(
                    target, threads: threads, writePercent: writePercent(workload), totalOps: options.ops, options: options)
                printResult(name, workload, threads, point)
            }
        }
    }

    /// Counters on against counters off, side by side: at each point the counted map and an uncounted one
    /// alternate in the order on, off, off, on, on, off, off, on, each for an eighth of the operations.
    /// Prints `COUNTERS swift <strategy> <workload> <threads> <on Mops/s> <off Mops/s> <on/off>`: the
    /// medians of each side and the median of the four pairs' ratios.
    ///
    /// Measured one after the other, seconds apart, the two sides drifted apart by more than the counters
    /// cost. Side by side, both run with two 1M-entry maps in the process and after each other's turn,
    /// which costs each of them alike (up to 40 % of a lone run's throughput here), hence the separate
    /// line: both maps' RESULT lines stay lone runs, as the peers' are.
    static func compareCounters(_ counted: LiveTarget, _ uncounted: LiveTarget, name: String, options: Options) {
        for key in 0..<keyCount { _ = uncounted.load(key) }
        let order = [true, false, false, true, true, false, false, true]
        let share = max(1, options.ops / order.count)
        for workload in options.workloads {
            for threads in options.threads {
                var on: [Double] = []
                var off: [Double] = []
                for isCounted in order {
                    let point = measureClean(
                        isCounted ? counted : uncounted, threads: threads, writePercent: writePercent(workload), totalOps: share,
                        options: options)
                    if isCounted { on.append(point.mops) } else { off.append(point.mops) }
                }
                // Pairs in time order: (on, off), (off, on), (on, off), (off, on).
                let ratios = (0..<4).map { on[$0] / off[$0] }
                let sides = "\(format(median(on))) \(format(median(off))) \(format(median(ratios)))"
                print("COUNTERS swift \(name) \(workload) \(threads) \(sides)")
                fflush(nil)
            }
        }
    }

    /// One measured point: Mops/s, the foreign cores busy meanwhile, and the attempts it took.
    struct Point {
        var mops: Double
        var foreign: Double
        var attempts: Int
    }

    /// Measures until the other cores were quiet enough (`--clean`), at most `--tries` times.
    static func measureClean<Target: BenchTarget>(_ target: Target, threads: Int, writePercent: UInt64, totalOps: Int, options: Options)
        -> Point
    {
        var attempts = 0
        var result = (mops: 0.0, foreign: 0.0)
        repeat {
            if attempts > 0 { Thread.sleep(forTimeInterval: 2) }
            attempts += 1
            result = measure(target, threads: threads, writePercent: writePercent, totalOps: totalOps)
        } while result.foreign > options.clean && attempts < options.tries
        return Point(mops: result.mops, foreign: result.foreign, attempts: attempts)
    }

    static func printResult(_ name: String, _ workload: String, _ threads: Int, _ point: Point) {
        print("RESULT swift \(name) \(workload) \(threads) \(format(point.mops)) \(format(point.foreign)) \(point.attempts)")
        fflush(nil)
    }

    /// Runs `threads` threads of `totalOps / threads` operations each; returns Mops/s and foreign cores.
    static func measure<Target: BenchTarget>(_ target: Target, threads: Int, writePercent: UInt64, totalOps: Int) -> (
        mops: Double, foreign: Double
    ) {
        let perThread = totalOps / threads
        let ready = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let sink = Atomic<Int64>(0)
        let sinkBox = SinkBox()
        for index in 0..<threads {
            let thread = Thread {
                var state = UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15 | 1
                var sum: Int64 = 0
                ready.signal()
                go.wait()
                for _ in 0..<perThread {
                    state ^= state >> 12
                    state ^= state << 25
                    state ^= state >> 27
                    let random = state &* 0x2545_F491_4F6C_DD1D
                    let key = ((random >> 32) &* keyCount) >> 32
                    if ((random & 0xFFFF_FFFF) &* 100) >> 32 < writePercent {
                        target.store(key, Int64(bitPattern: random))
                    } else {
                        sum &+= target.load(key) ?? 0
                    }
                }
                sinkBox.value.wrappingAdd(sum, ordering: .relaxed)
                done.signal()
            }
            thread.start()
        }
        for _ in 0..<threads { ready.wait() }
        let before = cpuSnapshot()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<threads { go.signal() }
        for _ in 0..<threads { done.wait() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let after = cpuSnapshot()
        sink.wrappingAdd(sinkBox.value.load(ordering: .relaxed), ordering: .relaxed)
        let foreign = ((after.busy - before.busy) - (after.own - before.own)) / elapsed
        return (Double(perThread * threads) / elapsed / 1e6, foreign)
    }

    final class SinkBox: Sendable {
        let value = Atomic<Int64>(0)
    }

    /// Machine-wide busy CPU seconds (/proc/stat, USER_HZ = 100) and this process's CPU seconds, as the Go peer reads them.
    static func cpuSnapshot() -> (busy: Double, own: Double) {
        var busy: UInt64 = 0
        if let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let line = text.split(separator: "\n").first {
            for (index, field) in line.split(separator: " ").dropFirst().enumerated() where index != 3 && index != 4 {
                busy += UInt64(field) ?? 0
            }
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let own =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
        return (Double(busy) / 100, own)
    }

    /// Anonymous resident bytes per entry that `build` adds (and all resident bytes, `rss`). Meaningful
    /// only as the first allocation of a fresh process (freed memory is reused without showing in RSS),
    /// hence `--memory-only`, one target per run.
    ///
    /// Anonymous: the heap and mappings the data lives in, as the peers count their heaps (Go's
    /// `HeapAlloc`, Java's used heap). All of RSS also counts the pages of code (the Swift runtime,
    /// the standard library) that the first operations fault in, about 2 MB here, 2 bytes per entry that
    /// are not the map's.
    static func measureMemory<T>(_ build: () -> T) -> (T, Double, Double) {
        let (anonymousBefore, residentBefore) = memory()
        let value = build()
        let (anonymousAfter, residentAfter) = memory()
        return (
            value, Double(anonymousAfter - anonymousBefore) / Double(keyCount), Double(residentAfter - residentBefore) / Double(keyCount)
        )
    }

    /// Anonymous resident bytes: statm's resident pages minus its shared (file-backed) ones.
    static func residentBytes() -> Int { memory().anonymous }

    static func memory() -> (anonymous: Int, resident: Int) {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return (0, 0) }
        let fields = text.split(separator: " ")
        guard fields.count > 2, let resident = Int(fields[1]), let shared = Int(fields[2]) else { return (0, 0) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        return ((resident - shared) * page, resident * page)
    }
}

/// What the benchmark loop calls; generic so that each target's calls are specialized and inlined.
protocol BenchTarget: Sendable {
    func load(_ key: UInt64) -> Int64?
    func store(_ key: UInt64, _ value: Int64)
}

/// The baseline: Swift's `Dictionary` behind `Synchronization.Mutex`.
final class BaselineMap: BenchTarget {
    let storage = Mutex<[UInt64: Int64]>([:])

    static func prefilled() -> BaselineMap {
        let map = BaselineMap()
        map.storage.withLock { dictionary in
            for key in 0..<MapsBench.keyCount { dictionary[key] = Int64(key) }
        }
        return map
    }

    func load(_ key: UInt64) -> Int64? { storage.withLock { $0[key] } }
    func store(_ key: UInt64, _ value: Int64) { storage.withLock { $0[key] = value } }
}

struct LiveTarget: BenchTarget {
    let map: LiveMap<UInt64, Int64>

    static func prefilled(strategy: Strategy, counters: Bool) -> LiveTarget {
        let map = LiveMap<UInt64, Int64>(configuration: .init(strategy: strategy, shards: 64, countersEnabled: counters))
        for key in 0..<MapsBench.keyCount { try? map.put(key, Int64(key)) }
        return LiveTarget(map: map)
    }

    @inline(__always) func load(_ key: UInt64) -> Int64? { map.get(key) }
    @inline(__always) func store(_ key: UInt64, _ value: Int64) { try? map.put(key, value) }
}
