import LiveMaps
import Testing

@Suite("JSON parsing and serialization")
struct JSONValueTests {
    @Test("Parses every kind of value and serializes it back")
    func roundTrip() throws {
        let text = #" {"a": [1, -2, 18446744073709551615, 1.5, 2e3, true, false, null], "b": "x\"\\\n\u00e9\ud83d\ude00", "c": {}} "#
        let value = try JSONValue(parsing: text)
        guard case .object(let members) = value else {
            Issue.record("not an object")
            return
        }
        #expect(members["a"] == .array([.int(1), .int(-2), .uint(.max), .double(1.5), .double(2000), .bool(true), .bool(false), .null]))
        #expect(members["b"] == .string("x\"\\\né😀"))
        let again = try JSONValue(parsing: value.serialized())
        #expect(again == value)
        #expect(value.serializedCount == value.serialized().count)
        #expect(
            String(decoding: JSONValue.object(["b": .int(1), "a": .string("\u{1}")]).serialized(), as: UTF8.self)
                == #"{"a":"\u0001","b":1}"#)
    }

    @Test(
        "Rejects malformed documents with bad_json",
        arguments: [
            "", "[1,]", "{\"a\":1,}", "01", "1.", "-", "nul", "\"abc", "[1 2]", "{\"a\" 1}", "{\"a\":1,\"a\":2}",
            "\"\\ud800\"", "\"\\x\"", "1 2", "NaN", "[\"\u{1}\"]", "1e999",
        ])
    func rejectsMalformed(text: String) {
        let error = #expect(throws: MapError.self) { try JSONValue(parsing: text) }
        #expect(error?.code == "bad_json")
    }

    @Test("Rejects invalid UTF-8 and nesting beyond the depth limit")
    func limits() throws {
        #expect(throws: MapError.self) { try JSONValue(parsing: [0x22, 0xFF, 0x22]) }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: MapError.self) { try JSONValue(parsing: deep) }
        let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try JSONValue(parsing: fine)
        let hostile = String(repeating: "[", count: 100_000)
        #expect(throws: MapError.self) { try JSONValue(parsing: hostile) }
    }
}
