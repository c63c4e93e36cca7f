import Synchronization
import TestServers
import Testing

@testable import Governance
@testable import MapController

/// Writers that own disjoint keys hammer a governed map while it is rebuilt and rolled back;
/// each writer's model of its keys (last acknowledged write) must match the map at the end.
@Suite("Governed map under concurrent writers", .heavy)
struct GovernedMapStressTests {
    /// One writer's keys and what it last acknowledged for each (nil: deleted).
    final class WriterModel: Sendable {
        let model = Locked<[Int: Int?]>([:])
    }

    final class StopFlag: Sendable {
        private let flag = Atomic<Bool>(false)
        func stop() { flag.store(true, ordering: .releasing) }
        var isStopped: Bool { flag.load(ordering: .acquiring) }
    }

    /// Runs `writers` writer tasks until `action` returns, then returns their merged models.
    static func withWriters(
        _ map: GovernedMap<DictionaryInstance>,
        writers: Int = 3,
        keysPerWriter: Int = 500,
        during action: @escaping @Sendable () async -> Void
    ) async -> [Int: Int?] {
        let stop = StopFlag()
        let models = (0..<writers).map { _ in WriterModel() }
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                let model = models[writer]
                group.addTask {
                    var generator = SplitMix(seed: UInt64(writer + 1))
                    var ops = 0
                    // At least a few thousand ops each, and on until the action is done.
                    while ops < 3_000 || !stop.isStopped {
                        let key = writer * keysPerWriter + Int(generator.next() % UInt64(keysPerWriter))
                        let roll = generator.next() % 10
                        if roll < 6 {
                            let value = Int(generator.next() % 1_000_000)
                            try? map.put(key, value)
                            model.model.withLock { $0[key] = .some(value) }
                        } else if roll < 8 {
                            _ = try? map.delete(key)
                            model.model.withLock { $0[key] = .some(nil) }
                        } else {
                            let current = model.model.withLock { $0[key] ?? nil }
                            let next = Int(generator.next() % 1_000_000)
                            let swapped = (try? map.compareAndSet(key, expected: current, new: next)) ?? false
                            // This writer owns the key, so the CAS must see its own last write.
                            #expect(swapped, "compare-and-set of an owned key failed: key \(key)")
                            if swapped { model.model.withLock { $0[key] = .some(next) } }
                        }
                        ops += 1
                        if ops % 64 == 0 { await Task.yield() }
                    }
                }
            }
            group.addTask {
                await action()
                stop.stop()
            }
        }
        var merged: [Int: Int?] = [:]
        for model in models { merged.merge(model.model.withLock { $0 }) { $1 } }
        return merged
    }

    static func expectMatches(_ instance: DictionaryInstance, _ model: [Int: Int?], _ what: String) {
        let contents = instance.contents
        var mismatches = 0
        for (key, expected) in model where contents[key] != expected {
            mismatches += 1
            if mismatches <= 5 {
                Issue.record("\(what): key \(key) is \(String(describing: contents[key])), expected \(String(describing: expected))")
            }
        }
        #expect(mismatches == 0, "\(what): \(mismatches) keys differ from the acknowledged writes")
        let extra = contents.keys.filter { model[$0] == nil }
        #expect(extra.isEmpty, "\(what): keys nobody wrote: \(extra.prefix(5))")
    }

    @Test("repeated rebuilds lose and resurrect nothing")
    func rebuildsUnderWriters() async {
        let map = GovernedMap(live: DictionaryInstance(), switchThreshold: 16, dualWriteDwell: .milliseconds(1))
        let model = await Self.withWriters(map) {
            for _ in 0..<20 {
                try? await Task.sleep(for: .milliseconds(2))
                // How long writers wait at the gate is measured by the rebuild benchmark, not here.
                _ = map.rebuild(into: DictionaryInstance(), standby: .none)
            }
        }
        Self.expectMatches(map.live, model, "live after 20 rebuilds")
        #expect(map.pauseStatistics.count == 60, "three gate closings per rebuild: capture, dual writes, switch")
    }

    @Test("a warm standby follows every write, so a rollback switch loses nothing")
    func warmRollbackUnderWriters() async {
        let map = GovernedMap(live: DictionaryInstance(), switchThreshold: 16, dualWriteDwell: .milliseconds(1))
        let model = await Self.withWriters(map) {
            for _ in 0..<10 {
                try? await Task.sleep(for: .milliseconds(1))
                _ = map.rebuild(into: DictionaryInstance(), standby: .previousLive(.warm))
                try? await Task.sleep(for: .milliseconds(2))
                #expect(map.switchToStandby() != nil)
            }
            try? await Task.sleep(for: .milliseconds(1))
            _ = map.rebuild(into: DictionaryInstance(), standby: .previousLive(.warm))
        }
        Self.expectMatches(map.live, model, "live")
        let standby = map.standby
        #expect(standby != nil, "the last rebuild kept a warm standby")
        if let standby { Self.expectMatches(standby, model, "warm standby") }
        #expect(map.standbyDivergences == 0)
    }

    @Test("a cold rollback copies back online and loses nothing")
    func coldRollbackUnderWriters() async {
        let map = GovernedMap(live: DictionaryInstance(), switchThreshold: 16, dualWriteDwell: .milliseconds(1))
        let model = await Self.withWriters(map) {
            for _ in 0..<10 {
                try? await Task.sleep(for: .milliseconds(1))
                _ = map.rebuild(into: DictionaryInstance(), standby: .none)
                try? await Task.sleep(for: .milliseconds(2))
                // The cold rollback: the predecessor's schema only, data copied back.
                _ = map.rebuild(into: DictionaryInstance(), standby: .none)
            }
        }
        Self.expectMatches(map.live, model, "live after cold rollbacks")
        #expect(map.standby == nil)
    }
}

/// A small deterministic generator, so that failures replay.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
