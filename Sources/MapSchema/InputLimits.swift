/// The checks made on a file before Yams composes it.
///
/// ``check(_:file:options:)`` looks at the bytes: an oversized file and bytes
/// that are not UTF-8 are refused in one linear pass. The structure — nesting
/// deep enough to exhaust a recursive composer's stack (Yams' composer recurses
/// per level), aliases, and how many nodes a document expands to — is counted by
/// ``checkEvents(_:file:lineOffset:options:)`` on libyaml's own event stream,
/// so that no document the parser accepts can cost more than the limits.
enum InputLimits {
    static func check(_ bytes: [UInt8], file: String, options: SchemaDecoder.Options) -> Diagnostic? {
        if bytes.count > options.maxFileBytes {
            return Diagnostic(
                file: file, line: 0, column: 0,
                message: "file is \(bytes.count) bytes; the limit is \(describeBytes(options.maxFileBytes)) (\(options.maxFileBytes) bytes)"
            )
        }
        if let offset = firstInvalidUTF8Offset(bytes) {
            let (line, column) = position(ofByte: offset, in: bytes)
            return Diagnostic(
                file: file, line: line, column: column,
                message: "invalid UTF-8: byte 0x\(hexByte(bytes[offset])) at byte offset \(offset); schema files must be UTF-8"
            )
        }
        return nil
    }

    /// The byte offset of the first byte that is not part of a well-formed UTF-8 sequence.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var i = 0
        let count = bytes.count
        while i < count {
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            let length: Int
            var minimumSecond: UInt8 = 0x80
            var maximumSecond: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                minimumSecond = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                maximumSecond = 0x9F
            case 0xF0:
                length = 4
                minimumSecond = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                maximumSecond = 0x8F
            default: return i
            }
            guard i + 1 < count, bytes[i + 1] >= minimumSecond, bytes[i + 1] <= maximumSecond else {
                return i
            }
            for k in 2..<length {
                guard i + k < count, bytes[i + k] & 0xC0 == 0x80 else { return i }
            }
            i += length
        }
        return nil
    }

    /// 1-based line and column (in characters of the valid prefix) of a byte offset.
    static func position(ofByte offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        var i = 0
        while i < offset && i < bytes.count {
            let byte = bytes[i]
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
            i += 1
        }
        return (line, column)
    }

    private static func describeBytes(_ count: Int) -> String {
        if count % (1 << 20) == 0 { return "\(count >> 20) MiB" }
        if count % (1 << 10) == 0 { return "\(count >> 10) KiB" }
        return "\(count) bytes"
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
