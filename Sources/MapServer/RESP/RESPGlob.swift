/// Redis's glob patterns, for `SCAN … MATCH`: `*`, `?`, `[abc]`, `[a-z]`, `[^a]`, and `\` escaping.
struct RESPGlob: Sendable {
    let pattern: [UInt8]

    init(_ pattern: some Sequence<UInt8>) {
        self.pattern = Array(pattern)
    }

    /// True when the pattern holds no wildcard: it names one string.
    var isLiteral: Bool {
        !pattern.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "\\") }
    }

    /// Whether `text` matches the whole pattern.
    func matches(_ text: some Collection<UInt8>) -> Bool {
        Self.match(pattern[...], Array(text)[...])
    }

    /// Iterative matching with one backtrack point per `*`: linear in practice, never exponential.
    private static func match(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        var p = pattern.startIndex
        var t = text.startIndex
        var star: (pattern: Int, text: Int)?
        while t < text.endIndex {
            if p < pattern.endIndex {
                switch pattern[p] {
                case UInt8(ascii: "*"):
                    star = (p, t)
                    p += 1
                    continue
                case UInt8(ascii: "?"):
                    p += 1
                    t += 1
                    continue
                case UInt8(ascii: "["):
                    if let (matched, next) = matchClass(pattern, at: p, byte: text[t]), matched {
                        p = next
                        t += 1
                        continue
                    }
                case UInt8(ascii: "\\") where p + 1 < pattern.endIndex:
                    if pattern[p + 1] == text[t] {
                        p += 2
                        t += 1
                        continue
                    }
                default:
                    if pattern[p] == text[t] {
                        p += 1
                        t += 1
                        continue
                    }
                }
            }
            guard let backtrack = star else { return false }
            p = backtrack.pattern + 1
            t = backtrack.text + 1
            star = (backtrack.pattern, backtrack.text + 1)
        }
        while p < pattern.endIndex, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }

    /// Matches `[…]` at `start`; returns whether `byte` is in the class and the index after it.
    private static func matchClass(_ pattern: ArraySlice<UInt8>, at start: Int, byte: UInt8) -> (Bool, Int)? {
        var index = start + 1
        var negate = false
        if index < pattern.endIndex, pattern[index] == UInt8(ascii: "^") {
            negate = true
            index += 1
        }
        var matched = false
        var first = true
        while index < pattern.endIndex, pattern[index] != UInt8(ascii: "]") || first {
            first = false
            var low = pattern[index]
            if low == UInt8(ascii: "\\"), index + 1 < pattern.endIndex {
                index += 1
                low = pattern[index]
            }
            if index + 2 < pattern.endIndex, pattern[index + 1] == UInt8(ascii: "-"), pattern[index + 2] != UInt8(ascii: "]") {
                let high = pattern[index + 2]
                if min(low, high) <= byte, byte <= max(low, high) { matched = true }
                index += 3
            } else {
                if low == byte { matched = true }
                index += 1
            }
        }
        guard index < pattern.endIndex else { return nil }  // no closing bracket: not a class
        return (matched != negate, index + 1)
    }
}
