import Foundation
import LiveMaps
import MapSchema
import Synchronization

/// Runs `body(thread)` on `count` real threads at once and waits for all of them.
///
/// The wait is a suspension, not a blocked thread: the tests run in parallel on a cooperative pool as
/// wide as the machine (2 threads here), and a test that blocked one of them for seconds would starve
/// the others (a watcher test once missed its deadline that way).
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let remaining = Atomic<Int>(count)
        let start = DispatchSemaphore(value: 0)
        for index in 0..<count {
            let thread = Thread {
                start.wait()
                body(index)
                if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                    continuation.resume()
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        for _ in 0..<count { start.signal() }
    }
}

/// A small deterministic generator per thread (xorshift64*).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

func schema(
    keyType: KeyType = .string, valueType: ValueType = .scalar(.json), fields: [RecordField] = [],
    strategy: Strategy = .sharded, capacity: Capacity? = nil, ttl: Duration? = nil, faultInjection: FaultInjection? = nil
) -> MapSchema {
    MapSchema(
        name: "test_map", version: SemanticVersion(major: 1, minor: 0, patch: 0), keyType: keyType, valueType: valueType,
        fields: fields, strategy: strategy, shards: 8, capacity: capacity, ttl: ttl, faultInjection: faultInjection)
}
