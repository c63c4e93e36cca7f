/// A small deterministic random source, so a failing fuzz case can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }

    mutating func pick<T>(_ values: [T]) -> T { values.randomElement(using: &self)! }

    /// One random byte inserted, deleted or replaced by a YAML indicator.
    mutating func damage(_ text: String) -> String {
        var bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return text }
        let index = Int.random(in: 0..<bytes.count, using: &self)
        let indicator = pick(Array("'\"#&*[]{},:-|> \n".utf8))
        switch Int.random(in: 0..<3, using: &self) {
        case 0: bytes.insert(indicator, at: index)
        case 1: bytes.remove(at: index)
        default: bytes[index] = indicator
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Random YAML documents with anchors, aliases and text a byte scanner finds hard to follow.
///
/// Anchors are mostly defined before use, sometimes reused (shadowing) and sometimes
/// referred to from inside themselves; scalars hold quotes, `#`, `*` and brackets in
/// places where they are text, not syntax.
struct YAMLGenerator {
    var random: SplitMix64
    private var anchors: [String] = []
    private var nextAnchor = 0

    static let blockWords = [
        "a", "b", "lol", "it's", "a\"b", "x#y", "'q # not a comment'", "\"d \\\" [ {\"", "'*a0'", "\"&a1\"",
        "'k: v'", "a'b\"c", "*x", "100", "~", "''", "\"\"", "[x]y",
    ]
    static let flowWords = ["a", "b", "lol", "it's", "'q, [x]'", "\"d \\\" ] }\"", "'*a0'", "x#y", "1", "''"]

    init(random: SplitMix64) {
        self.random = random
    }

    mutating func document() -> String {
        anchors = []
        nextAnchor = 0
        return blockMapping(indent: 0, depth: 1)
    }

    private mutating func anchorPrefix() -> String? {
        guard random.chance(0.4) else { return nil }
        if !anchors.isEmpty && random.chance(0.1) { return random.pick(anchors) }
        nextAnchor += 1
        return "a\(nextAnchor)"
    }

    private mutating func alias(pending: [String]) -> String? {
        if !pending.isEmpty && random.chance(0.02) { return "*" + random.pick(pending) }
        guard !anchors.isEmpty && random.chance(0.45) else { return nil }
        return "*" + random.pick(anchors)
    }

    private mutating func comment() -> String {
        random.chance(0.15) ? random.pick([" # it's", " # \"*a1 [", " #{"]) : ""
    }

    private mutating func blockMapping(indent: Int, depth: Int, pending: [String] = []) -> String {
        var text = ""
        let pad = String(repeating: " ", count: indent)
        for index in 0..<Int.random(in: 1...(depth == 1 ? 6 : 3), using: &random) {
            var key = random.pick(["k\(index)", "name", "'q k\(index)'", "\"d\(index)\""])
            if random.chance(0.05), let aliasKey = alias(pending: pending) { key = aliasKey + " " }
            text += pad + key + ":" + blockValue(indent: indent, depth: depth, pending: pending)
        }
        return text
    }

    private mutating func blockSequence(indent: Int, depth: Int, pending: [String]) -> String {
        var text = ""
        let pad = String(repeating: " ", count: indent)
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            text += pad + "-" + blockValue(indent: indent, depth: depth, pending: pending)
        }
        return text
    }

    /// A value after `key:` or `-`, starting with its separating space or newline.
    private mutating func blockValue(indent: Int, depth: Int, pending: [String]) -> String {
        if let alias = alias(pending: pending) { return " " + alias + comment() + "\n" }
        let anchor = anchorPrefix()
        let inner = pending + (anchor.map { [$0] } ?? [])
        let head = anchor.map { " &\($0)" } ?? ""
        let text: String
        let choice = depth < 9 ? Int.random(in: 0..<10, using: &random) : random.pick([0, 1, 8, 9])
        switch choice {
        case 0...3:
            text = head + " " + random.pick(Self.blockWords) + comment() + "\n"
        case 4, 5:
            text = head + " " + flowValue(depth: depth + 1, pending: inner) + comment() + "\n"
        case 6:
            text = head + comment() + "\n" + blockMapping(indent: indent + 2, depth: depth + 1, pending: inner)
        case 7:
            text = head + comment() + "\n" + blockSequence(indent: indent + 2, depth: depth + 1, pending: inner)
        case 8:
            let body = random.pick(["*a1 [ { ' \"", "it's # not a comment", "  more 'indent"])
            text = head + " " + random.pick(["|", ">-", "|+"]) + "\n" + String(repeating: " ", count: indent + 2) + body + "\n"
        default:
            text = head + " " + random.pick(Self.blockWords) + "\n"
        }
        if let anchor { anchors.append(anchor) }
        return text
    }

    private mutating func flowValue(depth: Int, pending: [String]) -> String {
        let isMapping = random.chance(0.4)
        var items: [String] = []
        for index in 0..<Int.random(in: 0...3, using: &random) {
            let item = flowItem(depth: depth, pending: pending)
            items.append(isMapping ? "f\(index): " + item : item)
        }
        return isMapping ? "{" + items.joined(separator: ", ") + "}" : "[" + items.joined(separator: ", ") + "]"
    }

    private mutating func flowItem(depth: Int, pending: [String]) -> String {
        if let alias = alias(pending: pending) { return alias }
        let anchor = anchorPrefix()
        let inner = pending + (anchor.map { [$0] } ?? [])
        let head = anchor.map { "&\($0) " } ?? ""
        let body = depth < 9 && random.chance(0.35) ? flowValue(depth: depth + 1, pending: inner) : random.pick(Self.flowWords)
        if let anchor { anchors.append(anchor) }
        return head + body
    }
}
