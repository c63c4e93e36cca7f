import LiveMaps
import MapSchema
import Rollout

/// One map's governed entry point: its instances behind a ``GovernedMap``, the breaker, and the
/// translation of the API's keys and values.
///
/// The HTTP entry API and typed handles go through it without a hop through the controller's actor:
/// reads go to the live instance, writes pass the breaker and the write gate. The controller swaps
/// what is inside (rebuild, rollback, promotion) through ``AnyManagedMap``.
@usableFromInline
package final class ManagedMap<Instance: GovernableInstance>: AnyManagedMap {
    package let name: String
    @usableFromInline package let governed: GovernedMap<Instance>
    /// Made once; a new version's policy is adopted into it, so the hot path never looks it up.
    @usableFromInline package let breaker: SharedCircuitBreaker
    private let clock: any MapClock

    package init(name: String, schema: MapSchema, breakerPolicy: CircuitBreakerPolicy?, clock: any RolloutClock, mapClock: any MapClock) {
        self.name = name
        self.clock = mapClock
        governed = GovernedMap(live: Instance(schema: schema, clock: mapClock))
        breaker = SharedCircuitBreaker(policy: breakerPolicy, clock: clock)
    }

    // MARK: - Entries, typed

    /// The live instance through the inlinable read path: a caller that knows `Instance` reaches it
    /// without the generic lookups of ``liveView`` (the RESP listener asks on every command).
    @inlinable
    package var liveInstance: Instance { governed.reading { $0.live } }

    @inlinable
    package func get(_ key: Instance.Key) throws(MapError) -> Instance.Value? {
        do {
            return try governed.get(key)
        } catch {
            if !error.isCallerError { breaker.recordFault() }
            throw error
        }
    }

    @inlinable
    package func put(_ key: Instance.Key, _ value: Instance.Value) throws(GovernedWriteError) {
        try admitted { () throws(MapError) in try governed.put(key, value) }
    }

    @discardableResult
    @inlinable
    package func delete(_ key: Instance.Key) throws(GovernedWriteError) -> Bool {
        try admitted { () throws(MapError) -> Bool in try governed.delete(key) }
    }

    package func compareAndSet(_ key: Instance.Key, expected: Instance.Value?, new: Instance.Value?) throws(GovernedWriteError) -> Bool {
        try admitted { () throws(MapError) -> Bool in try governed.compareAndSet(key, expected: expected, new: new) }
    }

    /// A closed breaker costs one relaxed load; anything else takes the breaker's slow path.
    @inlinable
    func admitted<R>(_ write: () throws(MapError) -> R) throws(GovernedWriteError) -> R {
        if breaker.isClosed {
            do {
                return try write()
            } catch {
                if !error.isCallerError { breaker.recordWriteResult(success: false) }
                throw .map(error)
            }
        }
        if case .refused(let retryAfter) = breaker.allowWrite() {
            throw .breakerOpen(retryAfter: retryAfter)
        }
        do {
            let result = try write()
            breaker.recordWriteResult(success: true)
            return result
        } catch {
            breaker.recordWriteResult(success: error.isCallerError)
            throw .map(error)
        }
    }

    // MARK: - AnyManagedMap: entries as the API carries them

    package func getJSON(_ keyText: String) throws(GovernedWriteError) -> [UInt8]? {
        let live = governed.live
        do {
            let key = try live.parseKey(keyText, for: .get)
            return try get(key).map { live.encodeValue($0) }
        } catch {
            throw .map(error)
        }
    }

    package func putJSON(_ keyText: String, _ json: [UInt8]) throws(GovernedWriteError) {
        let live = governed.live
        let key: Instance.Key
        let value: Instance.Value
        do {
            key = try live.parseKey(keyText, for: .put)
            value = try live.decodeValue(json, for: .put)
        } catch {
            throw .map(error)
        }
        try put(key, value)
    }

    package func deleteJSON(_ keyText: String) throws(GovernedWriteError) -> Bool {
        let key: Instance.Key
        do { key = try governed.live.parseKey(keyText, for: .delete) } catch { throw .map(error) }
        return try delete(key)
    }

    // MARK: - AnyManagedMap: the controller's side

    package var liveView: any InstanceView { governed.live }
    package var standbyView: (any InstanceView)? { governed.standby }
    package var hasStandby: Bool { governed.standby != nil }
    package var breakerState: CircuitBreaker.State { breaker.state }
    package var pauseStatistics: PauseStatistics { governed.pauseStatistics }
    package var standbyDivergences: Int { governed.standbyDivergences }

    package func adoptBreaker(_ policy: CircuitBreakerPolicy?) { breaker.adopt(policy) }

    package func reportFault() {
        governed.live.counters.reportFault()
        breaker.recordFault()
    }

    package func entriesDropped(by schema: MapSchema) -> Int { governed.live.entriesDropped(by: schema) }

    package func rebuild(to schema: MapSchema, standby next: NextStandby, carriesData: Bool) -> RebuildReport {
        governed.rebuild(into: Instance(schema: schema, clock: clock), standby: next, carriesData: carriesData)
    }

    package func switchToStandby() -> Duration? { governed.switchToStandby() }
    package func releaseStandby() { governed.releaseStandby() }

    package func installStandby(schema: MapSchema, role: StandbyRole) {
        governed.installStandby(Instance(schema: schema, clock: clock), role: role)
    }

    package func jsonEntries() -> [(MapKey, JSONValue)] { governed.live.jsonEntries() }
    package func loadJSON(_ entries: [(MapKey, JSONValue)]) -> LoadReport { governed.live.loadJSON(entries) }
}

/// A managed map whatever its key and value types: what the controller and the API need of it.
package protocol AnyManagedMap: AnyObject, Sendable {
    var name: String { get }
    var liveView: any InstanceView { get }
    var standbyView: (any InstanceView)? { get }
    var hasStandby: Bool { get }
    var breakerState: CircuitBreaker.State { get }
    var pauseStatistics: PauseStatistics { get }
    var standbyDivergences: Int { get }

    /// The value of the key the text names, as JSON; nil when absent.
    func getJSON(_ keyText: String) throws(GovernedWriteError) -> [UInt8]?
    func putJSON(_ keyText: String, _ json: [UInt8]) throws(GovernedWriteError)
    func deleteJSON(_ keyText: String) throws(GovernedWriteError) -> Bool
    /// A fault the embedding service reports: counted by the live instance and fed to the breaker.
    func reportFault()

    func adoptBreaker(_ policy: CircuitBreakerPolicy?)
    func entriesDropped(by schema: MapSchema) -> Int
    /// Makes an instance of `schema` live, carrying the entries across (see ``GovernedMap/rebuild(into:standby:carriesData:)``).
    func rebuild(to schema: MapSchema, standby next: NextStandby, carriesData: Bool) -> RebuildReport
    func switchToStandby() -> Duration?
    func releaseStandby()
    /// Installs an empty standby of `schema` (a restart restoring a window).
    func installStandby(schema: MapSchema, role: StandbyRole)
    func jsonEntries() -> [(MapKey, JSONValue)]
    func loadJSON(_ entries: [(MapKey, JSONValue)]) -> LoadReport
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
