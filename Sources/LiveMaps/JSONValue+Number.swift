extension JSONValue {
    /// Whether `value`, serialized, is the same number as `literal` (a JSON number's text).
    ///
    /// Both are brought to one form — sign, significant digits without leading or trailing
    /// zeros, and a power of ten — and compared. `1.50`, `15e-1` and `1.5` are one number;
    /// `0.1000000000000000000001` and the double nearest it are not.
    static func doubleWritesBack(_ value: Double, as literal: String) -> Bool {
        guard let written = DecimalForm(parsing: "\(value)".utf8), let original = DecimalForm(parsing: literal.utf8) else {
            return false
        }
        return written == original
    }
}

/// A decimal number as sign × digits × 10^exponent, with no leading or trailing zero digits.
struct DecimalForm: Equatable {
    var isNegative: Bool
    var digits: [UInt8]
    var exponent: Int

    /// Parses `-?digits(.digits)?([eE][+-]?digits)?`; `nil` for anything else (`inf`, `nan`).
    init?(parsing text: some Collection<UInt8>) {
        var index = text.startIndex
        isNegative = false
        if index < text.endIndex, text[index] == UInt8(ascii: "-") {
            isNegative = true
            text.formIndex(after: &index)
        }
        digits = []
        exponent = 0
        var sawDigit = false
        var inFraction = false
        while index < text.endIndex {
            let byte = text[index]
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                sawDigit = true
                if !(digits.isEmpty && byte == UInt8(ascii: "0")) { digits.append(byte) }
                if inFraction { exponent -= 1 }
            } else if byte == UInt8(ascii: ".") && !inFraction {
                inFraction = true
            } else {
                break
            }
            text.formIndex(after: &index)
        }
        guard sawDigit else { return nil }
        if index < text.endIndex {
            guard text[index] == UInt8(ascii: "e") || text[index] == UInt8(ascii: "E") else { return nil }
            text.formIndex(after: &index)
            var exponentSign = 1
            if index < text.endIndex, text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") {
                if text[index] == UInt8(ascii: "-") { exponentSign = -1 }
                text.formIndex(after: &index)
            }
            var written = 0
            var sawExponentDigit = false
            while index < text.endIndex, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
                // Saturates: an exponent this large is never a double's, so the comparison still fails.
                written = min(written * 10 + Int(text[index] - UInt8(ascii: "0")), 1 << 40)
                sawExponentDigit = true
                text.formIndex(after: &index)
            }
            guard sawExponentDigit, index == text.endIndex else { return nil }
            exponent += exponentSign * written
        }
        while digits.last == UInt8(ascii: "0") {
            digits.removeLast()
            exponent += 1
        }
        if digits.isEmpty {
            // Zero is zero whatever its sign or exponent.
            isNegative = false
            exponent = 0
        }
    }
}
