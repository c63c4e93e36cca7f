public import MapSchema
import Synchronization

/// A ``CircuitBreaker`` shared by every thread that writes to a map, with its clock.
///
/// The hot path is a closed breaker: ``allowWrite()`` and a successful
/// ``recordWriteResult(success:)`` then read one atomic and neither lock nor
/// read the clock. Anything else takes the lock. A write that reads "closed"
/// just as another thread opens the breaker goes ahead: the breaker sheds load
/// from then on, it does not order writes.
public final class SharedCircuitBreaker: Sendable {
    private static let closedTag: UInt8 = 0
    private static let halfOpenTag: UInt8 = 1
    private static let openTag: UInt8 = 2

    private let machine: Mutex<CircuitBreaker>
    /// Mirrors `machine.lastKnownState`; written only under the lock, after each transition.
    private let stateTag = Atomic<UInt8>(0)
    private let clock: any RolloutClock

    public init(
        policy: CircuitBreakerPolicy,
        configuration: CircuitBreaker.Configuration = .init(),
        clock: any RolloutClock
    ) {
        machine = Mutex(CircuitBreaker(policy: policy, configuration: configuration))
        self.clock = clock
    }

    public var policy: CircuitBreakerPolicy { machine.withLock { $0.policy } }

    /// The state now; an open breaker whose cooldown is over reports half-open.
    public var state: CircuitBreaker.State {
        if stateTag.load(ordering: .relaxed) == Self.closedTag { return .closed }
        let now = clock.now
        return machine.withLock { $0.state(at: now) }
    }

    /// Times the breaker opened since it was made.
    public var openings: Int { machine.withLock { $0.openings } }

    /// See ``CircuitBreaker/allowWrite(at:)``.
    public func allowWrite() -> CircuitBreaker.Admission {
        if stateTag.load(ordering: .relaxed) == Self.closedTag { return .allowed }
        let now = clock.now
        return update { $0.allowWrite(at: now) }
    }

    /// See ``CircuitBreaker/recordWriteResult(success:at:)``.
    public func recordWriteResult(success: Bool) {
        if success, stateTag.load(ordering: .relaxed) == Self.closedTag { return }
        let now = clock.now
        update { $0.recordWriteResult(success: success, at: now) }
    }

    /// See ``CircuitBreaker/recordFault(at:)``.
    public func recordFault() {
        let now = clock.now
        update { $0.recordFault(at: now) }
    }

    @discardableResult
    private func update<Result>(_ body: (inout CircuitBreaker) -> Result) -> Result {
        machine.withLock { breaker in
            let result = body(&breaker)
            let tag: UInt8 =
                switch breaker.lastKnownState {
                case .closed: Self.closedTag
                case .halfOpen: Self.halfOpenTag
                case .open: Self.openTag
                }
            stateTag.store(tag, ordering: .relaxed)
            return result
        }
    }
}
