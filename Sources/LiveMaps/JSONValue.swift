/// A JSON value as it travels over the daemon's API.
///
/// Numbers keep their kind: integers that fit `Int64` are `.int`, larger non-negative ones `.uint`,
/// anything with a fraction or exponent `.double`. Objects are unordered; ``serialized()`` writes
/// their keys sorted so that equal values serialize to equal bytes.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The largest nesting depth that ``init(parsing:maxDepth:)`` accepts by default.
    public static let defaultMaxDepth = 64

    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .uint: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The value serialized as compact JSON.
    public var description: String { String(decoding: serialized(), as: UTF8.self) }
}
