import LiveMaps
import Synchronization

/// Since when the controller's oldest reconcile (a directory reconcile or an apply) in progress runs.
///
/// Set and cleared around each by the actor, and read without it: a readiness probe must learn that
/// the controller is wedged in a reconcile while that reconcile still holds the actor, which an
/// `await` on the actor could never report. Applies may interleave (the actor is reentrant at its
/// awaits), so each has its own entry and the oldest counts.
public final class ReconcileProgress: Sendable {
    /// Monotonic nanoseconds; injected by tests.
    let now: @Sendable () -> UInt64
    private let state = Mutex<(next: UInt64, started: [UInt64: UInt64])>((0, [:]))

    /// - Parameter now: monotonic nanoseconds (the system's monotonic clock by default).
    public init(now: (@Sendable () -> UInt64)? = nil) {
        self.now = now ?? { monotonicNanoseconds() }
    }

    /// Marks a reconcile as begun; pass the result to ``end(_:)``.
    package func begin() -> UInt64 {
        let start = now()
        return state.withLock { state in
            state.next += 1
            state.started[state.next] = start
            return state.next
        }
    }

    package func end(_ id: UInt64) {
        _ = state.withLock { $0.started.removeValue(forKey: id) }
    }

    /// How long the oldest reconcile in progress has run; nil when none runs.
    public var runningFor: Duration? {
        guard let since = state.withLock({ $0.started.values.min() }) else { return nil }
        let current = now()
        return .nanoseconds(Int64(clamping: current >= since ? current - since : 0))
    }
}
