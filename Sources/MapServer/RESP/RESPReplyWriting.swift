public import NIOCore

/// The protocol a connection speaks: RESP2 until `HELLO 3`, RESP3 after it.
public enum RESPVersion: Int, Sendable {
    case resp2 = 2
    case resp3 = 3
}

/// Replies written straight into the outbound buffer: no intermediate value on the hot path.
extension ByteBuffer {
    @inlinable
    mutating func writeRESPSimpleString(_ text: some StringProtocol) {
        writeInteger(UInt8(ascii: "+"))
        writeString(String(text))
        writeRESPLineEnd()
    }

    /// `+OK\r\n`.
    @inlinable
    mutating func writeRESPOK() {
        writeStaticString("+OK\r\n")
    }

    /// An error line; CR and LF inside `text` become spaces, since they would end the line.
    mutating func writeRESPError(_ text: String) {
        writeInteger(UInt8(ascii: "-"))
        for byte in text.utf8 {
            writeInteger(byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") ? UInt8(ascii: " ") : byte)
        }
        writeRESPLineEnd()
    }

    @inlinable
    mutating func writeRESPInteger(_ value: Int) {
        writeInteger(UInt8(ascii: ":"))
        writeRESPDecimal(value)
        writeRESPLineEnd()
    }

    @inlinable
    mutating func writeRESPBulkString(_ bytes: some Collection<UInt8>) {
        writeInteger(UInt8(ascii: "$"))
        writeRESPDecimal(bytes.count)
        writeRESPLineEnd()
        writeBytes(bytes)
        writeRESPLineEnd()
    }

    mutating func writeRESPBulkString(_ text: String) {
        writeRESPBulkString(text.utf8)
    }

    /// The null reply: `$-1` in RESP2 (as for a missing key), `_` in RESP3.
    @inlinable
    mutating func writeRESPNull(_ version: RESPVersion) {
        switch version {
        case .resp2: writeStaticString("$-1\r\n")
        case .resp3: writeStaticString("_\r\n")
        }
    }

    @inlinable
    mutating func writeRESPArrayHeader(_ count: Int) {
        writeInteger(UInt8(ascii: "*"))
        writeRESPDecimal(count)
        writeRESPLineEnd()
    }

    /// A map of `count` pairs: `%` in RESP3, an array of twice as many elements in RESP2.
    mutating func writeRESPMapHeader(_ count: Int, _ version: RESPVersion) {
        switch version {
        case .resp2: writeRESPArrayHeader(count * 2)
        case .resp3:
            writeInteger(UInt8(ascii: "%"))
            writeRESPDecimal(count)
            writeRESPLineEnd()
        }
    }

    @inlinable
    mutating func writeRESPLineEnd() {
        writeInteger(UInt16(UInt8(ascii: "\r")) << 8 | UInt16(UInt8(ascii: "\n")))
    }

    /// Decimal digits without going through a String.
    @inlinable
    mutating func writeRESPDecimal(_ value: Int) {
        if value >= 0, value < 10 {
            writeInteger(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for Int.min's 20 characters
        var magnitude = value.magnitude
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            if value < 0 {
                raw[23 - count] = UInt8(ascii: "-")
                count += 1
            }
            writeBytes(UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }
}
