/// A key of a JSON object, equal to another only when their UTF-8 bytes are equal.
///
/// A `String` key would merge `"café"` (precomposed) and `"cafe\u{301}"` (decomposed) into one
/// member, because `String` compares by canonical equivalence. JSON parsers elsewhere keep them
/// apart, and so does this one: what a client sends is what it reads back.
public struct JSONKey: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The key's text, exactly as sent.
    public var text: String

    public init(_ text: String) {
        self.text = text
    }

    public init(stringLiteral value: String) {
        text = value
    }

    public var description: String { text }

    public static func == (lhs: JSONKey, rhs: JSONKey) -> Bool { UTF8Identity.equal(lhs.text, rhs.text) }

    public func hash(into hasher: inout Hasher) { UTF8Identity.hash(text, into: &hasher) }

    /// Byte order, so that serialized objects list their members the same way on every platform.
    public static func < (lhs: JSONKey, rhs: JSONKey) -> Bool { UTF8Identity.less(lhs.text, rhs.text) }
}
