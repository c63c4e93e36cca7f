import LiveMaps
import MapSchema
import Rollout

/// One map's governed entry point: the instances, the breaker, the schema that parses keys.
///
/// The HTTP entry API and ``TypedMapHandle`` go through it, without a hop
/// through the controller's actor: reads go to the live instance, writes pass
/// the breaker and the governed map's write gate. The controller swaps what is
/// inside (rebuild, rollback, promotion) under its own isolation.
package final class ManagedMap: Sendable {
    package let name: String
    package let governed: GovernedMap<DynamicMap>
    private let breakerSlot: Locked<SharedCircuitBreaker?>
    private let clock: any RolloutClock

    package init(name: String, live: DynamicMap, breakerPolicy: CircuitBreakerPolicy?, clock: any RolloutClock) {
        self.name = name
        self.governed = GovernedMap(live: live)
        self.clock = clock
        breakerSlot = Locked(breakerPolicy.map { SharedCircuitBreaker(policy: $0, clock: clock) })
    }

    package var breaker: SharedCircuitBreaker? { breakerSlot.withLock { $0 } }

    package var breakerState: CircuitBreaker.State { breaker?.state ?? .closed }

    /// A new live version brings its own `circuit_breaker`; an unchanged policy keeps the breaker's state.
    package func adoptBreaker(_ policy: CircuitBreakerPolicy?) {
        breakerSlot.withLock { slot in
            guard slot?.policy != policy else { return }
            slot = policy.map { SharedCircuitBreaker(policy: $0, clock: clock) }
        }
    }

    // MARK: - Entries, typed by the live schema

    package func parseKey(_ text: String) throws(MapError) -> MapKey {
        try governed.live.parseKey(text)
    }

    package func get(_ key: MapKey) throws(MapError) -> JSONValue? {
        do {
            return try governed.get(key)
        } catch {
            if !error.isCallerError { breaker?.recordFault() }
            throw error
        }
    }

    package func put(_ key: MapKey, _ value: JSONValue) throws(GovernedWriteError) {
        try admitted { () throws(MapError) in try governed.put(key, value) }
    }

    @discardableResult
    package func delete(_ key: MapKey) throws(GovernedWriteError) -> Bool {
        try admitted { () throws(MapError) -> Bool in try governed.delete(key) }
    }

    package func compareAndSet(_ key: MapKey, expected: JSONValue?, new: JSONValue?) throws(GovernedWriteError) -> Bool {
        try admitted { () throws(MapError) -> Bool in try governed.compareAndSet(key, expected: expected, new: new) }
    }

    /// A fault the embedding service reports: counted by the live instance and fed to the breaker.
    package func reportFault() {
        governed.live.counters.reportFault()
        breaker?.recordFault()
    }

    private func admitted<R>(_ write: () throws(MapError) -> R) throws(GovernedWriteError) -> R {
        let breaker = self.breaker
        if let breaker, case .refused(let retryAfter) = breaker.allowWrite() {
            throw .breakerOpen(retryAfter: retryAfter)
        }
        do {
            let result = try write()
            breaker?.recordWriteResult(success: true)
            return result
        } catch {
            breaker?.recordWriteResult(success: error.isCallerError)
            throw .map(error)
        }
    }
}

/// Why a governed write failed: the map refused it, or the breaker did before the map saw it.
public enum GovernedWriteError: Error, Sendable, CustomStringConvertible {
    case map(MapError)
    /// The circuit breaker is open: retry after this long.
    case breakerOpen(retryAfter: Duration)

    public var description: String {
        switch self {
        case .map(let error): error.description
        case .breakerOpen(let retryAfter): "breaker_open: writes are refused for \(retryAfter.secondsRoundedUp)s"
        }
    }
}

extension Duration {
    /// Whole seconds, rounded up, at least 1 (`Retry-After`).
    package var secondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        return max(1, seconds + (attoseconds > 0 ? 1 : 0))
    }
}

/// The maps the controller hosts, readable from any thread.
package final class MapRegistry: Sendable {
    private let maps = Locked<[String: ManagedMap]>([:])

    package init() {}

    package subscript(name: String) -> ManagedMap? { maps.withLock { $0[name] } }

    package func set(_ map: ManagedMap?, for name: String) {
        maps.withLock { $0[name] = map }
    }

    package var all: [ManagedMap] { maps.withLock { Array($0.values) } }
}
