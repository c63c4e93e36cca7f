import LiveMaps
import MapSchema
import Testing

/// Keys that differ in bytes are different keys: map keys and JSON object keys alike.
@Suite("Keys are compared by their UTF-8 bytes")
struct KeyIdentityTests {
    /// Pairs of strings that Swift's `String` calls equal (canonically equivalent) but whose bytes differ.
    static let equivalentPairs: [(String, String)] = [
        ("caf\u{E9}", "cafe\u{301}"),
        ("\u{C5}ngstr\u{F6}m", "A\u{30A}ngstro\u{308}m"),
        ("\u{212B}", "\u{C5}"),
        ("\u{1E69}", "s\u{323}\u{307}"),
        ("q\u{307}\u{323}", "q\u{323}\u{307}"),
        ("\u{AC00}", "\u{1100}\u{1161}"),
    ]

    /// Random strings built from letters and combining marks, so that many pairs are
    /// canonically equivalent without being the same bytes.
    static func randomStrings(count: Int) -> [String] {
        var random = SystemRandomNumberGenerator()
        let pieces = ["e", "\u{E9}", "\u{301}", "a", "\u{30A}", "\u{C5}", "\u{212B}", "s", "\u{323}", "\u{307}", "\u{1E69}", "x"]
        return (0..<count).map { _ in
            (0..<Int.random(in: 1...4, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
        }
    }

    @Test("Two map keys are equal, and land in one entry, exactly when their bytes are equal")
    func mapKeys() throws {
        let strings = Self.randomStrings(count: 300) + Self.equivalentPairs.flatMap { [$0.0, $0.1] }
        #expect(Self.equivalentPairs.allSatisfy { $0.0 == $0.1 }, "the pairs must be ones String merges")
        let map = DynamicMap(schema: schema())
        var distinctBytes: Set<[UInt8]> = []
        for (index, text) in strings.enumerated() {
            try map.put(.string(text), .int(Int64(index)))
            distinctBytes.insert(Array(text.utf8))
        }
        #expect(map.count == distinctBytes.count)
        for left in strings.prefix(60) {
            for right in strings.prefix(60) {
                let sameBytes = Array(left.utf8) == Array(right.utf8)
                #expect((MapKey.string(left) == MapKey.string(right)) == sameBytes)
                if sameBytes { #expect(MapKey.string(left).hashValue == MapKey.string(right).hashValue) }
            }
        }
        for (nfc, nfd) in Self.equivalentPairs {
            try map.put(.string(nfc), .string("composed"))
            try map.put(.string(nfd), .string("decomposed"))
            #expect(try map.get(.string(nfc)) == .string("composed"))
            #expect(try map.get(.string(nfd)) == .string("decomposed"))
        }
    }

    @Test("JSON object keys that differ in bytes are two members, serialized as sent")
    func objectKeys() throws {
        for (nfc, nfd) in Self.equivalentPairs {
            let text = "{\"\(nfc)\": 1, \"\(nfd)\": 2}"
            let value = try JSONValue(parsing: text)
            guard case .object(let members) = value else {
                Issue.record("not an object")
                continue
            }
            #expect(members.count == 2)
            #expect(members[JSONKey(nfc)] == .int(1))
            #expect(members[JSONKey(nfd)] == .int(2))
            let again = try JSONValue(parsing: value.serialized())
            #expect(again == value)
            #expect(
                Set(value.serialized().split(separator: UInt8(ascii: "\"")).map(Array.init)).isSuperset(of: [
                    Array(nfc.utf8), Array(nfd.utf8),
                ]))
        }
        let duplicate = #expect(throws: MapError.self) { try JSONValue(parsing: "{\"caf\u{E9}\": 1, \"caf\u{E9}\": 2}") }
        #expect(duplicate?.code == "bad_json")
    }

    @Test("String values that differ in bytes are different values")
    func stringValues() {
        for (nfc, nfd) in Self.equivalentPairs {
            #expect(JSONValue.string(nfc) != JSONValue.string(nfd))
            #expect(Set([JSONValue.string(nfc), JSONValue.string(nfd)]).count == 2)
        }
    }
}
