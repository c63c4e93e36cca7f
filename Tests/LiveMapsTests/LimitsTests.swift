import LiveMaps
import MapSchema
import Testing

@Suite("TTL, eviction and limits with a manual clock")
struct LimitsTests {
    @Test("An entry expires ttl after its last write, in every strategy", arguments: Strategy.allCases)
    func ttlExpiry(strategy: Strategy) throws {
        let clock = ManualMapClock()
        let map = LiveMap<String, Int>(configuration: .init(strategy: strategy, ttl: .seconds(10), clock: clock))
        try map.put("a", 1)
        clock.advance(by: .seconds(6))
        try map.put("b", 2)
        #expect(map.get("a") == 1)
        clock.advance(by: .seconds(5))  // a written 11 s ago, b 5 s ago
        #expect(map.get("a") == nil)
        #expect(map.contains("a") == false)
        #expect(map.get("b") == 2)
        try map.put("b", 3)  // rewriting restarts the ttl
        clock.advance(by: .seconds(9))
        #expect(map.get("b") == 3)
        clock.advance(by: .seconds(2))
        #expect(map.get("b") == nil)
        map.removeExpired()
        #expect(map.count == 0)
        #expect(map.snapshot().isEmpty)
        #expect(map.counters.snapshot().expirations == 2)
    }

    @Test("Writes sweep expired entries without any timer")
    func writesSweep() throws {
        let clock = ManualMapClock()
        let map = LiveMap<Int, Int>(configuration: .init(strategy: .mutex, ttl: .seconds(1), clock: clock))
        for key in 0..<4 { try map.put(key, key) }
        clock.advance(by: .seconds(2))
        try map.put(100, 0)
        try map.put(101, 0)
        #expect(map.count == 2)
        #expect(map.counters.snapshot().expirations == 4)
    }

    @Test(
        "evict_lru evicts the least recently used entry; reads count as use where the strategy allows",
        arguments: [Strategy.mutex, .rwlock, .serialized, .sharded])
    func lruOrder(strategy: Strategy) throws {
        let map = LiveMap<String, Int>(configuration: .init(strategy: strategy, shards: 1, maxEntries: 3, onFull: .evictLRU))
        try map.put("a", 1)
        try map.put("b", 2)
        try map.put("c", 3)
        #expect(map.get("a") == 1)  // a is now the most recently used
        try map.put("d", 4)
        #expect(map.get("b") == nil)
        #expect(Set(map.snapshot().map(\.0)) == ["a", "c", "d"])
        try map.put("c", 30)  // a write is a use
        try map.put("e", 5)
        #expect(map.get("a") == nil)
        #expect(map.snapshot().map(\.0) == ["d", "c", "e"])
        #expect(map.counters.snapshot().evictions == 2)
    }

    @Test("The snapshot strategy evicts in write order (readers never write)")
    func snapshotEvictsInWriteOrder() throws {
        let map = LiveMap<String, Int>(configuration: .init(strategy: .snapshot, maxEntries: 2, onFull: .evictLRU))
        try map.put("a", 1)
        try map.put("b", 2)
        _ = map.get("a")
        try map.put("c", 3)
        #expect(map.snapshot().map(\.0) == ["b", "c"])
    }

    @Test("reject refuses new keys at max_entries but accepts overwrites", arguments: Strategy.allCases)
    func rejectWhenFull(strategy: Strategy) throws {
        let map = LiveMap<Int, Int>(configuration: .init(strategy: strategy, shards: 64, maxEntries: 10, onFull: .reject))
        for key in 0..<10 { try map.put(key, key) }
        let error = #expect(throws: MapError.self) { try map.put(10, 10) }
        #expect(error?.code == "capacity")
        try map.put(3, 33)
        #expect(map.get(3) == 33)
        map.delete(0)
        try map.put(10, 10)
        #expect(map.count == 10)
        #expect(map.counters.snapshot().count(.put, .error) == 1)
    }

    @Test("evict_lru keeps a sharded map at exactly max_entries")
    func shardedEvictsExactly() throws {
        let map = LiveMap<Int, Int>(configuration: .init(strategy: .sharded, shards: 16, maxEntries: 20, onFull: .evictLRU))
        for key in 0..<1_000 { try map.put(key, key) }
        #expect(map.count == 20)
        #expect(map.counters.snapshot().evictions == 980)
        #expect(map.get(999) == 999)
    }

    @Test("Key and value byte limits are errors with the limit in the message")
    func byteLimits() throws {
        let map = LiveMap<String, String>(configuration: .init(strategy: .mutex, maxKeyBytes: 4, maxValueBytes: 8))
        try map.put("abcd", "12345678")
        let keyError = #expect(throws: MapError.self) { try map.put("abcde", "x") }
        #expect(keyError?.code == "bad_key")
        #expect(keyError?.message.contains("max_key_bytes is 4") == true)
        let valueError = #expect(throws: MapError.self) { try map.put("k", "123456789") }
        #expect(valueError?.code == "bad_value")
        #expect(map.count == 1)
        #expect(map.counters.snapshot().errors == 2)
    }

    @Test("Compare-and-set inserts, replaces and removes only on a match")
    func compareAndSet() throws {
        let map = LiveMap<String, Int>(configuration: .init(strategy: .rwlock))
        #expect(try map.compareAndSet("a", expected: nil, new: 1))
        #expect(try !map.compareAndSet("a", expected: nil, new: 2))
        #expect(try map.compareAndSet("a", expected: 1, new: 2))
        #expect(try !map.compareAndSet("a", expected: 1, new: nil))
        #expect(try map.compareAndSet("a", expected: 2, new: nil))
        #expect(map.get("a") == nil)
    }

    @Test("Growing from empty to many entries keeps every entry", arguments: Strategy.allCases)
    func growth(strategy: Strategy) throws {
        let map = LiveMap<UInt64, UInt64>(configuration: .init(strategy: strategy))
        for key in 0..<20_000 as Range<UInt64> { try map.put(key &* 0x9E37_79B9, key) }
        for key in stride(from: 0, to: 20_000, by: 2) as StrideTo<UInt64> { map.delete(key &* 0x9E37_79B9) }
        #expect(map.count == 10_000)
        for key in 0..<20_000 as Range<UInt64> {
            #expect(map.get(key &* 0x9E37_79B9) == (key % 2 == 0 ? nil : key))
        }
        #expect(map.estimatedBytes > 10_000 * 16)
    }
}
