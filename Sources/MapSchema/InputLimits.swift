/// The checks made on a file's bytes before any YAML parser sees them.
///
/// Each is one linear pass, so a hostile file is refused in microseconds: an
/// oversized file, bytes that are not UTF-8, nesting deep enough to exhaust a
/// recursive parser's stack (libyaml's composer in Yams recurses per level),
/// and more aliases than a schema could need (an alias shares its anchor's
/// node, and Yams hashes mapping keys in full, so alias fan-out is work).
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
        return scanStructure(bytes, file: file, options: options)
    }

    /// The byte offset of the first byte that is not part of a well-formed UTF-8 sequence.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var i = 0
        let count = bytes.count
        while i < count {
            let lead = bytes[i]
            if lead < 0x80 { i += 1; continue }
            let length: Int
            var minimumSecond: UInt8 = 0x80
            var maximumSecond: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; minimumSecond = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; maximumSecond = 0x9F
            case 0xF0: length = 4; minimumSecond = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; maximumSecond = 0x8F
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

    private static func scanStructure(_ bytes: [UInt8], file: String, options: SchemaDecoder.Options) -> Diagnostic? {
        var indentStack: [Int] = []
        var flowDepth = 0
        var quote: UInt8 = 0
        var blockScalarParentIndent: Int?
        var aliases = 0
        var line = 1
        var lineStart = 0
        let count = bytes.count
        while lineStart < count {
            var lineEnd = lineStart
            while lineEnd < count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            defer {
                lineStart = lineEnd + 1
                line += 1
            }
            var indent = 0
            while lineStart + indent < lineEnd, bytes[lineStart + indent] == 0x20 { indent += 1 }
            let contentStart = lineStart + indent
            let isBlank = contentStart >= lineEnd || bytes[contentStart] == 0x0D
            if let parent = blockScalarParentIndent {
                if isBlank || indent > parent { continue }
                blockScalarParentIndent = nil
            }
            var lineDepth = 0
            if quote == 0 && flowDepth == 0 {
                if isBlank || bytes[contentStart] == UInt8(ascii: "#") { continue }
                while let top = indentStack.last, top >= indent { indentStack.removeLast() }
                indentStack.append(indent)
                lineDepth = indentStack.count
            }
            var i = contentStart
            var atTokenStart = true
            var leading = quote == 0 && flowDepth == 0
            while i < lineEnd {
                let byte = bytes[i]
                if quote != 0 {
                    if byte == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") {
                        i += 2
                        continue
                    }
                    if byte == quote {
                        if quote == UInt8(ascii: "'"), i + 1 < lineEnd, bytes[i + 1] == quote {
                            i += 2
                            continue
                        }
                        quote = 0
                    }
                    i += 1
                    continue
                }
                let next: UInt8 = i + 1 < lineEnd ? bytes[i + 1] : 0x20
                let nextIsSpace = next == 0x20 || next == 0x09 || next == 0x0D
                switch byte {
                case UInt8(ascii: "#") where atTokenStart:
                    i = lineEnd
                    continue
                case UInt8(ascii: "'"), UInt8(ascii: "\""):
                    if atTokenStart { quote = byte }
                    leading = false
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    flowDepth += 1
                    leading = false
                    if lineDepth + flowDepth > options.maxDepth {
                        return depthError(file: file, line: line, column: i - lineStart + 1, options: options)
                    }
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    flowDepth = max(0, flowDepth - 1)
                case UInt8(ascii: "*") where atTokenStart && !nextIsSpace:
                    aliases += 1
                    if aliases > options.maxAliases {
                        return Diagnostic(
                            file: file, line: line, column: i - lineStart + 1,
                            message: "more than \(options.maxAliases) aliases; aliases are limited to keep expansion bounded"
                        )
                    }
                case UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":"):
                    if !nextIsSpace {
                        leading = false
                    } else if leading || byte == UInt8(ascii: ":") {
                        lineDepth += 1
                        if lineDepth + flowDepth > options.maxDepth {
                            return depthError(file: file, line: line, column: i - lineStart + 1, options: options)
                        }
                    }
                case UInt8(ascii: "|"), UInt8(ascii: ">"):
                    guard atTokenStart && flowDepth == 0 else {
                        leading = false
                        break
                    }
                    var k = i + 1
                    while k < lineEnd, [UInt8(ascii: "+"), UInt8(ascii: "-"), 0x20, 0x0D].contains(bytes[k]) || (bytes[k] >= 0x31 && bytes[k] <= 0x39) {
                        k += 1
                    }
                    if k == lineEnd || bytes[k] == UInt8(ascii: "#") {
                        blockScalarParentIndent = indent
                        i = lineEnd
                        continue
                    }
                    leading = false
                case 0x20, 0x09:
                    break
                default:
                    leading = false
                }
                atTokenStart = byte == 0x20 || byte == 0x09 || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") || byte == UInt8(ascii: ",")
                i += 1
            }
            if lineDepth + flowDepth > options.maxDepth {
                return depthError(file: file, line: line, column: 1, options: options)
            }
        }
        return nil
    }

    private static func depthError(file: String, line: Int, column: Int, options: SchemaDecoder.Options) -> Diagnostic {
        Diagnostic(file: file, line: line, column: column, message: "nesting deeper than \(options.maxDepth) levels")
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
