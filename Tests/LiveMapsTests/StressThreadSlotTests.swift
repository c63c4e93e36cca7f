import Foundation
import LiveMaps
import MapSchema
import Synchronization
import TestServers
import Testing

/// Counter blocks are written with plain loads and stores by the one thread that owns their slot, which a
/// thread reads from a C thread-local and gives back when it exits, for a later thread to claim. If two
/// live threads ever held one owned slot (a slot given back too early, a thread-local read from the
/// wrong thread), their increments would race and counts would be lost: the counts here must come out
/// exact while 80 threads pass through the 64 slots. Run under ThreadSanitizer with the other stress
/// tests (`--filter Stress`).
@Suite("Stress: counter slots while threads come and go", .heavy)
struct StressThreadSlotTests {
    @Test(
        "Counts stay exact while 80 short-lived threads, four at a time, take and give back slots",
        .timeLimit(.minutes(10)),
        arguments: Strategy.allCases)
    func churn(strategy: Strategy) async throws {
        let map = LiveMap<Int, Int>(configuration: .init(strategy: strategy, latencySampleInterval: 4))
        for key in 0..<1_000 { try map.put(key, key) }
        let before = map.counters.snapshot()
        let lanes = 4
        let threadsPerLane = 20
        let operations = 1_000
        let misses = Atomic<Int>(0)
        // Each lane runs its threads one after another, so at most `lanes` hold a slot at once while
        // 80 threads in all pass through the 64 slots.
        await runThreads(lanes) { lane in
            for generation in 0..<threadsPerLane {
                let finished = DispatchSemaphore(value: 0)
                let thread = Thread {
                    var random = TestRandom(seed: UInt64(lane * 1_000 + generation + 1))
                    for step in 0..<operations {
                        let key = Int(random.below(1_000))
                        if step % 2 == 0 {
                            try? map.put(key, step)
                        } else if map.get(key) == nil {
                            misses.add(1, ordering: .relaxed)
                        }
                    }
                    finished.signal()
                }
                thread.stackSize = 1 << 20
                thread.start()
                finished.wait()
            }
        }
        let counted = map.counters.snapshot().delta(since: before)
        let perKind = UInt64(lanes * threadsPerLane * operations / 2)
        #expect(misses.load(ordering: .relaxed) == 0)
        #expect(counted.count(.put, .ok) == perKind)
        #expect(counted.count(.get, .ok) == perKind)
        #expect(counted.totalOps == 2 * perKind)
    }
}
