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
    @usableFromInline static let closedTag: UInt8 = 0
    private static let halfOpenTag: UInt8 = 1
    private static let openTag: UInt8 = 2

    /// Nil while the map has no `circuit_breaker`: the breaker then stays closed.
    private let machine: Mutex<CircuitBreaker?>
    private let configuration: CircuitBreaker.Configuration
    /// Mirrors `machine.lastKnownState`; written only under the lock, after each transition.
    @usableFromInline let stateTag = Atomic<UInt8>(0)
    private let clock: any RolloutClock

    /// - Parameter policy: nil for a map without `circuit_breaker` (never opens until ``adopt(_:)`` gives one).
    public init(
        policy: CircuitBreakerPolicy?,
        configuration: CircuitBreaker.Configuration = .init(),
        clock: any RolloutClock
    ) {
        machine = Mutex(policy.map { CircuitBreaker(policy: $0, configuration: configuration) })
        self.configuration = configuration
        self.clock = clock
    }

    public var policy: CircuitBreakerPolicy? { machine.withLock { $0?.policy } }

    /// A new live version brings its own policy: an unchanged one keeps the breaker's state, another
    /// starts closed.
    public func adopt(_ policy: CircuitBreakerPolicy?) {
        machine.withLock { breaker in
            guard breaker?.policy != policy else { return }
            breaker = policy.map { CircuitBreaker(policy: $0, configuration: configuration) }
            stateTag.store(Self.closedTag, ordering: .relaxed)
        }
    }

    /// True while closed: one relaxed load, the whole cost of a closed breaker on the write path.
    @inlinable
    public var isClosed: Bool { stateTag.load(ordering: .relaxed) == Self.closedTag }

    /// The state now; an open breaker whose cooldown is over reports half-open.
    public var state: CircuitBreaker.State {
        if stateTag.load(ordering: .relaxed) == Self.closedTag { return .closed }
        let now = clock.now
        return machine.withLock { $0?.state(at: now) ?? .closed }
    }

    /// Times the breaker opened since its policy was set.
    public var openings: Int { machine.withLock { $0?.openings ?? 0 } }

    /// See ``CircuitBreaker/allowWrite(at:)``.
    public func allowWrite() -> CircuitBreaker.Admission {
        if stateTag.load(ordering: .relaxed) == Self.closedTag { return .allowed }
        let now = clock.now
        return update { $0.allowWrite(at: now) } ?? .allowed
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
    private func update<Result>(_ body: (inout CircuitBreaker) -> Result) -> Result? {
        machine.withLock { slot in
            guard var breaker = slot else { return nil }
            let result = body(&breaker)
            slot = breaker
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
