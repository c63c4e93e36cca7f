import LiveMaps
import MapSchema
import Testing

/// Numbers read back as the same number they were written as, or are refused; never rounded.
@Suite("JSON numbers keep their value")
struct JSONNumberTests {
    /// The number a JSON literal denotes, as sign, significant digits and a power of ten.
    struct Decimal: Equatable, CustomStringConvertible {
        var isNegative: Bool
        var digits: String
        var exponent: Int

        init(_ literal: String) {
            var text = Substring(literal)
            isNegative = text.first == "-"
            if isNegative { text = text.dropFirst() }
            var exponent = 0
            if let marker = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
                exponent = Int(String(text[text.index(after: marker)...].filter { $0 != "+" }))!
                text = text[..<marker]
            }
            var digits = ""
            var fraction = false
            for character in text {
                if character == "." {
                    fraction = true
                    continue
                }
                digits.append(character)
                if fraction { exponent -= 1 }
            }
            digits = String(digits.drop { $0 == "0" })
            while digits.last == "0" {
                digits.removeLast()
                exponent += 1
            }
            if digits.isEmpty {
                isNegative = false
                exponent = 0
            }
            self.digits = digits
            self.exponent = exponent
        }

        var description: String { "\(isNegative ? "-" : "")\(digits)e\(exponent)" }
    }

    static func randomLiteral(using random: inout SplitMixRandom) -> String {
        func digits(_ count: Int) -> String {
            String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &random))) })
        }
        var text = random.chance(0.4) ? "-" : ""
        text += random.chance(0.2) ? "0" : String(Int.random(in: 1...9, using: &random)) + digits(Int.random(in: 0...29, using: &random))
        if random.chance(0.5) { text += "." + digits(Int.random(in: 1...25, using: &random)) }
        if random.chance(0.4) {
            text += random.chance(0.5) ? "e" : "E"
            text += ["", "+", "-"].randomElement(using: &random)!
            text += String(Int.random(in: 0...330, using: &random))
        }
        return text
    }

    @Test("Every number literal reads back as the same number, or is refused as out of range")
    func randomLiterals() throws {
        var random = SplitMixRandom(seed: 14)
        var kept = 0
        for _ in 0..<20_000 {
            let literal = Self.randomLiteral(using: &random)
            let value: JSONValue
            do {
                value = try JSONValue(parsing: literal)
            } catch {
                #expect(error.code == "bad_json")
                #expect(error.message.contains("out of range"), "\(literal): \(error.message)")
                continue
            }
            kept += 1
            let written = String(decoding: value.serialized(), as: UTF8.self)
            #expect(Decimal(written) == Decimal(literal), "\(literal) read back as \(written)")
            #expect(try JSONValue(parsing: written) == value)
        }
        #expect(kept > 19_000)
    }

    @Test(
        "Numbers past 64 bits or a double's precision are kept as written",
        arguments: [
            "123456789012345678901234567890", "18446744073709551616", "-9223372036854775809", "0.1000000000000000000001",
            "3.14159265358979323846264338327950288", "1e-400", "-2.5e-330", "12345678901234567.5",
        ])
    func keptLiterals(_ literal: String) throws {
        let value = try JSONValue(parsing: "[\(literal)]")
        #expect(String(decoding: value.serialized(), as: UTF8.self) == "[\(literal)]")
        let map = DynamicMap(schema: schema())
        try map.put(.string("n"), value)
        #expect(try map.get(.string("n"))?.serialized() == Array("[\(literal)]".utf8))
    }

    @Test("Common numbers keep their fixed-width kind")
    func commonNumbers() throws {
        #expect(try JSONValue(parsing: "42") == .int(42))
        #expect(try JSONValue(parsing: "18446744073709551615") == .uint(.max))
        #expect(try JSONValue(parsing: "1.5") == .double(1.5))
        #expect(try JSONValue(parsing: "2e3") == .double(2000))
        #expect(try JSONValue(parsing: "0.30000000000000004") == .double(0.30000000000000004))
        #expect(try JSONValue(parsing: "1.7976931348623157e308") == .double(.greatestFiniteMagnitude))
    }

    @Test("A typed field refuses a number its type cannot hold, naming what it got")
    func typedFieldsRefuse() throws {
        let ints = DynamicMap(schema: schema(valueType: .scalar(.int64)))
        let error = #expect(throws: MapError.self) { try ints.put(.string("k"), try JSONValue(parsing: "123456789012345678901234567890")) }
        #expect(error?.message.contains("an integer wider than 64 bits") == true)
        let doubles = DynamicMap(schema: schema(valueType: .scalar(.double)))
        let precise = #expect(throws: MapError.self) { try doubles.put(.string("k"), try JSONValue(parsing: "0.1000000000000000000001")) }
        #expect(precise?.message.contains("more precision or range than a double") == true)
    }
}

/// A seeded random source, so that a failing case replays.
struct SplitMixRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
}
