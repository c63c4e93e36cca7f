import LiveMaps
import MapSchema
import Synchronization
import TestServers
import Testing

/// Torn, stale and freed reads with keys and values that hold references (heap strings), while the
/// table grows under the readers and entries are deleted and put back: the `snapshot` strategy reads
/// such slots without a lock and must neither follow a half-written reference nor one already freed.
/// Each value names its key, carries a checksum of it and a sequence number that only grows; readers
/// check all three. Runs under ThreadSanitizer with the other stress tests (`--filter Stress`).
@Suite("Stress: reference keys and values, growing and churning", .heavy)
struct StressReferenceReadTests {
    static let stableKeys = 192
    static let churnKeys = 64
    static let rounds = 25

    /// Long enough (over 15 UTF-8 bytes) to live on the heap.
    static func stableKey(_ index: Int) -> String { "stable-key-number-\(index)-padding" }
    static func churnKey(_ index: Int) -> String { "churn-key-number-\(index)-padding" }

    static func checksum(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }

    static func value(for key: String, sequence: Int) -> String { "\(key)|\(sequence)|\(checksum(key))" }

    /// The sequence in a value written for `key`, or nil when the value is not one.
    static func sequence(in value: String, for key: String) -> Int? {
        let parts = value.split(separator: "|")
        guard parts.count == 3, parts[0] == key, UInt64(parts[2]) == checksum(key) else { return nil }
        return Int(parts[1])
    }

    @Test("Readers see whole, live values for heap keys and values while the table grows and churns", arguments: Strategy.allCases)
    func referenceReads(strategy: Strategy) async throws {
        let map = LiveMap<String, String>(configuration: .init(strategy: strategy, shards: 4))
        let writersDone = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        @Sendable func fail(_ message: String) { failures.withLock { if $0.count < 10 { $0.append(message) } } }
        await runThreads(4) { thread in
            if thread == 0 {
                // Grows the table from empty (rehashes while readers read) and then keeps overwriting.
                for round in 1...Self.rounds {
                    for index in 0..<Self.stableKeys {
                        let key = Self.stableKey(index)
                        try? map.put(key, Self.value(for: key, sequence: round))
                    }
                }
                writersDone.add(1, ordering: .acquiringAndReleasing)
                return
            }
            if thread == 1 {
                // Deletes and puts back: removed keys and values are retired while readers may hold them.
                for round in 1...(Self.rounds * 3) {
                    for index in 0..<Self.churnKeys {
                        let key = Self.churnKey(index)
                        if (round + index) % 3 == 0 {
                            map.delete(key)
                        } else {
                            try? map.put(key, Self.value(for: key, sequence: round))
                        }
                    }
                }
                writersDone.add(1, ordering: .acquiringAndReleasing)
                return
            }
            var seen = [Int](repeating: 0, count: Self.stableKeys)
            var random = TestRandom(seed: UInt64(thread) * 13)
            while writersDone.load(ordering: .acquiring) < 2 {
                let index = random.below(Self.stableKeys + Self.churnKeys)
                if index < Self.stableKeys {
                    let key = Self.stableKey(index)
                    guard let value = map.get(key) else {
                        if seen[index] != 0 { fail("\(key) vanished after sequence \(seen[index])") }
                        continue
                    }
                    guard let sequence = Self.sequence(in: value, for: key) else {
                        fail("\(key): torn or foreign value \(value)")
                        continue
                    }
                    if sequence < seen[index] { fail("\(key): sequence \(sequence) after \(seen[index])") }
                    seen[index] = sequence
                } else {
                    let key = Self.churnKey(index - Self.stableKeys)
                    if let value = map.get(key), Self.sequence(in: value, for: key) == nil {
                        fail("\(key): torn or foreign value \(value)")
                    }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        for index in 0..<Self.stableKeys {
            let key = Self.stableKey(index)
            #expect(map.get(key) == Self.value(for: key, sequence: Self.rounds))
        }
        let churned = map.snapshot().filter { $0.0.hasPrefix("churn-") }
        for (key, value) in churned { #expect(Self.sequence(in: value, for: key) == Self.rounds * 3) }
    }
}
