#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Equality and hashing of text by its UTF-8 bytes.
///
/// Swift's `String` compares by canonical equivalence: `café` written with a
/// precomposed `é` and with `e` + combining acute accent are one string. Names
/// that address data — map keys, JSON object keys — must not merge like that:
/// two clients that send different bytes mean different entries, and the bytes
/// are what other languages' maps compare. Byte comparison is also cheaper than
/// normalizing.
enum UTF8Identity {
    static func equal(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in
                left.isEmpty || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0
            }
        }
    }

    static func hash(_ text: String, into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(text.utf8.count)
    }

    /// Orders by UTF-8 bytes, which for valid UTF-8 is Unicode code point order.
    static func less(_ lhs: String, _ rhs: String) -> Bool {
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in
                let common = min(left.count, right.count)
                let order = common == 0 ? 0 : memcmp(left.baseAddress!, right.baseAddress!, common)
                return order != 0 ? order < 0 : left.count < right.count
            }
        }
    }
}
