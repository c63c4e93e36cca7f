/// Durations written as the schema writes them (`250us`, `2.5ms`, `1.2s`), for reasons people read.
enum DurationFormat {
    static func short(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let nanos = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
        let magnitude = abs(nanos)
        if magnitude < 1e3 { return "\(trimmed(nanos))ns" }
        if magnitude < 1e6 { return "\(trimmed(nanos / 1e3))us" }
        if magnitude < 1e9 { return "\(trimmed(nanos / 1e6))ms" }
        return "\(trimmed(nanos / 1e9))s"
    }

    /// At most three decimals, no trailing zeros: 2.5, 0.42, 3.
    static func trimmed(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded() && abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return String(rounded)
    }

    /// A ratio with up to four decimals: 0.4167, 0.01.
    static func ratio(_ value: Double) -> String {
        let rounded = (value * 10_000).rounded() / 10_000
        if rounded == rounded.rounded() { return String(Int64(rounded)) }
        return String(rounded)
    }
}
