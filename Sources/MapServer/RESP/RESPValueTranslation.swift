import Foundation
public import MapSchema

/// How a map's values travel over RESP, against the JSON the entry API takes and gives.
///
/// A Redis user expects the value itself: for `string` maps the text, for `bytes` maps the raw bytes
/// (base64 only inside JSON), for numbers their decimal text, for `bool` `true` or `false`; `json`,
/// record and external values are their JSON text. Numbers, booleans and JSON pass through as they
/// are: the map's own schema check refuses what is not a value of its type.
public enum RESPValueTranslation {
    /// The JSON the entry API takes for a RESP bulk string `value`.
    ///
    /// - Throws: ``RESPValueTranslationError`` when a `string` map's value is not UTF-8 text.
    public static func json(fromRESP value: some Collection<UInt8>, valueType: ValueType) throws(RESPValueTranslationError) -> [UInt8] {
        switch valueType {
        case .scalar(.string):
            guard isUTF8(value) else {
                throw RESPValueTranslationError("a string map's values are UTF-8 text; use a bytes map for binary values")
            }
            return quoted(value)
        case .scalar(.bytes):
            let encoded = Data(value).base64EncodedString()
            var json: [UInt8] = [UInt8(ascii: "\"")]
            json.reserveCapacity(encoded.utf8.count + 2)
            json.append(contentsOf: encoded.utf8)
            json.append(UInt8(ascii: "\""))
            return json
        case .scalar(.int64), .scalar(.uint64), .scalar(.double):
            guard isJSONNumber(value) else {
                throw RESPValueTranslationError("the map holds \(valueType) values, decimal numbers, not '\(preview(value))'")
            }
            return Array(value)
        case .scalar(.bool):
            guard value.elementsEqual("true".utf8) || value.elementsEqual("false".utf8) else {
                throw RESPValueTranslationError("the map holds bool values, true or false, not '\(preview(value))'")
            }
            return Array(value)
        case .scalar(.json), .record, .external:
            return Array(value)
        }
    }

    /// Whether `bytes` are valid UTF-8 (ASCII checked first, without decoding).
    static func isUTF8(_ bytes: some Collection<UInt8>) -> Bool {
        if !bytes.contains(where: { $0 >= 0x80 }) { return true }
        let decoded = String(decoding: bytes, as: UTF8.self)
        return decoded.utf8.elementsEqual(bytes)
    }

    /// Whether `text` is a number as JSON writes one (`-12`, `3.5`, `1e-3`); the map checks its range.
    static func isJSONNumber(_ text: some Collection<UInt8>) -> Bool {
        var bytes = text.makeIterator()
        var byte = bytes.next()
        func digits() -> Int {
            var count = 0
            while let current = byte, current >= UInt8(ascii: "0"), current <= UInt8(ascii: "9") {
                count += 1
                byte = bytes.next()
            }
            return count
        }
        if byte == UInt8(ascii: "-") { byte = bytes.next() }
        guard digits() > 0 else { return false }
        if byte == UInt8(ascii: ".") {
            byte = bytes.next()
            guard digits() > 0 else { return false }
        }
        if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            byte = bytes.next()
            if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") { byte = bytes.next() }
            guard digits() > 0 else { return false }
        }
        return byte == nil
    }

    static func preview(_ value: some Collection<UInt8>) -> String {
        String(decoding: value.prefix(64), as: UTF8.self)
    }

    /// The RESP bulk string for a value the entry API gave as `json`.
    public static func resp(fromJSON json: [UInt8], valueType: ValueType) -> [UInt8] {
        switch valueType {
        case .scalar(.string):
            return unquoted(json) ?? json
        case .scalar(.bytes):
            guard let text = unquoted(json), let data = Data(base64Encoded: Data(text)) else { return json }
            return Array(data)
        case .scalar(.int64), .scalar(.uint64), .scalar(.double), .scalar(.bool), .scalar(.json), .record, .external:
            return json
        }
    }

    /// A JSON string literal of UTF-8 `text`.
    static func quoted(_ text: some Collection<UInt8>) -> [UInt8] {
        var json: [UInt8] = []
        json.reserveCapacity(text.count + 2)
        json.append(UInt8(ascii: "\""))
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""): json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                json.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                json.append(hex[Int(byte >> 4)])
                json.append(hex[Int(byte & 0xF)])
            default: json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
        return json
    }

    /// The UTF-8 text of a JSON string literal; nil when `json` is not one.
    static func unquoted(_ json: [UInt8]) -> [UInt8]? {
        guard json.count >= 2, json.first == UInt8(ascii: "\""), json.last == UInt8(ascii: "\"") else { return nil }
        let body = json[1..<(json.count - 1)]
        guard body.contains(UInt8(ascii: "\\")) else { return Array(body) }
        var text: [UInt8] = []
        text.reserveCapacity(body.count)
        var index = body.startIndex
        var pendingHighSurrogate: UInt32?
        while index < body.endIndex {
            let byte = body[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else {
                text.append(byte)
                continue
            }
            guard index < body.endIndex else { return nil }
            let escape = body[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escape)
            case UInt8(ascii: "n"): text.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "r"): text.append(UInt8(ascii: "\r"))
            case UInt8(ascii: "t"): text.append(UInt8(ascii: "\t"))
            case UInt8(ascii: "b"): text.append(0x08)
            case UInt8(ascii: "f"): text.append(0x0C)
            case UInt8(ascii: "u"):
                guard index + 4 <= body.endIndex, let unit = UInt32(String(decoding: body[index..<(index + 4)], as: UTF8.self), radix: 16)
                else {
                    return nil
                }
                index += 4
                var scalarValue = unit
                if (0xD800..<0xDC00).contains(unit) {
                    pendingHighSurrogate = unit
                    continue
                }
                if (0xDC00..<0xE000).contains(unit), let high = pendingHighSurrogate {
                    scalarValue = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)
                }
                pendingHighSurrogate = nil
                guard let scalar = Unicode.Scalar(scalarValue) else { return nil }
                text.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                return nil
            }
        }
        return text
    }
}

/// A RESP value that cannot become a value of the map's type (`-ERR bad_value …`).
public struct RESPValueTranslationError: Error, Sendable, CustomStringConvertible {
    public var message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
