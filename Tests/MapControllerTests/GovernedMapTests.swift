import Testing

@testable import Governance
@testable import MapController

@Suite("Governed map")
struct GovernedMapTests {
    @Test("a rebuild carries every entry and drops what the replacement refuses")
    func rebuildCarriesAndDrops() throws {
        let old = DictionaryInstance(Dictionary(uniqueKeysWithValues: (0..<100).map { ($0, $0) }))
        let map = GovernedMap(live: old)
        let replacement = DictionaryInstance(rejecting: { $0 >= 90 })
        let report = map.rebuild(into: replacement, standby: .previousLive(.warm))
        #expect(report.copied == 100)
        #expect(report.dropped == 10)
        #expect(map.live === replacement)
        #expect(map.standby === old)
        #expect(try map.get(5) == 5)
        #expect(try map.get(95) == nil)
    }

    @Test("a breaking rebuild starts empty and keeps the predecessor frozen")
    func breakingStartsEmpty() throws {
        let old = DictionaryInstance([1: 1, 2: 2])
        let map = GovernedMap(live: old)
        _ = map.rebuild(into: DictionaryInstance(), standby: .previousLive(.frozen), carriesData: false)
        #expect(map.live.count == 0)
        try map.put(3, 3)
        #expect(old.contents == [1: 1, 2: 2], "a frozen standby takes no writes")
        #expect(map.switchToStandby() != nil)
        #expect(try map.get(1) == 1)
    }

    @Test("a warm standby refuses a value: the key is removed there and counted")
    func warmDivergence() throws {
        let map = GovernedMap(live: DictionaryInstance())
        let old = map.live
        _ = map.rebuild(into: DictionaryInstance(), standby: .previousLive(.warm))
        // The old instance now refuses big values, as an older schema would.
        let strict = DictionaryInstance(rejecting: { $0 > 10 })
        _ = map.switchToStandby()
        _ = map.rebuild(into: strict, standby: .previousLive(.warm))
        _ = map.switchToStandby()
        _ = old
        try map.put(1, 5)
        #expect(map.standby == nil)
        let live = map.live
        _ = map.rebuild(into: DictionaryInstance(), standby: .previousLive(.warm))
        #expect(map.standby === live)
        try map.put(2, 50)
        #expect(live.contents[2] == 50)
    }

    @Test("no standby: the switch reports nothing to switch to")
    func switchWithoutStandby() {
        let map = GovernedMap(live: DictionaryInstance())
        #expect(map.switchToStandby() == nil)
    }
}
