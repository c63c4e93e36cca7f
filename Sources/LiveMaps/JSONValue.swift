/// A JSON value as it travels over the daemon's API.
///
/// Numbers keep their kind and their value: integers that fit `Int64` are `.int`, larger
/// non-negative ones `.uint`, numbers with a fraction or exponent `.double` when a `Double`
/// writes them back as the same number, and anything else `.number` with the literal text as
/// written (an integer past 64 bits, more significant digits than a double holds, an exponent
/// that underflows). Nothing is rounded on the way through. Objects are unordered; their keys
/// compare by UTF-8 bytes (``JSONKey``), and ``serialized()`` writes them sorted so that equal
/// values serialize to equal bytes.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    /// A number no fixed-width type holds exactly, kept as its JSON literal text.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONKey: JSONValue])

    /// The largest nesting depth that ``init(parsing:maxDepth:)`` accepts by default.
    public static let defaultMaxDepth = 64

    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .uint: "an integer"
        case .double: "a number"
        case .number(let text):
            text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
                ? "a number with more precision or range than a double" : "an integer wider than 64 bits"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Strings (and number literals) are equal when their UTF-8 bytes are, not by canonical equivalence.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let left), .bool(let right)): left == right
        case (.int(let left), .int(let right)): left == right
        case (.uint(let left), .uint(let right)): left == right
        case (.double(let left), .double(let right)): left == right
        case (.number(let left), .number(let right)): UTF8Identity.equal(left, right)
        case (.string(let left), .string(let right)): UTF8Identity.equal(left, right)
        case (.array(let left), .array(let right)): left == right
        case (.object(let left), .object(let right)): left == right
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0 as UInt8)
        case .bool(let flag):
            hasher.combine(1 as UInt8)
            hasher.combine(flag)
        case .int(let value):
            hasher.combine(2 as UInt8)
            hasher.combine(value)
        case .uint(let value):
            hasher.combine(3 as UInt8)
            hasher.combine(value)
        case .double(let value):
            hasher.combine(4 as UInt8)
            hasher.combine(value)
        case .number(let text):
            hasher.combine(5 as UInt8)
            UTF8Identity.hash(text, into: &hasher)
        case .string(let text):
            hasher.combine(6 as UInt8)
            UTF8Identity.hash(text, into: &hasher)
        case .array(let items):
            hasher.combine(7 as UInt8)
            hasher.combine(items)
        case .object(let members):
            hasher.combine(8 as UInt8)
            hasher.combine(members)
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The value serialized as compact JSON.
    public var description: String { String(decoding: serialized(), as: UTF8.self) }
}
