import LiveMaps
import MapSchema
import Synchronization
import Testing

/// Counts its instances that are still alive.
private final class Tracked: Sendable {
    let live: Census

    init(_ live: Census) {
        self.live = live
        live.count.add(1, ordering: .relaxed)
    }

    deinit { live.count.subtract(1, ordering: .relaxed) }
}

private final class Census: Sendable {
    let count = Atomic<Int>(0)
}

/// The tables free their entries in a loop written for the unspecialized `deinit` (it reads the slot
/// layout once instead of per entry); these check that every key and value is still released exactly once.
@Suite("Teardown")
struct TeardownTests {
    @Test("Freeing a map releases every value it holds, after growth, deletes and overwrites", arguments: Strategy.allCases)
    func releasesValues(strategy: Strategy) throws {
        let census = Census()
        do {
            let map = LiveMap<String, Tracked>(configuration: .init(strategy: strategy))
            for key in 0..<5_000 { try map.put("key-\(key)", Tracked(census)) }
            for key in stride(from: 0, to: 5_000, by: 3) { map.delete("key-\(key)") }
            for key in stride(from: 1, to: 5_000, by: 7) { try map.put("key-\(key)", Tracked(census)) }
            let live = census.count.load(ordering: .relaxed)
            // `snapshot` keeps replaced values until no reader can still see them (its retired lists).
            #expect(strategy == .snapshot ? live >= map.count : live == map.count)
        }
        #expect(census.count.load(ordering: .relaxed) == 0)
    }

    @Test("Plain keys with counted values: the values are still released", arguments: Strategy.allCases)
    func plainKeys(strategy: Strategy) throws {
        let census = Census()
        do {
            let map = LiveMap<Int, Tracked>(configuration: .init(strategy: strategy))
            for key in 0..<3_000 { try map.put(key, Tracked(census)) }
            #expect(census.count.load(ordering: .relaxed) == 3_000)
        }
        #expect(census.count.load(ordering: .relaxed) == 0)
    }
}
