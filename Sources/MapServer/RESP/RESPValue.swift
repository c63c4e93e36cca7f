public import NIOCore

/// One RESP value of any type, RESP2 and RESP3: what ``RESPValueParser`` reads and what the less
/// frequent replies (HELLO, COMMAND, CONFIG) are built from. The hot replies are written directly
/// (see the `writeRESP…` methods of `ByteBuffer`).
public indirect enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int)
    case bulkString([UInt8])
    /// RESP2's null bulk string and null array, RESP3's `_`.
    case null
    case array([RESPValue])
    /// RESP3 only: an array in RESP2.
    case set([RESPValue])
    /// RESP3 only: pairs, written as a flat array in RESP2.
    case map([RESPPair])
    /// RESP3 only: `:1`/`:0` in RESP2.
    case boolean(Bool)
    /// RESP3 only: a bulk string in RESP2. Kept as its text, so that any value round-trips exactly.
    case double(String)

    /// A bulk string of `text`'s UTF-8 bytes.
    public static func bulk(_ text: String) -> RESPValue { .bulkString(Array(text.utf8)) }

    /// Writes the value as `version` has it.
    public func write(to buffer: inout ByteBuffer, version: RESPVersion) {
        switch self {
        case .simpleString(let text): buffer.writeRESPSimpleString(text)
        case .error(let text): buffer.writeRESPError(text)
        case .integer(let value): buffer.writeRESPInteger(value)
        case .bulkString(let bytes): buffer.writeRESPBulkString(bytes)
        case .null: buffer.writeRESPNull(version)
        case .array(let elements):
            buffer.writeRESPArrayHeader(elements.count)
            for element in elements { element.write(to: &buffer, version: version) }
        case .set(let elements):
            if version == .resp3 {
                buffer.writeInteger(UInt8(ascii: "~"))
                buffer.writeRESPDecimal(elements.count)
                buffer.writeRESPLineEnd()
            } else {
                buffer.writeRESPArrayHeader(elements.count)
            }
            for element in elements { element.write(to: &buffer, version: version) }
        case .map(let pairs):
            buffer.writeRESPMapHeader(pairs.count, version)
            for pair in pairs {
                pair.key.write(to: &buffer, version: version)
                pair.value.write(to: &buffer, version: version)
            }
        case .boolean(let value):
            if version == .resp3 {
                buffer.writeStaticString(value ? "#t\r\n" : "#f\r\n")
            } else {
                buffer.writeRESPInteger(value ? 1 : 0)
            }
        case .double(let text):
            if version == .resp3 {
                buffer.writeInteger(UInt8(ascii: ","))
                buffer.writeString(text)
                buffer.writeRESPLineEnd()
            } else {
                buffer.writeRESPBulkString(text.utf8)
            }
        }
    }
}

/// One key and value of a RESP3 map.
public struct RESPPair: Sendable, Hashable {
    public var key: RESPValue
    public var value: RESPValue

    public init(_ key: RESPValue, _ value: RESPValue) {
        self.key = key
        self.value = value
    }
}
