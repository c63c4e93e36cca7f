import Foundation
import Governance
import LiveMaps
import MapSchema
import Rollout

extension Controller {
    // MARK: - Status and history

    public func statuses() async -> [MapStatus] {
        records.keys.sorted().compactMap { records[$0].map(status(of:)) }
    }

    public func status(of name: String) async throws(ControlPlaneError) -> MapStatus {
        guard let record = records[name] else {
            throw ControlPlaneError(.notFound, code: "map_not_found", message: "no map named '\(name)'")
        }
        return status(of: record)
    }

    public func history(of name: String) async throws(ControlPlaneError) -> [HistoryEntry] {
        guard records[name] != nil else {
            throw ControlPlaneError(.notFound, code: "map_not_found", message: "no map named '\(name)'")
        }
        if let fleet = configuration.fleet, let shared = await fleet.history(of: name) {
            return shared
        }
        do {
            return try store.history(name: name)
        } catch {
            throw ControlPlaneError(.internal, code: "state_error", message: "\(error)")
        }
    }

    /// The status shape the API serves, rebuilt from the record and the live instance each time.
    func status(of record: MapRecord) -> MapStatus {
        let state = record.state
        let map = registry[record.name]
        var reason = state.reason
        var diagnostics: [Diagnostic] = []
        if let invalid = state.invalid {
            diagnostics = invalid.diagnostics
            reason = invalid.diagnostics.first { $0.severity == .error }?.message ?? reason
        }
        var status = MapStatus(
            name: record.name,
            liveVersion: state.liveVersion?.description,
            desiredVersion: state.desiredVersion?.description,
            phase: phase(of: record),
            strategy: record.live?.schema.strategy.rawValue,
            entries: map?.liveView.count ?? 0,
            windowEndsAt: record.rollout == nil ? nil : state.windowEndsAt,
            standbyVersion: record.rollout == nil ? nil : record.standby?.schema.version.description,
            standbyMode: record.rollout == nil ? nil : state.standby?.mode.rawValue,
            quarantined: state.quarantined.map(\.version.description),
            breaker: BreakerState(map?.breakerState ?? CircuitBreaker.State.closed),
            checks: CheckCounts(
                passed: record.tally.passed, failed: record.tally.failed,
                inconclusive: record.tally.inconclusive, consecutiveFailures: record.tally.consecutiveFailures
            ),
            reason: reason,
            source: state.invalid?.source ?? state.desiredSource,
            diagnostics: diagnostics
        )
        status.queries = record.queryOutcomes.map(RolloutQueryStatus.init)
        if let fleet = configuration.fleet {
            let shared = fleet.status(of: record.name)
            status.replicas = shared?.replicas ?? []
            status.leader = shared?.leader
            if let shared {
                if let checks = shared.checks { status.checks = checks }
                status.quarantined = Array(Set(status.quarantined).union(shared.quarantined)).sorted()
                if record.rollout != nil, let ends = shared.windowEndsAt { status.windowEndsAt = ends }
            }
        }
        return status
    }

    func phase(of record: MapRecord) -> MapPhase {
        let state = record.state
        if state.invalid != nil { return .invalid }
        if let desired = state.desiredVersion, let sha = state.desiredSHA256, desired != state.liveVersion,
            state.isQuarantined(version: desired, contentSHA256: sha)
        {
            return .rolledBack
        }
        if record.rollout != nil { return .rollingOut }
        return .stable
    }

    // MARK: - Entries

    nonisolated func managedMap(_ name: String) throws(ControlPlaneError) -> any AnyManagedMap {
        guard let map = registry[name] else {
            throw ControlPlaneError(.notFound, code: "map_not_found", message: "no live map named '\(name)'")
        }
        return map
    }

    public nonisolated func getEntry(map name: String, key: String) async throws(ControlPlaneError) -> [UInt8] {
        try readEntry(map: name, key: key)
    }

    public nonisolated func putEntry(map name: String, key: String, json: [UInt8]) async throws(ControlPlaneError) {
        try writeEntry(map: name, key: key, json: json)
    }

    public nonisolated func deleteEntry(map name: String, key: String) async throws(ControlPlaneError) {
        try removeEntry(map: name, key: key)
    }

    /// The entry API without a hop to the concurrency pool (a protocol server on its event loop, benchmarks):
    /// the value of `key` in map `name` as JSON bytes.
    ///
    /// A thin layer over ``lookUpEntry(map:key:)``, which the RESP listener uses: one path for both interfaces.
    public nonisolated func readEntry(map name: String, key: String) throws(ControlPlaneError) -> [UInt8] {
        guard let value = try lookUpEntry(map: name, key: key).json else {
            throw ControlPlaneError(.notFound, code: "key_not_found", message: "no key '\(key.prefix(128))' in \(name)")
        }
        return value
    }

    /// Stores a JSON value under `key`, checked against the map's schema, through the breaker and the write gate.
    ///
    /// A thin layer over ``writeEntry(map:key:encoding:)``, which the RESP listener uses: one path for both interfaces.
    public nonisolated func writeEntry(map name: String, key: String, json: [UInt8]) throws(ControlPlaneError) {
        try writeEntry(map: name, key: key) { (_: ValueType) throws(ControlPlaneError) -> [UInt8] in json }
    }

    /// Removes `key`; `key_not_found` when it was absent.
    public nonisolated func removeEntry(map name: String, key: String) throws(ControlPlaneError) {
        let map = try managedMap(name)
        let existed: Bool
        do { existed = try map.deleteJSON(key) } catch { throw Self.controlPlaneError(error) }
        if !existed {
            throw ControlPlaneError(.notFound, code: "key_not_found", message: "no key '\(key.prefix(128))' in \(name)")
        }
    }

    static func controlPlaneError(_ error: GovernedWriteError) -> ControlPlaneError {
        switch error {
        case .map(let error):
            return controlPlaneError(error)
        case .breakerOpen(let retryAfter):
            return ControlPlaneError(
                .unavailable, code: "breaker_open",
                message: "the circuit breaker is open: writes are refused for \(retryAfter.secondsRoundedUp)s; reads go on",
                retryAfter: .seconds(retryAfter.secondsRoundedUp)
            )
        }
    }

    static func controlPlaneError(_ error: MapError) -> ControlPlaneError {
        switch error.code {
        case "capacity": ControlPlaneError(.conflict, code: error.code, message: error.message)
        case "breaker_open": ControlPlaneError(.unavailable, code: error.code, message: error.message, retryAfter: .seconds(1))
        default:
            error.isCallerError
                ? ControlPlaneError(.badRequest, code: error.code, message: error.message)
                : ControlPlaneError(.internal, code: error.code, message: error.message)
        }
    }

    // MARK: - Metrics

    public func metricsSnapshot() async -> ControllerMetricsSnapshot {
        var samples: [MapMetricsSample] = []
        for name in records.keys.sorted() {
            guard let record = records[name], let map = registry[name], let live = record.live else { continue }
            let breaker = BreakerState(map.breakerState)
            samples.append(Self.sample(map.liveView, map: name, schema: live.schema, role: "live", breaker: breaker))
            if let standby = map.standbyView, let standbyDocument = record.standby {
                samples.append(Self.sample(standby, map: name, schema: standbyDocument.schema, role: "standby", breaker: breaker))
            }
        }
        let checks = counters.checks.sorted { ($0.key.map, $0.key.version, $0.key.result) < ($1.key.map, $1.key.version, $1.key.result) }
        let rollbacks = counters.rollbacks.sorted { ($0.key.map, $0.key.reason) < ($1.key.map, $1.key.reason) }
        let invalidMaps = records.values.count { $0.state.invalid != nil }
        return ControllerMetricsSnapshot(
            maps: samples,
            rolloutChecks: checks.map { (map: $0.key.map, version: $0.key.version, result: $0.key.result, count: $0.value) },
            rollbacks: rollbacks.map { (map: $0.key.map, reason: $0.key.reason, count: $0.value) },
            reconciles: ControllerCounters.reconcileResults.map { (result: $0, count: counters.reconciles[$0] ?? 0) },
            schemaInvalid: invalidMaps + unnamedInvalidFiles.count
        )
    }

    static func sample(_ instance: any InstanceView, map: String, schema: MapSchema, role: String, breaker: BreakerState)
        -> MapMetricsSample
    {
        let snapshot = instance.counters.snapshot()
        var ops: [(op: String, result: String, count: UInt64)] = []
        for op in OpKind.allCases {
            for result in OpResult.allCases {
                ops.append((op: op.rawValue, result: result.rawValue, count: snapshot.count(op, result)))
            }
        }
        var buckets = snapshot.latency.buckets.map { (upperBound: $0.upperBoundSeconds, cumulativeCount: $0.cumulativeCount) }
        buckets.append((upperBound: .infinity, cumulativeCount: snapshot.latency.count))
        return MapMetricsSample(
            map: map, version: schema.version.description, strategy: schema.strategy.rawValue, role: role,
            ops: ops, latencyBuckets: buckets, latencySumSeconds: snapshot.latency.sum.timeInterval,
            latencyCount: snapshot.latency.count, entries: instance.count, bytes: instance.estimatedBytes,
            contention: snapshot.contention, faults: snapshot.faults, evictions: snapshot.evictions,
            expirations: snapshot.expirations, breaker: breaker
        )
    }
}
