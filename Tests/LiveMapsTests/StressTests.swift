import LiveMaps
import MapSchema
import Synchronization
import TestServers
import Testing

/// Concurrency stress: at least four threads of mixed operations per strategy, each checked against a
/// sequential model. CI runs these under ThreadSanitizer (`swift test --sanitize=thread --filter Stress`).
@Suite("Stress", .heavy)
struct StressTests {
    static let threads = 4
    static let opsPerThread = 6_000
    static let ownKeys: UInt64 = 128
    static let sharedBase: UInt64 = 1 << 40
    static let sharedKeys: UInt64 = 8
    static let counterKey: UInt64 = 1 << 41
    static let increments = 300

    final class Failures: Sendable {
        let messages = Mutex<[String]>([])
        func add(_ message: String) { messages.withLock { if $0.count < 20 { $0.append(message) } } }
        var all: [String] { messages.withLock { $0 } }
    }

    /// Each thread owns a key range and checks every result against its own model; shared keys only
    /// ever hold values some thread wrote; a counter incremented by compare-and-set loses no increment.
    @Test("Mixed operations on every strategy agree with a per-key sequential model", arguments: Strategy.allCases)
    func mixedOperationsMatchModel(strategy: Strategy) async throws {
        let map = LiveMap<UInt64, UInt64>(configuration: .init(strategy: strategy, shards: 8, latencySampleInterval: 4))
        try map.put(Self.counterKey, 0)
        let failures = Failures()
        let performed = Atomic<Int>(0)

        await runThreads(Self.threads) { thread in
            var random = TestRandom(seed: UInt64(thread + 1))
            var model: [UInt64: UInt64] = [:]
            let base = UInt64(thread) << 32
            var ops = 0
            var increments = 0
            for step in 0..<Self.opsPerThread {
                let key = base + UInt64(random.below(Int(Self.ownKeys)))
                let value = UInt64(step) << 8 | UInt64(thread)
                switch random.below(100) {
                case 0..<35:
                    if map.get(key) != model[key] {
                        failures.add("get \(key): \(String(describing: map.get(key))) != \(String(describing: model[key]))")
                    }
                case 35..<60:
                    do { try map.put(key, value) } catch { failures.add("put threw \(error)") }
                    model[key] = value
                case 60..<70:
                    if map.delete(key) != model.removeValue(forKey: key) { failures.add("delete \(key) disagreed") }
                case 70..<78:
                    if map.contains(key) != (model[key] != nil) { failures.add("contains \(key) disagreed") }
                case 78..<86:
                    let expected = random.below(2) == 0 ? model[key] : value  // right or (almost always) wrong
                    let swapped = (try? map.compareAndSet(key, expected: expected, new: value)) ?? false
                    if swapped != (expected == model[key]) { failures.add("cas \(key) swapped=\(swapped)") }
                    if swapped { model[key] = value }
                case 86..<94:
                    let shared = Self.sharedBase + UInt64(random.below(Int(Self.sharedKeys)))
                    if random.below(2) == 0 {
                        do { try map.put(shared, value) } catch { failures.add("put shared threw \(error)") }
                    } else if let seen = map.get(shared) {
                        if Int(seen & 0xFF) >= Self.threads || seen >> 8 >= UInt64(Self.opsPerThread) {
                            failures.add("shared key \(shared) holds a value nobody wrote: \(seen)")
                        }
                    }
                default:
                    guard increments < Self.increments else {
                        _ = map.get(key)
                        ops += 1
                        continue
                    }
                    while true {
                        let current = map.get(Self.counterKey) ?? 0
                        ops += 1
                        let swapped = (try? map.compareAndSet(Self.counterKey, expected: current, new: current + 1)) ?? false
                        ops += 1
                        if swapped { break }
                    }
                    increments += 1
                    continue
                }
                ops += 1
            }
            for (key, value) in model where map.get(key) != value { failures.add("final \(key) != \(value)") }
            ops += model.count
            // Finish the increments so the total is known.
            while increments < Self.increments {
                let current = map.get(Self.counterKey) ?? 0
                let swapped = (try? map.compareAndSet(Self.counterKey, expected: current, new: current + 1)) ?? false
                ops += 2
                if swapped { increments += 1 }
            }
            performed.wrappingAdd(ops, ordering: .relaxed)
        }

        #expect(failures.all == [])
        #expect(map.get(Self.counterKey) == UInt64(Self.threads * Self.increments))
        let entries = map.snapshot()
        #expect(entries.count == map.count)
        #expect(Set(entries.map(\.0)).count == entries.count)
        let totals = map.counters.snapshot()
        // +1 put of the counter key, +1 get and +1 snapshot just above.
        #expect(totals.totalOps == UInt64(performed.load(ordering: .relaxed) + 3))
        #expect(totals.errors == 0)
        #expect(totals.latency.count > 0)
    }

    /// With ttl and evict_lru under concurrency: never more than max_entries, every present value real.
    @Test("Limited maps never exceed max_entries under concurrent writers", arguments: Strategy.allCases)
    func limitsHoldUnderConcurrency(strategy: Strategy) async throws {
        let clock = ManualMapClock()
        let map = LiveMap<UInt64, UInt64>(
            configuration: .init(strategy: strategy, shards: 4, maxEntries: 50, onFull: .evictLRU, ttl: .seconds(5), clock: clock))
        let failures = Failures()
        await runThreads(Self.threads) { thread in
            var random = TestRandom(seed: UInt64(thread) + 99)
            for step in 0..<3_000 {
                let key = UInt64(random.below(200))
                switch random.below(10) {
                case 0..<5:
                    do { try map.put(key, key * 2) } catch { failures.add("put threw \(error)") }
                case 5..<8:
                    if let value = map.get(key), value != key * 2 { failures.add("wrong value for \(key)") }
                case 8: map.delete(key)
                default: if thread == 0 && step % 100 == 0 { clock.advance(by: .seconds(1)) }
                }
                let count = map.count
                if count > 50 { failures.add("count \(count) over max_entries") }
            }
        }
        #expect(failures.all == [])
        #expect(map.count <= 50)
        #expect(map.snapshot().count <= 50)
    }

    /// A writer updates keys 0..<64 in order, generation after generation; a point-in-time snapshot
    /// therefore sees a prefix at generation g and the rest at g - 1.
    @Test("Snapshots are consistent points in time while others write", arguments: Strategy.allCases)
    func snapshotsAreConsistent(strategy: Strategy) async throws {
        let map = LiveMap<Int, Int>(configuration: .init(strategy: strategy, shards: 8))
        for key in 0..<64 { try map.put(key, 0) }
        let failures = Failures()
        let stop = Atomic<Bool>(false)
        await runThreads(4) { thread in
            if thread == 0 {
                for generation in 1...300 {
                    for key in 0..<64 { try? map.put(key, generation) }
                }
                stop.store(true, ordering: .releasing)
            } else {
                while !stop.load(ordering: .acquiring) {
                    let values = Dictionary(uniqueKeysWithValues: map.snapshot())
                    guard values.count == 64 else {
                        failures.add("snapshot has \(values.count) entries")
                        continue
                    }
                    let first = values[0]!
                    var seenOlder = false
                    for key in 0..<64 {
                        let value = values[key]!
                        if value == first - 1 {
                            seenOlder = true
                        } else if value != first || seenOlder {
                            failures.add("inconsistent snapshot at key \(key): \(value) after \(first)")
                            break
                        }
                    }
                }
            }
        }
        #expect(failures.all == [])
    }
}
