import LiveMaps
import MapSchema
import Synchronization
import TestServers
import Testing

/// A plan's count of dropped entries is taken in place, shard by shard, while writers go on; run under
/// ThreadSanitizer with the other stress tests (`--filter Stress`).
@Suite("Stress: counting a lossy plan", .heavy)
struct StressPlanTests {
    @Test(
        "entriesDropped counts shard by shard while writers write, and is exact once they stop",
        arguments: [Strategy.sharded, .rwlock, .snapshot])
    func countWhileWriting(strategy: Strategy) async throws {
        let old = schema(keyType: .int64, valueType: .scalar(.json), strategy: strategy)
        let map = DynamicMap(schema: old)
        // Strings are dropped by an int64 value type; numbers are kept.
        for key in 0..<2_000 { try map.put(.int64(Int64(key)), key % 4 == 0 ? .string("s\(key)") : .int(Int64(key))) }
        let narrower = schema(keyType: .int64, valueType: .scalar(.int64), strategy: strategy)
        let stop = Atomic<Bool>(false)
        let failures = Mutex<[String]>([])
        await runThreads(3) { thread in
            if thread == 0 {
                for _ in 0..<20 {
                    let dropped = map.entriesDropped(by: narrower)
                    if dropped < 0 || dropped > 4_000 { failures.withLock { $0.append("dropped \(dropped)") } }
                }
                stop.store(true, ordering: .releasing)
            } else {
                var random = TestRandom(seed: UInt64(thread))
                while !stop.load(ordering: .acquiring) {
                    let key = Int64(2_000 + random.below(2_000))
                    // Writers add numbers only: the count of strings never changes.
                    try? map.put(.int64(key), .int(Int64(key)))
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(map.entriesDropped(by: narrower) == 500)
    }
}
