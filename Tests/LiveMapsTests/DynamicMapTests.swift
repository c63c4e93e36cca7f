import Foundation
import LiveMaps
import MapSchema
import Testing

@Suite("Dynamic maps: keys and values checked against the schema")
struct DynamicMapTests {
    @Test(
        "Bad keys per key type are counted errors",
        arguments: [
            (KeyType.int64, "12x"), (.int64, "9223372036854775808"), (.uint64, "-1"), (.uint64, ""), (.uuid, "not-a-uuid"),
            (.uuid, "123e4567-e89b-12d3-a456-42661417400"),
        ])
    func badKeys(keyType: KeyType, text: String) {
        let map = DynamicMap(schema: schema(keyType: keyType))
        let error = #expect(throws: MapError.self) { try map.parseKey(text, for: .put) }
        #expect(error?.code == "bad_key")
        #expect(map.counters.snapshot().count(.put, .error) == 1)
    }

    @Test("Good keys parse per key type")
    func goodKeys() throws {
        #expect(try DynamicMap(schema: schema(keyType: .int64)).parseKey("-42") == .int64(-42))
        #expect(try DynamicMap(schema: schema(keyType: .uint64)).parseKey("18446744073709551615") == .uint64(.max))
        let uuid = try DynamicMap(schema: schema(keyType: .uuid)).parseKey("123E4567-E89B-12D3-A456-426614174000")
        #expect(uuid.description == "123e4567-e89b-12d3-a456-426614174000")
        let map = DynamicMap(schema: schema(keyType: .string))
        #expect(throws: MapError.self) { try map.get(.int64(1)) }
    }

    @Test(
        "Values are checked per scalar type",
        arguments: [
            (ScalarType.string, "\"x\"", true), (.string, "1", false), (.int64, "-5", true), (.int64, "1.5", false),
            (.int64, "18446744073709551615", false), (.uint64, "-1", false), (.uint64, "18446744073709551615", true),
            (.double, "1", true), (.double, "\"1\"", false), (.bool, "true", true), (.bool, "0", false),
            (.bytes, "\"aGVsbG8=\"", true), (.bytes, "\"%%%\"", false), (.json, "{\"any\": [1]}", true),
        ])
    func scalarValues(type: ScalarType, json: String, isValid: Bool) throws {
        let map = DynamicMap(schema: schema(valueType: .scalar(type)))
        let value = try JSONValue(parsing: json)
        if isValid {
            try map.put(.string("k"), value)
            #expect(try map.get(.string("k")) != nil)
        } else {
            let error = #expect(throws: MapError.self) { try map.put(.string("k"), value) }
            #expect(error?.code == "bad_value")
            #expect(map.counters.snapshot().errors == 1)
            #expect(map.count == 0)
        }
    }

    @Test("Records: required and optional fields, no unknown fields, field types checked")
    func records() throws {
        let fields = [RecordField(name: "id", type: .string), RecordField(name: "age", type: .int64, isOptional: true)]
        let map = DynamicMap(schema: schema(valueType: .record("User"), fields: fields))
        try map.put(.string("u1"), JSONValue(parsing: #"{"id": "u1", "age": 3}"#))
        try map.put(.string("u2"), JSONValue(parsing: #"{"id": "u2"}"#))
        try map.put(.string("u3"), JSONValue(parsing: #"{"id": "u3", "age": null}"#))
        for bad in [#"{"age": 3}"#, #"{"id": "x", "extra": 1}"#, #"{"id": 5}"#, #"{"id": null}"#, #"[1]"#, #""u1""#] {
            let error = #expect(throws: MapError.self) { try map.put(.string("bad"), JSONValue(parsing: bad)) }
            #expect(error?.code == "bad_value")
        }
        #expect(map.count == 3)
        #expect(map.counters.snapshot().errors == 6)
    }

    @Test("External types accept any JSON value")
    func external() throws {
        let map = DynamicMap(schema: schema(valueType: .external("github.com/ecom/order-core/internal/model.User")))
        try map.put(.string("a"), JSONValue(parsing: #"{"whatever": [1, {"x": null}]}"#))
        try map.put(.string("b"), .int(3))
        #expect(map.count == 2)
    }

    @Test("max_value_bytes counts the serialized JSON")
    func valueBytes() throws {
        let map = DynamicMap(schema: schema(valueType: .scalar(.string), capacity: Capacity(maxKeyBytes: 3, maxValueBytes: 5)))
        try map.put(.string("k"), .string("abc"))  // "abc" is 5 bytes
        #expect(throws: MapError.self) { try map.put(.string("k"), .string("abcd")) }
        #expect(throws: MapError.self) { try map.put(.string("long"), .string("a")) }
        #expect(map.estimatedBytes > 0)
    }

    @Test("Fault injection: error_rate gives injected errors, fault_rate gives counted faults")
    func faultInjection() throws {
        let failing = DynamicMap(schema: schema(faultInjection: FaultInjection(errorRate: 1)))
        let error = #expect(throws: MapError.self) { try failing.put(.string("k"), .int(1)) }
        #expect(error?.code == "injected")
        #expect(failing.counters.snapshot().errors == 1)
        let faulty = DynamicMap(schema: schema(faultInjection: FaultInjection(faultRate: 1)))
        #expect(throws: MapError.self) { try faulty.get(.string("k")) }
        #expect(faulty.counters.snapshot().faults == 1)
        let slow = DynamicMap(schema: schema(faultInjection: FaultInjection(latency: .milliseconds(3))))
        _ = try slow.get(.string("k"))
        #expect(slow.counters.snapshot().latency.quantile(0.99) >= .milliseconds(3))
    }

    @Test("load carries entries across without counting them and reports what the new schema drops")
    func loadAndPlan() throws {
        let clock = ManualMapClock()
        let old = DynamicMap(schema: schema(valueType: .scalar(.json), ttl: .seconds(100)), clock: clock)
        try old.put(.string("n"), .int(1))
        try old.put(.string("s"), .string("long text"))
        clock.advance(by: .seconds(50))
        try old.put(.string("fresh"), .int(2))
        let narrower = schema(valueType: .scalar(.int64), ttl: .seconds(20))
        #expect(old.entriesDropped(by: narrower) == 2)  // "s" is not an int64, "n" is older than 20 s
        let limited = schema(valueType: .scalar(.json), capacity: Capacity(maxEntries: 1))
        #expect(old.entriesDropped(by: limited) == 2)

        let new = DynamicMap(schema: schema(valueType: .scalar(.int64)), clock: clock)
        let report = new.load(old.snapshot())
        #expect(report.loaded == 2)
        #expect(report.dropped == ["value_type": 1])
        #expect(new.counters.snapshot().totalOps == 0)
        #expect(try new.get(.string("fresh")) == .int(2))
    }
}
