/// Durations written as Go and Prometheus write them: `500us`, `2ms`, `1s`, `15m`, `1h30m`, `1.5h`.
///
/// Units are `ns`, `us` (or `µs`), `ms`, `s`, `m` and `h`; a number may carry a
/// decimal fraction. Negative durations are refused: nothing in a schema can
/// last less than nothing.
public enum GoDuration {
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    private static let units: [(String, Int64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000),
        ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// Parses a Go duration.
    ///
    /// - Throws: ``GoDuration/ParseError`` naming what is wrong.
    public static func parse(_ text: String) throws -> Duration {
        let invalid = ParseError("invalid duration '\(text)' (expected a number and a unit such as 500us, 2ms, 1s, 15m, 1h30m)")
        let scalars = Array(text.unicodeScalars)
        guard !scalars.isEmpty, !scalars.contains(where: { $0.properties.isWhitespace }) else { throw invalid }
        if scalars == ["0"] { return .zero }
        if scalars.first == "-" { throw ParseError("duration '\(text)' is negative") }
        var index = scalars.startIndex
        if scalars[index] == "+" { index += 1 }
        var totalNanoseconds: Double = 0
        var sawComponent = false
        while index < scalars.count {
            var whole: Double = 0
            var fraction: Double = 0
            var scale: Double = 1
            var digits = 0
            while index < scalars.count, let digit = scalars[index].asciiDigit {
                whole = whole * 10 + Double(digit)
                digits += 1
                index += 1
            }
            if index < scalars.count, scalars[index] == "." {
                index += 1
                while index < scalars.count, let digit = scalars[index].asciiDigit {
                    scale /= 10
                    fraction += Double(digit) * scale
                    digits += 1
                    index += 1
                }
            }
            guard digits > 0 else { throw invalid }
            var unitEnd = index
            while unitEnd < scalars.count, scalars[unitEnd].asciiDigit == nil, scalars[unitEnd] != "." { unitEnd += 1 }
            let unit = String(String.UnicodeScalarView(scalars[index..<unitEnd]))
            guard !unit.isEmpty else {
                throw ParseError("duration '\(text)' is missing a unit (ns, us, ms, s, m, h)")
            }
            guard let multiplier = units.first(where: { $0.0 == unit })?.1 else {
                throw ParseError("duration '\(text)' has an unknown unit '\(unit)' (expected ns, us, ms, s, m or h)")
            }
            totalNanoseconds += (whole + fraction) * Double(multiplier)
            guard totalNanoseconds < 9.2e18 else { throw ParseError("duration '\(text)' is too long") }
            sawComponent = true
            index = unitEnd
        }
        guard sawComponent else { throw invalid }
        return .nanoseconds(Int64(totalNanoseconds.rounded()))
    }

    /// Formats a duration as Go would write it, leaving out zero parts: `1h30m`, `2ms`, `500us`, `1.5s`.
    public static func format(_ duration: Duration) -> String {
        let nanoseconds = nanoseconds(of: duration)
        if nanoseconds == 0 { return "0s" }
        let sign = nanoseconds < 0 ? "-" : ""
        let magnitude = nanoseconds.magnitude
        if magnitude < 1_000_000_000 {
            if magnitude % 1_000_000 == 0 { return sign + "\(magnitude / 1_000_000)ms" }
            if magnitude % 1_000 == 0 {
                return magnitude >= 1_000_000 ? sign + decimal(magnitude, per: 1_000_000) + "ms" : sign + "\(magnitude / 1_000)us"
            }
            return magnitude >= 1_000 ? sign + decimal(magnitude, per: 1_000) + "us" : sign + "\(magnitude)ns"
        }
        var text = sign
        let hours = magnitude / 3_600_000_000_000
        let minutes = (magnitude / 60_000_000_000) % 60
        let seconds = magnitude % 60_000_000_000
        if hours > 0 { text += "\(hours)h" }
        if minutes > 0 { text += "\(minutes)m" }
        if seconds > 0 { text += decimal(seconds, per: 1_000_000_000) + "s" }
        return text
    }

    /// The duration in whole nanoseconds (saturating).
    public static func nanoseconds(of duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return product.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }

    private static func decimal(_ value: UInt64, per unit: UInt64) -> String {
        let whole = value / unit
        var fraction = value % unit
        if fraction == 0 { return "\(whole)" }
        var width = String(unit).count - 1
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

extension Unicode.Scalar {
    var asciiDigit: Int? {
        value >= 48 && value <= 57 ? Int(value - 48) : nil
    }
}
