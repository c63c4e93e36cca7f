public import MapSchema

/// Refuses a map's writes while it faults too often, then lets a few writes probe before trusting it again.
///
/// A pure state machine with time passed in:
/// - **closed**: writes pass. Faults are remembered for `window`; when
///   `open_after_faults` of them fall within the last `window`, it opens.
/// - **open**: writes are refused with the time left of `cooldown` (HTTP 503,
///   `Retry-After`). Faults reported while open change nothing: writes are
///   refused already, and the cooldown the clients were told stays true.
/// - **half-open** (once the cooldown is over): up to
///   ``Configuration/maxConcurrentProbes`` writes at a time are let through as
///   probes; after ``Configuration/probesToClose`` of them succeed it closes,
///   and the first fault opens it again for a full cooldown. Other writes are
///   refused for ``Configuration/probeRetryAfter``. A probe whose result never
///   arrives stops counting as in flight after ``Configuration/probeTimeout``,
///   so a lost caller cannot wedge the breaker.
///
/// Reads are not the breaker's business: they always go on.
public struct CircuitBreaker: Sendable, Hashable {
    /// The state as reported (`mapctl_breaker_state`: 0, 1, 2).
    public enum State: Sendable, Hashable {
        case closed
        case halfOpen
        case open
    }

    /// Whether a write may go ahead.
    public enum Admission: Sendable, Hashable {
        case allowed
        /// Refused; the client may retry after this long (`Retry-After`, rounded up to whole seconds).
        case refused(retryAfter: Duration)

        public var isAllowed: Bool { self == .allowed }
    }

    /// The half-open probing, with defaults that suit a map: one probe at a time, three to close.
    public struct Configuration: Sendable, Hashable {
        public var maxConcurrentProbes: Int
        public var probesToClose: Int
        /// What a write refused in half-open (a probe already in flight) is told.
        public var probeRetryAfter: Duration
        /// After this long without a result, an admitted probe no longer counts as in flight.
        public var probeTimeout: Duration

        public init(
            maxConcurrentProbes: Int = 1,
            probesToClose: Int = 3,
            probeRetryAfter: Duration = .seconds(1),
            probeTimeout: Duration = .seconds(5)
        ) {
            self.maxConcurrentProbes = max(1, maxConcurrentProbes)
            self.probesToClose = max(1, probesToClose)
            self.probeRetryAfter = probeRetryAfter
            self.probeTimeout = probeTimeout
        }
    }

    private enum Phase: Sendable, Hashable {
        case closed
        case open(until: RolloutInstant)
        case halfOpen(inFlight: [RolloutInstant], succeeded: Int)
    }

    public let policy: CircuitBreakerPolicy
    public let configuration: Configuration
    private var phase: Phase = .closed
    /// Times of the recent faults while closed, oldest first; never more than `openAfterFaults`.
    private var recentFaults: [RolloutInstant] = []
    /// Times the breaker opened, for status and metrics.
    public private(set) var openings = 0

    public init(policy: CircuitBreakerPolicy, configuration: Configuration = Configuration()) {
        self.policy = policy
        self.configuration = configuration
    }

    private var threshold: Int { max(1, policy.openAfterFaults) }

    /// The state at `now`: an open breaker whose cooldown is over reports half-open.
    public func state(at now: RolloutInstant) -> State {
        switch phase {
        case .closed: .closed
        case .open(let until): now >= until ? .halfOpen : .open
        case .halfOpen: .halfOpen
        }
    }

    /// The state as of the last transition, without looking at the time (an open breaker stays open until asked).
    public var lastKnownState: State {
        switch phase {
        case .closed: .closed
        case .open: .open
        case .halfOpen: .halfOpen
        }
    }

    /// When an open breaker turns half-open; nil unless open.
    public var cooldownEndsAt: RolloutInstant? {
        if case .open(let until) = phase { until } else { nil }
    }

    /// Faults counted toward opening at `now` (those within the last `window`).
    public func faultsInWindow(at now: RolloutInstant) -> Int {
        guard case .closed = phase else { return 0 }
        return recentFaults.count { isInWindow($0, now: now) }
    }

    /// Records a fault of the map: a failed write inside the engine, a broken invariant, a fault the service reports.
    ///
    /// For a write admitted by ``allowWrite(at:)``, report through
    /// ``recordWriteResult(success:at:)`` instead, not both.
    public mutating func recordFault(at now: RolloutInstant) {
        switch phase {
        case .closed:
            let window = policy.window
            recentFaults.removeAll { now - $0 >= window }
            recentFaults.append(now)
            if recentFaults.count > threshold { recentFaults.removeFirst(recentFaults.count - threshold) }
            if recentFaults.count >= threshold { open(at: now) }
        case .open(let until):
            // A fault after the cooldown, before any probe: the map is not well yet.
            if now >= until { open(at: now) }
        case .halfOpen:
            open(at: now)
        }
    }

    /// Decides whether a write may go ahead at `now`; an admitted half-open write is a probe and must be reported.
    public mutating func allowWrite(at now: RolloutInstant) -> Admission {
        switch phase {
        case .closed:
            return .allowed
        case .open(let until):
            if now < until { return .refused(retryAfter: until - now) }
            phase = .halfOpen(inFlight: [now], succeeded: 0)
            return .allowed
        case .halfOpen(var inFlight, let succeeded):
            inFlight.removeAll { now - $0 >= configuration.probeTimeout }
            if inFlight.count >= configuration.maxConcurrentProbes {
                phase = .halfOpen(inFlight: inFlight, succeeded: succeeded)
                return .refused(retryAfter: configuration.probeRetryAfter)
            }
            inFlight.append(now)
            phase = .halfOpen(inFlight: inFlight, succeeded: succeeded)
            return .allowed
        }
    }

    /// Reports how an admitted write ended.
    ///
    /// - Parameter success: False only for a *fault*; a write refused for the
    ///   caller's reasons (bad key or value) is a success as far as the breaker goes.
    public mutating func recordWriteResult(success: Bool, at now: RolloutInstant) {
        guard success else {
            recordFault(at: now)
            return
        }
        guard case .halfOpen(var inFlight, let succeeded) = phase else { return }
        if !inFlight.isEmpty { inFlight.removeFirst() }
        if succeeded + 1 >= configuration.probesToClose {
            phase = .closed
            recentFaults.removeAll()
        } else {
            phase = .halfOpen(inFlight: inFlight, succeeded: succeeded + 1)
        }
    }

    private func isInWindow(_ fault: RolloutInstant, now: RolloutInstant) -> Bool {
        now - fault < policy.window
    }

    private mutating func open(at now: RolloutInstant) {
        phase = .open(until: now + policy.cooldown)
        recentFaults.removeAll()
        openings += 1
    }
}
