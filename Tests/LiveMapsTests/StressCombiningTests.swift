import LiveMaps
import MapSchema
import Synchronization
import TestServers
import Testing

/// The `serialized` strategy hands a contended write to whichever thread is applying writes: the request
/// stays on the waiting thread's stack, one of 16 slots carries its address, and the combiner writes the
/// outcome back before it frees the slot. These tests would catch an outcome delivered to the wrong
/// thread, a write applied twice or never, a slot freed before its outcome is written, or a waiter that
/// returns early: with more threads than slots (so threads share a slot) and with batches of 1 and 2 (so
/// a combiner leaves published writes for a later pass). Run under ThreadSanitizer with the other stress
/// tests (`--filter Stress`).
@Suite("Stress: serialized writes handed to the combining thread", .heavy)
struct StressCombiningTests {
    @Test(
        "Every write is applied once and its outcome reaches its own thread",
        .timeLimit(.minutes(10)),
        arguments: [1, 2, 256])
    func outcomesReachTheirWriters(batch: Int) async throws {
        let map = LiveMap<UInt64, UInt64>(
            configuration: .init(strategy: .serialized, batch: BatchPolicy(maxSize: batch), latencySampleInterval: 4))
        let threads = 24
        let rounds = 400
        let counterKey = UInt64.max
        try map.put(counterKey, 0)
        let failures = StressTests.Failures()
        let wins = Atomic<Int>(0)
        await runThreads(threads) { thread in
            let base = UInt64(thread) << 32
            for round in 0..<rounds {
                let key = base | UInt64(round)
                let value = key &* 0x9E37_79B9_7F4A_7C15 | 1
                // A put of a fresh key, then a delete that must hand back exactly that value.
                do { try map.put(key, value) } catch { failures.add("put \(key): \(error)") }
                if map.get(key) != value { failures.add("read after put \(key)") }
                let removed = map.delete(key)
                if removed != value { failures.add("delete \(key) returned \(String(describing: removed)), put \(value)") }
                if map.delete(key) != nil { failures.add("second delete \(key) found a value") }
                // A contended compare-and-set: its answer must be this thread's own.
                let current = map.get(counterKey) ?? 0
                if (try? map.compareAndSet(counterKey, expected: current, new: current + 1)) == true {
                    wins.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failures.all == [])
        // Each successful compare-and-set added exactly one; a lost or doubled write would show here.
        #expect(map.get(counterKey) == UInt64(wins.load(ordering: .relaxed)))
        #expect(map.count == 1)
        let totals = map.counters.snapshot()
        #expect(totals.count(.put, .ok) == UInt64(threads * rounds + 1))
        #expect(totals.count(.delete, .ok) == UInt64(threads * rounds))
        #expect(totals.count(.delete, .miss) == UInt64(threads * rounds))
    }
}
