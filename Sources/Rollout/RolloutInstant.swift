/// A point on a monotonic timeline, as an offset from an arbitrary origin.
///
/// The rollout state machines never read a clock: callers pass the current
/// instant in, which is what lets tests drive them with ``ManualRolloutClock``.
/// Instants from different clocks (or different processes) are not comparable.
public struct RolloutInstant: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The distance from the clock's origin.
    public var offset: Duration

    public init(offset: Duration) {
        self.offset = offset
    }

    /// The clock's origin.
    public static let zero = RolloutInstant(offset: .zero)

    public static func < (lhs: RolloutInstant, rhs: RolloutInstant) -> Bool {
        lhs.offset < rhs.offset
    }

    public static func + (lhs: RolloutInstant, rhs: Duration) -> RolloutInstant {
        RolloutInstant(offset: lhs.offset + rhs)
    }

    public static func - (lhs: RolloutInstant, rhs: Duration) -> RolloutInstant {
        RolloutInstant(offset: lhs.offset - rhs)
    }

    /// The duration from `rhs` to `lhs` (negative when `lhs` is earlier).
    public static func - (lhs: RolloutInstant, rhs: RolloutInstant) -> Duration {
        lhs.offset - rhs.offset
    }

    /// The duration from this instant to `other`.
    public func duration(to other: RolloutInstant) -> Duration {
        other.offset - offset
    }

    public var description: String { "t+\(DurationFormat.short(offset))" }
}
