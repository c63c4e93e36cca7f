/// A Prometheus text-format (0.0.4) page written straight into one byte buffer.
///
/// Label values are escaped here and only here, as the format wants: backslash as `\\`, double quote
/// as `\"`, line feed as `\n`. Label names, metric names and help texts are ours and constant.
struct ExpositionText {
    /// The metric types this page writes.
    enum MetricType: String {
        case counter, gauge, histogram
    }

    private(set) var bytes: [UInt8] = []

    init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// `# HELP name help` and `# TYPE name type`. Help texts are ours: no backslash, no line feed.
    mutating func family(_ name: String, _ type: MetricType, help: String) {
        bytes.append(contentsOf: "# HELP ".utf8)
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: " "))
        bytes.append(contentsOf: help.utf8)
        bytes.append(contentsOf: "\n# TYPE ".utf8)
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: " "))
        bytes.append(contentsOf: type.rawValue.utf8)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// One sample line: `name{labels,more} value`, or `name value` without labels.
    ///
    /// - Parameters:
    ///   - labels: labels rendered once for many lines (a map's `map` and `version`).
    ///   - more: further labels of this line (an `op` and `result`, a bucket's `le`).
    mutating func sample(_ name: Name, _ labels: Labels = Labels(), _ more: Labels = Labels(), value: Value) {
        bytes.append(contentsOf: name.bytes)
        if !labels.isEmpty || !more.isEmpty {
            bytes.append(UInt8(ascii: "{"))
            bytes.append(contentsOf: labels.rendered)
            if !labels.isEmpty && !more.isEmpty { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: more.rendered)
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: " "))
        value.write(to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Appends the raw bytes of another page (a registry's own emission).
    mutating func append(contentsOf other: [UInt8]) {
        bytes.append(contentsOf: other)
    }

    /// Appends `name="value"` with the value escaped.
    static func appendLabel(_ name: String, _ value: String, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: name.utf8)
        buffer.append(contentsOf: "=\"".utf8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): buffer.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\""): buffer.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\n"): buffer.append(contentsOf: #"\n"#.utf8)
            default: buffer.append(byte)
            }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// A metric name, as bytes once.
    struct Name: Sendable {
        let bytes: [UInt8]

        init(_ name: String) {
            bytes = Array(name.utf8)
        }
    }

    /// Labels rendered once (`map="users",version="1.0.0"`), for the many lines that share them.
    struct Labels {
        fileprivate(set) var rendered: [UInt8] = []

        init() {}

        init(_ pairs: KeyValuePairs<String, String>) {
            for (name, value) in pairs {
                append(name, value)
            }
        }

        var isEmpty: Bool { rendered.isEmpty }

        mutating func append(_ name: String, _ value: String) {
            if !rendered.isEmpty { rendered.append(UInt8(ascii: ",")) }
            ExpositionText.appendLabel(name, value, to: &rendered)
        }
    }

    /// A sample's value as the format writes it.
    enum Value {
        /// A counter's count, in decimal digits.
        case count(UInt64)
        /// A gauge or a sum, as Swift prints a `Double` (`5.0`, `0.0042`, `1e+20`, `+Inf`, `NaN`).
        case double(Double)

        /// A counter's value as swift-prometheus writes it: an `Int64`, clamped.
        static func counter(_ count: UInt64) -> Value { .count(min(count, UInt64(Int64.max))) }

        func write(to buffer: inout [UInt8]) {
            switch self {
            case .count(let count): ExpositionText.appendDecimal(count, to: &buffer)
            case .double(let value): buffer.append(contentsOf: ExpositionText.format(value).utf8)
            }
        }
    }

    /// Decimal digits of `value`, without going through a `String`.
    static func appendDecimal(_ value: UInt64, to buffer: inout [UInt8]) {
        var divisor: UInt64 = 1
        while divisor <= value / 10 { divisor &*= 10 }
        var remaining = value
        while true {
            buffer.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remaining / divisor))
            remaining %= divisor
            if divisor == 1 { return }
            divisor /= 10
        }
    }

    /// A float as the text format reads it: `+Inf`, `-Inf`, `NaN`, else Swift's shortest round-trip form.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return value.description
    }
}
