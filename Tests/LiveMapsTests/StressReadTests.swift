import LiveMaps
import MapSchema
import Synchronization
import TestServers
import Testing

/// Torn and stale reads: each key has one writer, which stores values carrying a checksum of the key
/// and an increasing sequence number; readers check the checksum (a torn or misplaced value fails it)
/// and that a key never goes back to an older sequence than one they already saw. Runs under
/// ThreadSanitizer with the other stress tests (`--filter Stress`).
@Suite("Stress: no torn or stale reads", .heavy)
struct StressReadTests {
    static let keys = 256
    static let writes = 40

    static func checksum(_ key: UInt64) -> UInt64 { (key &* 0x9E37_79B9_7F4A_7C15) >> 40 }

    @Test("Readers see whole values and never an older one than they saw", arguments: Strategy.allCases)
    func noTornOrStaleReads(strategy: Strategy) async throws {
        let map = LiveMap<UInt64, UInt64>(configuration: .init(strategy: strategy, shards: 16))
        let writersDone = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        await runThreads(4) { thread in
            if thread < 2 {
                // Writer `thread` owns the keys of its parity; sequence numbers only grow.
                for sequence in 1...UInt64(Self.writes) {
                    for key in stride(from: UInt64(thread), to: UInt64(Self.keys), by: 2) {
                        try? map.put(key, sequence << 32 | Self.checksum(key))
                    }
                }
                writersDone.add(1, ordering: .acquiringAndReleasing)
                return
            }
            var seen = [UInt64](repeating: 0, count: Self.keys)
            var random = TestRandom(seed: UInt64(thread) * 7)
            while writersDone.load(ordering: .acquiring) < 2 {
                let key = UInt64(random.below(Self.keys))
                guard let value = map.get(key) else {
                    if seen[Int(key)] != 0 { failures.withLock { $0.append("key \(key) vanished after sequence \(seen[Int(key)])") } }
                    continue
                }
                if value & 0xFFFF_FFFF != Self.checksum(key) {
                    failures.withLock { $0.append("key \(key): torn or foreign value \(value)") }
                }
                let sequence = value >> 32
                if sequence < seen[Int(key)] {
                    failures.withLock { $0.append("key \(key): sequence \(sequence) after \(seen[Int(key)])") }
                }
                seen[Int(key)] = sequence
            }
        }
        #expect(failures.withLock { Array($0.prefix(10)) } == [])
        for key in 0..<UInt64(Self.keys) { #expect(map.get(key) == UInt64(Self.writes) << 32 | Self.checksum(key)) }
    }
}
