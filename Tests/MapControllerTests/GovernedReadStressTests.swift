import Foundation
import Synchronization
import TestServers
import Testing

@testable import Governance
@testable import MapController

/// Reads of a governed map take no lock of the governance: they load the routing through an atomic
/// pointer and count themselves in their thread's stripe. These tests would catch a read from a routing
/// that was released (a crash, or garbage under ThreadSanitizer), a torn value, and a stale read.
@Suite("Governed map reads under switches (Stress)", .heavy)
struct GovernedReadStressTests {
    static let keysPerWriter = 64
    static let writers = 2

    /// A value carries its key, so a value read under another key is caught.
    static func value(key: Int, sequence: Int) -> Int { sequence * 1_000_000 + key }
    static func decode(_ value: Int) -> (key: Int, sequence: Int) { (value % 1_000_000, value / 1_000_000) }

    @Test(
        "readers on their own threads never see a value of another key, nor one older than what they saw or what was acknowledged, while the routing is switched"
    )
    func readsAcrossSwitches() throws {
        let map = GovernedMap(live: DictionaryInstance(), switchThreshold: 16)
        let keyCount = Self.keysPerWriter * Self.writers
        let acknowledged = AcknowledgedSequences(count: keyCount)
        let stop = Atomic<Bool>(false)
        let failures = Atomic<Int>(0)
        let reads = Atomic<Int>(0)

        var threads: [Thread] = []
        for writer in 0..<Self.writers {
            threads.append(
                Thread {
                    var sequence = 1
                    var generator = SplitMix(seed: UInt64(writer + 11))
                    while !stop.load(ordering: .relaxed) {
                        let key = writer * Self.keysPerWriter + Int(generator.next() % UInt64(Self.keysPerWriter))
                        sequence += 1
                        try? map.put(key, Self.value(key: key, sequence: sequence))
                        acknowledged.store(sequence, at: key)
                    }
                })
        }
        for reader in 0..<2 {
            threads.append(
                Thread {
                    var seen = [Int](repeating: 0, count: keyCount)
                    var generator = SplitMix(seed: UInt64(reader + 101))
                    while !stop.load(ordering: .relaxed) {
                        let key = Int(generator.next() % UInt64(keyCount))
                        let floor = acknowledged.load(at: key)
                        guard let read = try? map.get(key) else {
                            if floor > 0 || seen[key] > 0 { failures.add(1, ordering: .relaxed) }
                            continue
                        }
                        let (readKey, sequence) = Self.decode(read)
                        if readKey != key || sequence < floor || sequence < seen[key] {
                            failures.add(1, ordering: .relaxed)
                        }
                        seen[key] = max(seen[key], sequence)
                        reads.add(1, ordering: .relaxed)
                    }
                })
        }
        for thread in threads { thread.start() }
        // Every kind of routing change, many times: rebuilds (with and without a warm standby), warm
        // rollbacks, standby installs and releases.
        for round in 0..<300 {
            _ = map.rebuild(into: DictionaryInstance(), standby: .previousLive(.warm))
            if round % 3 == 0 { _ = map.switchToStandby() }
            if round % 5 == 0 { map.releaseStandby() }
            _ = map.rebuild(into: DictionaryInstance(), standby: .none)
        }
        stop.store(true, ordering: .relaxed)
        for thread in threads {
            while !thread.isFinished { usleep(1_000) }
        }
        #expect(reads.load(ordering: .relaxed) > 0)
        #expect(
            failures.load(ordering: .relaxed) == 0,
            "reads that saw another key's value, a stale value, or nothing after an acknowledged write")
    }
}

/// Per-key atomics for the acknowledged sequences.
final class AcknowledgedSequences: Sendable {
    private let cells: [AtomicCell]
    init(count: Int) { cells = (0..<count).map { _ in AtomicCell() } }
    func store(_ value: Int, at index: Int) { cells[index].value.store(value, ordering: .releasing) }
    func load(at index: Int) -> Int { cells[index].value.load(ordering: .acquiring) }

    final class AtomicCell: Sendable {
        let value = Atomic<Int>(0)
    }
}
