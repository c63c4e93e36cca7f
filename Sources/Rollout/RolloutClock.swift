public import Foundation

/// The time source the controller's async shell injects into everything that waits or judges.
///
/// Two readings, taken together: a monotonic ``now`` that the state machines
/// compare (intervals, windows, cooldowns), and the wall-clock ``currentDate``
/// that goes into history and persisted window ends, which must survive a
/// restart. Production uses ``SystemRolloutClock``; tests use
/// ``ManualRolloutClock`` and move time by hand.
public protocol RolloutClock: Sendable {
    /// The current monotonic instant.
    var now: RolloutInstant { get }
    /// The current wall-clock time.
    var currentDate: Date { get }
    /// Suspends until ``now`` reaches `deadline`.
    ///
    /// - Throws: `CancellationError` when the task is cancelled first.
    func sleep(until deadline: RolloutInstant) async throws
}

extension RolloutClock {
    /// Suspends for `duration` from ``now``.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

/// The real clock: `ContinuousClock` for instants, `Date()` for wall time.
public struct SystemRolloutClock: RolloutClock {
    private let origin: ContinuousClock.Instant

    public init() {
        origin = ContinuousClock.now
    }

    public var now: RolloutInstant {
        RolloutInstant(offset: origin.duration(to: ContinuousClock.now))
    }

    public var currentDate: Date { Date() }

    public func sleep(until deadline: RolloutInstant) async throws {
        try await ContinuousClock().sleep(until: origin + deadline.offset, tolerance: nil)
    }
}
