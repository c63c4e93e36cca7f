public import NIOCore

/// Reads RESP2 and RESP3 values of any type from a byte stream: the client side of the protocol (the
/// tests read the daemon's replies with it).
///
/// A value is consumed only once it has arrived whole; until then ``next(in:)`` returns nil and leaves
/// the buffer as it was. Lengths, element counts and nesting depth are checked against ``RESPLimits``
/// before anything is allocated for them.
public struct RESPValueParser: Sendable {
    public let limits: RESPLimits

    public init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    /// The next whole value of `buffer`, consumed; nil while it has not all arrived.
    public func next(in buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPValue? {
        var cursor = buffer.readerIndex
        guard let value = try value(in: buffer, at: &cursor, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: cursor)
        return value
    }

    private func value(in buffer: ByteBuffer, at cursor: inout Int, depth: Int) throws(RESPProtocolError) -> RESPValue? {
        guard depth <= limits.maxDepth else { throw RESPProtocolError("nested deeper than \(limits.maxDepth)") }
        guard let marker = buffer.getInteger(at: cursor, as: UInt8.self) else { return nil }
        guard let line = try line(in: buffer, after: cursor) else { return nil }
        let text = line.text
        var next = line.end
        let result: RESPValue
        switch marker {
        case UInt8(ascii: "+"): result = .simpleString(text)
        case UInt8(ascii: "-"): result = .error(text)
        case UInt8(ascii: ":"):
            guard let value = Int(text) else { throw RESPProtocolError("invalid integer '\(text.prefix(32))'") }
            result = .integer(value)
        case UInt8(ascii: "_"): result = .null
        case UInt8(ascii: "#"):
            guard text == "t" || text == "f" else { throw RESPProtocolError("invalid boolean") }
            result = .boolean(text == "t")
        case UInt8(ascii: ","): result = .double(text)
        case UInt8(ascii: "$"):
            let length = try count(text, limit: limits.maxBulkBytes, what: "bulk")
            if length < 0 {
                result = .null
                break
            }
            guard next + length + 2 <= buffer.writerIndex else { return nil }
            guard buffer.getInteger(at: next + length, as: UInt16.self) == (UInt16(13) << 8 | 10) else {
                throw RESPProtocolError("bulk string not followed by CRLF")
            }
            result = .bulkString(buffer.getBytes(at: next, length: length) ?? [])
            next += length + 2
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: "%"), UInt8(ascii: ">"):
            let isMap = marker == UInt8(ascii: "%")
            let count = try count(text, limit: limits.maxArguments, what: "aggregate")
            if count < 0 {
                result = .null
                break
            }
            // Not reserved from the announced count: elements are appended as they arrive.
            var elements: [RESPValue] = []
            for _ in 0..<(isMap ? count * 2 : count) {
                guard let element = try value(in: buffer, at: &next, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            if isMap {
                result = .map(stride(from: 0, to: elements.count, by: 2).map { RESPPair(elements[$0], elements[$0 + 1]) })
            } else if marker == UInt8(ascii: "~") {
                result = .set(elements)
            } else {
                result = .array(elements)
            }
        default:
            throw RESPProtocolError("unknown type byte '\(RESPRequestDecoder.printable(marker))'")
        }
        cursor = next
        return result
    }

    /// The text of the line that starts after the type byte at `start`, and the index after its CRLF.
    private func line(in buffer: ByteBuffer, after start: Int) throws(RESPProtocolError) -> (text: String, end: Int)? {
        let view = buffer.readableBytesView
        let from = start + 1
        let limit = min(buffer.writerIndex, from + limits.maxInlineBytes + 2)
        guard from <= limit, let carriageReturn = view[from..<limit].firstIndex(of: UInt8(ascii: "\r")) else {
            if buffer.writerIndex - from > limits.maxInlineBytes { throw RESPProtocolError("line too long") }
            return nil
        }
        guard carriageReturn + 1 < buffer.writerIndex else { return nil }
        guard view[carriageReturn + 1] == UInt8(ascii: "\n") else { throw RESPProtocolError("CR not followed by LF") }
        return (String(decoding: view[from..<carriageReturn], as: UTF8.self), carriageReturn + 2)
    }

    private func count(_ text: String, limit: Int, what: String) throws(RESPProtocolError) -> Int {
        guard let value = Int(text), value >= -1, value <= limit else { throw RESPProtocolError("invalid \(what) length") }
        return value
    }
}
