import Foundation
import MapSchema
import Synchronization

/// `mapctl-bench governed`: the path a user touches, against the bare engine and a `Dictionary`.
///
/// The seed's user cache, as the Go peer `go-strings` runs it: 100,000 keys `u0`…`u99999`, each mapped to
/// a `User {id, name, email, verified}`; uniform random keys and ops from a per-thread xorshift64*;
/// read100 / read90 / mixed50 (a write replaces the value of an existing key with one of 1,024 users).
/// Every target runs the same loop; only what one read or write goes through differs (see
/// ``GovernedTargetKind``). Output mirrors the Go peer's, so one script can join both:
/// `RESULT swift <target> <workload> <threads> <Mops/s> <foreign-cores> <attempts>`.
enum GovernedBench {
    static let keyCount: UInt64 = 100_000
    /// Distinct users a write picks from (`r & 1023`), as the Go peer does.
    static let userCount = 1024

    struct Options {
        var ops = 5_000_000
        var threads = [1, 2]
        var clean = 0.25
        var tries = 4
        var targets = GovernedTargetKind.all.map(\.name)
        var workloads = ["read100", "read90", "mixed50"]
    }

    static let usage =
        "usage: mapctl-bench governed [--ops N] [--threads 1,2] [--clean CORES] [--tries N] "
        + "[--targets dictionary,live-sharded,typed-sharded,dynamic-sharded,window-sharded,...] "
        + "[--workloads read100,read90,mixed50]\n"

    static func run(_ arguments: [String]) async -> Int32 {
        guard let options = parse(arguments) else {
            FileHandle.standardError.write(Data(usage.utf8))
            return 64
        }
        var kinds: [GovernedTargetKind] = []
        for name in options.targets {
            guard let kind = GovernedTargetKind(name: name) else {
                FileHandle.standardError.write(Data("unknown target '\(name)'\n\(usage)".utf8))
                return 64
            }
            kinds.append(kind)
        }
        let data = UserCacheData()
        for kind in kinds {
            do {
                try await GovernedTargets.run(kind, data: data, options: options)
            } catch {
                FileHandle.standardError.write(Data("\(kind.name): setup failed: \(error)\n".utf8))
                return 1
            }
        }
        return 0
    }

    static func parse(_ arguments: [String]) -> Options? {
        var options = Options()
        var iterator = arguments.makeIterator()
        func list(_ text: String?) -> [String]? {
            guard let text else { return nil }
            let items = text.split(separator: ",").map(String.init)
            return items.isEmpty ? nil : items
        }
        while let argument = iterator.next() {
            switch argument {
            case "--ops":
                guard let value = iterator.next().flatMap(Int.init), value > 0 else { return nil }
                options.ops = value
            case "--threads":
                guard let items = list(iterator.next()) else { return nil }
                let threads = items.compactMap { Int($0) }.filter { $0 > 0 }
                guard threads.count == items.count else { return nil }
                options.threads = threads
            case "--clean":
                guard let value = iterator.next().flatMap(Double.init) else { return nil }
                options.clean = value
            case "--tries":
                guard let value = iterator.next().flatMap(Int.init), value > 0 else { return nil }
                options.tries = value
            case "--targets":
                guard let items = list(iterator.next()) else { return nil }
                options.targets = items
            case "--workloads":
                guard let items = list(iterator.next()), items.allSatisfy(writePercent.keys.contains) else { return nil }
                options.workloads = items
            default:
                return nil
            }
        }
        return options
    }

    static let writePercent: [String: UInt64] = ["read100": 0, "read90": 10, "mixed50": 50]

    static func runWorkloads<Target: UserCacheTarget>(_ target: Target, name: String, data: UserCacheData, options: Options) {
        for key in data.keys { _ = target.load(key) }  // warm-up, as the Go peer does
        for workload in options.workloads {
            let percent = writePercent[workload] ?? 0
            for threads in options.threads {
                var attempts = 0
                var result = Measurement(mops: 0, foreign: 0, errors: 0)
                repeat {
                    if attempts > 0 { Thread.sleep(forTimeInterval: 2) }
                    attempts += 1
                    result = measure(target, data: data, threads: threads, writePercent: percent, totalOps: options.ops)
                } while result.foreign > options.clean && attempts < options.tries
                if result.errors > 0 {
                    // A refused or missing operation is not the path being timed: say so beside the figure.
                    FileHandle.standardError.write(
                        Data("WARNING \(name) \(workload) \(threads): \(result.errors) operations failed\n".utf8))
                }
                let mops = MapsBench.format(result.mops)
                print("RESULT swift \(name) \(workload) \(threads) \(mops) \(MapsBench.format(result.foreign)) \(attempts)")
                fflush(nil)
            }
        }
    }

    struct Measurement {
        var mops: Double
        var foreign: Double
        var errors: Int
    }

    /// Runs `threads` threads of `totalOps / threads` operations each: the Go peer's loop, op for op.
    static func measure<Target: UserCacheTarget>(
        _ target: Target, data: UserCacheData, threads: Int, writePercent: UInt64, totalOps: Int
    ) -> Measurement {
        let perThread = totalOps / threads
        let ready = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let totals = Totals()
        let keys = data.keys
        for index in 0..<threads {
            let thread = Thread {
                var state = UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15 | 1
                var verified = 0
                var errors = 0
                ready.signal()
                go.wait()
                for _ in 0..<perThread {
                    state ^= state >> 12
                    state ^= state << 25
                    state ^= state >> 27
                    let random = state &* 0x2545_F491_4F6C_DD1D
                    let key = Int(((random >> 32) &* keyCount) >> 32)
                    if ((random & 0xFFFF_FFFF) &* 100) >> 32 < writePercent {
                        if !target.store(keys[key], Int(random & 1023)) { errors += 1 }
                    } else {
                        switch target.load(keys[key]) {
                        case .verified: verified &+= 1
                        case .present: break
                        case .failed: errors += 1
                        }
                    }
                }
                totals.verified.wrappingAdd(verified, ordering: .relaxed)
                totals.errors.wrappingAdd(errors, ordering: .relaxed)
                done.signal()
            }
            thread.start()
        }
        for _ in 0..<threads { ready.wait() }
        let before = MapsBench.cpuSnapshot()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<threads { go.signal() }
        for _ in 0..<threads { done.wait() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let after = MapsBench.cpuSnapshot()
        let foreign = ((after.busy - before.busy) - (after.own - before.own)) / elapsed
        return Measurement(
            mops: Double(perThread * threads) / elapsed / 1e6, foreign: foreign, errors: totals.errors.load(ordering: .relaxed))
    }

    /// What the threads add up (verified users read, so the reads cannot be optimized away; failed operations).
    final class Totals: Sendable {
        let verified = Atomic<Int>(0)
        let errors = Atomic<Int>(0)
    }
}

/// The keys and the users (as values and as JSON bytes) every target shares, built once.
final class UserCacheData: Sendable {
    let keys: [String]
    let users: [User]
    /// The same users encoded once, for the JSON entry path (a client sends bytes; encoding is not timed).
    let userJSON: [[UInt8]]

    init() {
        keys = (0..<Int(GovernedBench.keyCount)).map { "u\($0)" }
        users = (0..<GovernedBench.userCount).map { User(id: "u\($0)", name: "Ada", email: "ada@example.com", verified: true) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        userJSON = users.map { Array(try! encoder.encode($0)) }  // a plain struct of strings and a bool always encodes
    }
}

/// The seed's user record; field names match the bench schema's `fields`.
struct User: Codable, Sendable, Hashable {
    var id: String
    var name: String
    var email: String
    var verified: Bool
}

/// What one read found.
enum LoadResult {
    case verified
    case present
    /// Missing (every key is prefilled) or refused.
    case failed
}

/// What the benchmark loop calls; generic so that each target's calls are specialized and inlined.
protocol UserCacheTarget: Sendable {
    func load(_ key: String) -> LoadResult
    /// Stores user number `user` (0..<1024) under `key`; false when refused.
    func store(_ key: String, _ user: Int) -> Bool
}
