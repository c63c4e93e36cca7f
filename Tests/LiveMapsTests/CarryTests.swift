import Foundation
import LiveMaps
import MapSchema
import Testing

/// The unchecked bulk carry of a compatible change (issue 4) against `load`, which checks every entry.
@Suite("Carry: a compatible change is carried in bulk, unchecked, with the same result as load")
struct CarryTests {
    static func fill(_ map: DynamicMap, count: Int, seed: UInt64) throws {
        var random = TestRandom(seed: seed)
        for index in 0..<count {
            let value: JSONValue =
                switch random.below(4) {
                case 0: .int(Int64(random.below(1_000_000)))
                case 1: .string("value-\(index)")
                case 2: .object(["n": .int(Int64(index)), "s": .array([.bool(true), .null])])
                default: .double(Double(index) / 7)
                }
            try map.put(.string("key-\(random.below(count * 2))"), value)
        }
    }

    static func contents(_ map: DynamicMap) -> [MapKey: JSONValue] {
        Dictionary(map.snapshot(), uniquingKeysWith: { first, _ in first })
    }

    @Test("Bulk-carried map equals one loaded entry by entry, for every pair of strategies", arguments: Strategy.allCases)
    func bulkEqualsLoad(source strategy: Strategy) throws {
        let source = DynamicMap(schema: schema(strategy: strategy))
        try Self.fill(source, count: 3_000, seed: 7)
        for targetStrategy in Strategy.allCases {
            let target = schema(strategy: targetStrategy)
            let bulk = DynamicMap(schema: target)
            #expect(bulk.acceptsUnchanged(entriesOf: source.schema))
            let (copied, report) = bulk.carry(from: source)
            let checked = DynamicMap(schema: target)
            let loaded = checked.load(source.snapshot())
            #expect(copied == source.count)
            #expect(report == loaded)
            #expect(bulk.count == source.count)
            #expect(Self.contents(bulk) == Self.contents(source))
            #expect(Self.contents(bulk) == Self.contents(checked))
            #expect(bulk.counters.snapshot().totalOps == 0)
            // The bulk-loaded map works as any other: overwrite, delete, insert.
            try bulk.put(.string("key-1"), .int(1))
            try bulk.put(.string("brand-new"), .int(2))
            _ = try bulk.delete(.string("key-3"))
            #expect(try bulk.get(.string("key-1")) == .int(1))
            #expect(try bulk.get(.string("brand-new")) == .int(2))
            #expect(try bulk.get(.string("key-3")) == nil)
        }
    }

    @Test("Carry into a non-empty map replaces existing keys and keeps the others", arguments: Strategy.allCases)
    func carryIntoNonEmpty(strategy: Strategy) throws {
        let source = DynamicMap(schema: schema(strategy: .sharded))
        for index in 0..<500 { try source.put(.string("k\(index)"), .int(Int64(index))) }
        let target = DynamicMap(schema: schema(strategy: strategy))
        for index in 400..<600 { try target.put(.string("k\(index)"), .string("old")) }
        _ = target.carry(from: source)
        #expect(target.count == 600)
        #expect(try target.get(.string("k450")) == .int(450))
        #expect(try target.get(.string("k550")) == .string("old"))
    }

    @Test("ttl: expired entries are not carried, carried ones expire a ttl after the carry", arguments: Strategy.allCases)
    func ttl(strategy: Strategy) throws {
        let clock = ManualMapClock()
        let source = DynamicMap(schema: schema(strategy: .sharded, ttl: .seconds(100)), clock: clock)
        for index in 0..<200 { try source.put(.string("old\(index)"), .int(Int64(index))) }
        clock.advance(by: .seconds(60))
        for index in 0..<300 { try source.put(.string("new\(index)"), .int(Int64(index))) }
        clock.advance(by: .seconds(50))  // the "old" entries have expired, the "new" ones have 50 s left
        let target = DynamicMap(schema: schema(strategy: strategy, ttl: .seconds(30)), clock: clock)
        #expect(target.acceptsUnchanged(entriesOf: source.schema))
        let (copied, report) = target.carry(from: source)
        #expect(copied == 300)
        #expect(report.loaded == 300)
        #expect(target.count == 300)
        clock.advance(by: .seconds(29))
        #expect(try target.get(.string("new7")) == .int(7))
        clock.advance(by: .seconds(2))
        #expect(try target.get(.string("new7")) == nil)
        target.removeExpired()
        #expect(target.count == 0)
    }

    @Test(
        "max_entries: reject drops what does not fit as load does; evict_lru keeps the newest and stays LRU", arguments: Strategy.allCases)
    func maxEntries(strategy: Strategy) throws {
        let source = DynamicMap(schema: schema(strategy: .sharded))
        for index in 0..<1_000 { try source.put(.string("k\(index)"), .int(Int64(index))) }

        let rejecting = schema(strategy: strategy, capacity: Capacity(maxEntries: 600))
        let bulk = DynamicMap(schema: rejecting)
        #expect(bulk.acceptsUnchanged(entriesOf: source.schema))
        let (_, report) = bulk.carry(from: source)
        let loaded = DynamicMap(schema: rejecting).load(source.snapshot())
        #expect(report == loaded)
        #expect(report.dropped == ["max_entries": 400])
        #expect(bulk.count == 600)

        let lru = DynamicMap(schema: schema(strategy: strategy, capacity: Capacity(maxEntries: 100, onFull: .evictLRU)))
        let (copied, lruReport) = lru.carry(from: source)
        #expect(copied == 1_000)
        #expect(lruReport.droppedCount == 0)
        #expect(lru.count == 100)
        // Recency works after the carry: the entry read last survives a new key, some other entry goes
        // (`snapshot` readers do not lock, so their reads do not count as uses).
        let survivor = try #require(lru.snapshot().first?.0)
        _ = try lru.get(survivor)
        try lru.put(.string("fresh"), .int(-1))
        #expect(lru.count == 100)
        if strategy != .snapshot { #expect(try lru.get(survivor) != nil) }
        #expect(try lru.get(.string("fresh")) == .int(-1))
    }

    @Test("Which changes are carried unchecked")
    func acceptsUnchanged() {
        let base = schema(valueType: .scalar(.int64), capacity: Capacity(maxKeyBytes: 64, maxValueBytes: 100))
        func accepts(_ new: MapSchema, from old: MapSchema = base) -> Bool { DynamicMap(schema: new).acceptsUnchanged(entriesOf: old) }
        #expect(accepts(base))
        #expect(
            accepts(
                schema(
                    valueType: .scalar(.int64), strategy: .rwlock, capacity: Capacity(maxEntries: 5, maxKeyBytes: 64, maxValueBytes: 100),
                    ttl: .seconds(1))))
        #expect(accepts(schema(valueType: .scalar(.int64), capacity: Capacity(maxKeyBytes: 128, maxValueBytes: 200))))
        #expect(accepts(schema(valueType: .scalar(.json), capacity: Capacity(maxKeyBytes: 64, maxValueBytes: 100))))
        #expect(accepts(schema(valueType: .scalar(.int64))))  // limits removed: still accepted
        #expect(!accepts(schema(valueType: .scalar(.int64), capacity: Capacity(maxKeyBytes: 32, maxValueBytes: 100))))
        #expect(!accepts(schema(valueType: .scalar(.int64), capacity: Capacity(maxKeyBytes: 64, maxValueBytes: 50))))
        #expect(!accepts(schema(valueType: .scalar(.double), capacity: Capacity(maxKeyBytes: 64, maxValueBytes: 100))))
        #expect(!accepts(schema(keyType: .int64, valueType: .scalar(.int64), capacity: Capacity(maxKeyBytes: 64, maxValueBytes: 100))))
        #expect(!accepts(schema(valueType: .scalar(.int64)), from: schema(valueType: .scalar(.json))))
        // Max byte limits set where there were none: lossy, checked.
        #expect(!accepts(schema(valueType: .scalar(.json), capacity: Capacity(maxValueBytes: 10)), from: schema()))

        let user = [RecordField(name: "id", type: .string), RecordField(name: "age", type: .int64, isOptional: true)]
        let record = schema(valueType: .record("User"), fields: user)
        #expect(
            accepts(
                schema(valueType: .record("User"), fields: user + [RecordField(name: "x", type: .bool, isOptional: true)]), from: record))
        #expect(
            accepts(
                schema(valueType: .record("User"), fields: [user[0], RecordField(name: "age", type: .json, isOptional: true)]), from: record
            ))
        #expect(
            accepts(
                schema(valueType: .record("User"), fields: [RecordField(name: "id", type: .string, isOptional: true), user[1]]),
                from: record))
        #expect(!accepts(schema(valueType: .record("User"), fields: [user[0]]), from: record))  // a removed field: stored values have it
        #expect(!accepts(schema(valueType: .record("User"), fields: [user[0], RecordField(name: "age", type: .int64)]), from: record))
    }

    @Test("A change that needs checking goes through the checks: refused values are dropped and reported")
    func checkedPath() throws {
        let source = DynamicMap(schema: schema(valueType: .scalar(.json)))
        try source.put(.string("n"), .int(1))
        try source.put(.string("s"), .string("text"))
        try source.put(.string("big"), .int(-5))
        let target = DynamicMap(schema: schema(valueType: .scalar(.uint64)))
        #expect(!target.acceptsUnchanged(entriesOf: source.schema))
        let (copied, report) = target.carry(from: source)
        #expect(copied == 3)
        #expect(report.loaded == 1)
        #expect(report.dropped == ["value_type": 2])
        #expect(try target.get(.string("n")) == .uint(1))  // normalized to the new type
    }
}

@Suite("Carry: records across a removed field")
struct RemovedFieldCarryTests {
    static func record(_ fields: [RecordField]) -> MapSchema {
        MapSchema(
            name: "users", version: SemanticVersion(major: 1, minor: 0, patch: 0), keyType: .string,
            valueType: .record("User"), fields: fields
        )
    }

    @Test("A stored record is converted by leaving out the field the new version removed; callers still may not write it")
    func removedFieldIsDroppedOnCarry() throws {
        let old = DynamicMap(schema: Self.record([RecordField(name: "id", type: .string), RecordField(name: "legacy", type: .int64)]))
        try old.put(.string("u1"), .object(["id": .string("u1"), "legacy": .int(7)]))
        let new = DynamicMap(schema: Self.record([RecordField(name: "id", type: .string)]))
        #expect(old.entriesDropped(by: new.schema) == 0, "the plan must not count the converted entry as dropped")
        let report = new.load(old.snapshot())
        #expect(report.loaded == 1)
        #expect(try new.get(.string("u1")) == .object(["id": .string("u1")]))
        // A caller's write with the removed field is still refused, with a message naming it.
        #expect(throws: MapError.self) { try new.put(.string("u2"), .object(["id": .string("u2"), "legacy": .int(1)])) }
    }

    @Test("The first missing required field reported is the first declared")
    func missingFieldOrderIsStable() throws {
        let map = DynamicMap(
            schema: Self.record([
                RecordField(name: "id", type: .string), RecordField(name: "name", type: .string), RecordField(name: "email", type: .string),
            ]))
        for _ in 0..<5 {
            do {
                try map.put(.string("u"), .object([:]))
                Issue.record("an empty record was accepted")
            } catch {
                #expect(error.message.contains("'id'"), "\(error.message)")
            }
        }
    }
}
