import MapSchema
import Testing
import Yams

/// Differential tests between the input limits and the parser they protect.
///
/// The property: for every document Yams would compose, the decoder refuses it
/// with a limit diagnostic exactly when the composed tree is over a limit — more
/// nodes (an alias counting as the whole node it repeats) or more nesting than
/// allowed. Inputs are random YAML with anchors, aliases, quotes, comments,
/// block scalars and flow collections in places where a byte scan would lose its
/// way, plus random one-byte damage.
@Suite("Input limits agree with the parser on random YAML")
struct InputLimitFuzzTests {
    static let options = SchemaDecoder.Options(maxDepth: 4, maxAliases: 1_000_000, maxNodes: 24)

    static let limitPrefixes = ["the document expands to more than", "nesting deeper than", "more than"]

    @Test("Whenever the composed document is over a limit, the decoder refuses it, and only then")
    func differential() throws {
        var random = SplitMix64(seed: 0x5EED_0004)
        var accepted = 0
        var overLimit = 0
        for round in 0..<4000 {
            var generator = YAMLGenerator(random: random)
            var text = generator.document()
            random = generator.random
            if round % 3 == 2 { text = random.damage(text) }
            guard Self.isSingleChunk(text) else { continue }
            let refused = Self.limitDiagnostic(text)
            guard let root = try? Yams.Parser(yaml: text, resolver: .default, constructor: .default, encoding: .utf8).singleRoot() else {
                continue
            }
            accepted += 1
            let nodes = Self.nodeCount(root, cap: Self.options.maxNodes + 1)
            let height = Self.height(root, cap: Self.options.maxDepth + 1)
            let isOver = nodes > Self.options.maxNodes || height > Self.options.maxDepth
            if isOver { overLimit += 1 }
            #expect(
                (refused != nil) == isOver,
                "nodes \(nodes), height \(height), limit said \(refused ?? "nothing") for:\n\(text)"
            )
        }
        // The generator must exercise both sides, or the property above says little.
        #expect(accepted > 1000)
        #expect(overLimit > 200)
        #expect(accepted - overLimit > 200)
    }

    @Test(
        "An alias bomb is refused however the text before it is written",
        arguments: [
            "description: it's a map\n", "description: say \"hi\" # note\n", "description: a'b\"c\n",
            "description: |\n  [ ' \" { # text\n", "description: 'quoted # not a comment'\n",
            "description: \"escaped \\\" quote\"\n", "description: x #'\n", "description: >-\n   ' unbalanced\n",
            "description: a:b'\n", "? complex'key\n: v\n", "description: [a, \"b, 'c\"]\n",
        ]
    )
    func bombAfterConfusingText(_ prefix: String) {
        var yaml = baseSchema + prefix + "b0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...8 {
            yaml += "b\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        let options = SchemaDecoder.Options(maxAliases: 1_000_000)
        let result = SchemaDecoder(options: options).decode(Array(yaml.utf8), file: "bomb.yaml")
        #expect(result.documents.isEmpty)
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.message.hasPrefix("the document expands to more than 1048576 nodes") == true)
    }

    @Test("The default alias count still refuses the alias past the limit, wherever the byte scan would have lost its place")
    func aliasCountAfterQuote() {
        var yaml = baseSchema + "description: it's\nl0: &a0 x\n"
        for level in 1...3 {
            yaml += "l\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 4).joined(separator: ", ") + "]\n"
        }
        let result = SchemaDecoder().decode(Array(yaml.utf8), file: "a.yaml")
        #expect(
            result.diagnostics.map { "\($0.line):\($0.column): \($0.message)" } == [
                "9:20: more than 10 aliases; aliases are limited to keep expansion bounded"
            ])
    }

    @Test("Nesting reached through an alias counts toward the depth limit")
    func depthThroughAlias() {
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        let yaml =
            baseSchema + "a: &deep " + deep + "\nb: " + String(repeating: "[", count: 30) + "*deep" + String(repeating: "]", count: 30)
            + "\n"
        let result = SchemaDecoder().decode(Array(yaml.utf8), file: "d.yaml")
        #expect(result.diagnostics.map { "\($0.line):\($0.column): \($0.message)" } == ["6:34: nesting deeper than 64 levels"])
    }

    @Test("Limits are per document of a multi-document body, with that document's line")
    func perDocument() {
        let options = SchemaDecoder.Options(allowMultipleDocuments: true, maxNodes: 40)
        var yaml = baseSchema + "---\n" + baseSchema + "description: &d [a, b, c, d, e, f, g]\nx: [*d, *d, *d]\n"
        yaml += "---\n" + baseSchema.replacingOccurrences(of: "orders", with: "other")
        let result = SchemaDecoder(options: options).decode(Array(yaml.utf8), file: "m.yaml")
        #expect(result.documents.count == 2)
        #expect(
            result.diagnostics.map { "\($0.line):\($0.column): \($0.message)" } == [
                "11:13: the document expands to more than 40 nodes (each alias counts as the node it repeats)"
            ])
    }

    // MARK: Helpers

    static func limitDiagnostic(_ text: String) -> String? {
        let result = SchemaDecoder(options: options).decode(Array(text.utf8), file: "f.yaml")
        return result.diagnostics.first { diagnostic in limitPrefixes.contains { diagnostic.message.hasPrefix($0) } }?.message
    }

    /// Whether the decoder gives the whole text to one parser (no `---`, `...` or `%` line).
    static func isSingleChunk(_ text: String) -> Bool {
        !text.split(separator: "\n", omittingEmptySubsequences: false).contains { line in
            line.hasPrefix("-") || line.hasPrefix(".") || line.hasPrefix("%")
        }
    }

    /// Nodes in the composed tree, aliases expanded; stops counting past `cap` so a bomb stays cheap.
    static func nodeCount(_ node: Node, cap: Int) -> Int {
        var count = 0
        var stack = [node]
        while let next = stack.popLast(), count <= cap {
            count += 1
            switch next {
            case .scalar, .alias: break
            case .sequence(let sequence): stack += Array(sequence)
            case .mapping(let mapping):
                for (key, value) in mapping {
                    stack.append(key)
                    stack.append(value)
                }
            }
        }
        return count
    }

    static func height(_ node: Node, cap: Int) -> Int {
        guard cap > 0 else { return 0 }
        switch node {
        case .scalar, .alias: return 0
        case .sequence(let sequence): return 1 + (sequence.map { height($0, cap: cap - 1) }.max() ?? 0)
        case .mapping(let mapping):
            return 1 + (mapping.map { max(height($0.key, cap: cap - 1), height($0.value, cap: cap - 1)) }.max() ?? 0)
        }
    }
}
