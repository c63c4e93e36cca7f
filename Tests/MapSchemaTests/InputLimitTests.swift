import MapSchema
import Testing

/// Hostile input is refused with a positioned error, and never hangs or exhausts the stack.
///
/// How fast the refusal is belongs to the benchmarks (`mapctl-bench validate`); the bound
/// here is a backstop that only an exponential expansion or a runaway scan would reach,
/// not a speed check that a loaded machine could miss.
@Suite("Input limits: refused with an error, without hanging")
struct InputLimitTests {
    static let hangBackstop: Duration = .seconds(20)

    private func timed(_ bytes: [UInt8], options: SchemaDecoder.Options = .init()) -> (SchemaFileResult, Duration) {
        let clock = ContinuousClock()
        var result = SchemaFileResult()
        let elapsed = clock.measure { result = SchemaDecoder(options: options).decode(bytes, file: "big.yaml") }
        return (result, elapsed)
    }

    @Test("A file of 1 MiB + 1 byte is refused before parsing")
    func oversized() {
        let bytes = Array((baseSchema + "description: " + String(repeating: "x", count: (1 << 20) - baseSchema.utf8.count - 13 + 1)).utf8)
        #expect(bytes.count == (1 << 20) + 1)
        let (result, elapsed) = timed(bytes)
        #expect(result.diagnostics.map(\.description) == ["big.yaml: error: file is 1048577 bytes; the limit is 1 MiB (1048576 bytes)"])
        #expect(elapsed < Self.hangBackstop)
    }

    @Test("A file of exactly 1 MiB is parsed")
    func atTheLimit() {
        let padding = String(repeating: "x", count: (1 << 20) - baseSchema.utf8.count - 14)
        let bytes = Array((baseSchema + "description: " + padding + "\n").utf8)
        #expect(bytes.count == 1 << 20)
        #expect(timed(bytes).0.documents.count == 1)
    }

    @Test("A billion-laughs alias bomb is refused at the alias past the limit")
    func billionLaughs() {
        var yaml = baseSchema + "description: &a0 lol\n"
        for level in 1...9 {
            yaml += "l\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        let (result, elapsed) = timed(Array(yaml.utf8))
        #expect(
            result.diagnostics.map { "\($0.line):\($0.column): \($0.message)" } == [
                "7:15: more than 10 aliases; aliases are limited to keep expansion bounded"
            ])
        #expect(elapsed < Self.hangBackstop)
    }

    @Test(
        "A hundred thousand levels of flow or compact nesting are refused before composing",
        arguments: [
            String(repeating: "[", count: 100_000), String(repeating: "{a: ", count: 100_000),
            String(repeating: "- ", count: 100_000) + "x",
        ])
    func deepNesting(_ prefix: String) {
        let (result, elapsed) = timed(Array((prefix + "\n").utf8))
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.message == "nesting deeper than 64 levels")
        #expect(result.diagnostics.first?.line == 1)
        #expect(elapsed < Self.hangBackstop)
    }

    @Test("A hundred thousand levels of block nesting are refused without recursing")
    func deepBlockNesting() {
        var yaml = ""
        for level in 0..<1400 { yaml += String(repeating: " ", count: level) + "k\(level):\n" }
        let (result, elapsed) = timed(Array(yaml.utf8))
        #expect(result.diagnostics.first?.message == "nesting deeper than 64 levels")
        #expect(elapsed < Self.hangBackstop)
    }

    @Test("Nesting within the limit is parsed normally")
    func shallowNesting() {
        let yaml = baseSchema + "description: " + String(repeating: "[", count: 20) + String(repeating: "]", count: 20) + "\n"
        #expect(timed(Array(yaml.utf8)).0.diagnostics.map(\.message) == ["description must be a string, not a sequence"])
    }

    @Test(
        "Invalid UTF-8 is refused with the byte offset and its line and column",
        arguments: [[0xFF], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF]] as [[UInt8]])
    func invalidUTF8(_ bad: [UInt8]) {
        let bytes = Array("name: orders\nversion: 1.0.0\ndescription: é ".utf8) + bad + Array("\n".utf8)
        let (result, elapsed) = timed(bytes)
        let diagnostic = result.diagnostics.first
        #expect(result.diagnostics.count == 1)
        #expect(diagnostic?.line == 3)
        #expect(diagnostic?.column == 16)
        #expect(diagnostic?.message.hasPrefix("invalid UTF-8: byte 0x") == true)
        #expect(diagnostic?.message.contains("at byte offset 44") == true)
        #expect(elapsed < Self.hangBackstop)
    }

    @Test("Control characters are refused by the parser with a position")
    func controlCharacters() {
        let result = SchemaDecoder().decode(Array(baseSchema.utf8) + [0x01] + Array(": x\n".utf8), file: "c.yaml")
        #expect(
            result.diagnostics.map { "\($0.line):\($0.column): \($0.message)" } == [
                "5:1: invalid input: control characters are not allowed"
            ])
    }
}
