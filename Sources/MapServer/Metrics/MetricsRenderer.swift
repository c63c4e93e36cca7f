public import MapController
public import Prometheus

/// Renders a ``ControllerMetricsSnapshot`` in the Prometheus text format.
///
/// The controller's counters already live in the map instances, so nothing is recorded twice: each
/// scrape writes the snapshot's values straight into one buffer, family by family, in one pass over
/// the maps per family. Nothing is registered on the way (a `PrometheusCollectorRegistry` filled per
/// scrape copied a family's whole dictionary for every series added: quadratic, 20 s at 1,000 maps).
/// Label values are escaped once, by ``ExpositionText``.
///
/// Registries of the process's own series (HTTP requests, RESP commands, gauges other modules make
/// through swift-metrics, see ``DescribedMetricsFactory``) are emitted after, as swift-prometheus
/// writes them: their series are made once and kept, which is not quadratic.
public struct MetricsRenderer: Sendable {
    /// Rollback reasons exported at 0 for every map from the start.
    public static let rollbackReasons = ["failed_checks", "startup_faults", "manual"]
    /// Reconcile results exported at 0 from the start.
    public static let reconcileResults = ["success", "error", "invalid", "unchanged"]
    /// Rollout check results exported at 0 for every live version from the start.
    public static let checkResults = ["pass", "fail", "inconclusive"]

    public init() {}

    /// The exposition text of `snapshot`, followed by the series of `additional` registries.
    ///
    /// - Parameters:
    ///   - snapshot: the controller's counters, read at scrape time.
    ///   - additional: registries of the process's own series (HTTP requests), emitted after.
    /// - Returns: UTF-8 text accepted by `promtool check metrics`.
    public func render(_ snapshot: ControllerMetricsSnapshot, additional: [PrometheusCollectorRegistry] = []) -> [UInt8] {
        let maps = Self.instances(snapshot.maps)
        // About 9 KiB per instance, mostly the latency histogram's 65 buckets.
        var text = ExpositionText(reservingCapacity: 16 << 10 + maps.count * (10 << 10))
        Self.writeInstanceFamilies(maps, into: &text)
        Self.writeControllerFamilies(snapshot, maps: maps, into: &text)
        LatencyHistogramText.write(maps, into: &text)
        for registry in additional {
            text.append(registry)
        }
        return text.bytes
    }

    /// One instance with its labels rendered once: `map="…"` and `map="…",version="…"`.
    struct Instance {
        var sample: MapMetricsSample
        var mapLabels: ExpositionText.Labels
        var labels: ExpositionText.Labels
        /// The first instance of its map in the sorted list (breaker and rollback series are per map).
        var firstOfMap: Bool
    }

    /// The samples sorted by (map, version), the live one first where a version repeats, and only that one
    /// (a series must not appear twice).
    static func instances(_ samples: [MapMetricsSample]) -> [Instance] {
        let sorted = samples.sorted { ($0.map, $0.version, $0.role == "live" ? 0 : 1) < ($1.map, $1.version, $1.role == "live" ? 0 : 1) }
        var result: [Instance] = []
        result.reserveCapacity(sorted.count)
        for sample in sorted {
            if let previous = result.last?.sample, previous.map == sample.map, previous.version == sample.version { continue }
            let firstOfMap = result.last?.sample.map != sample.map
            let mapLabels = firstOfMap ? ExpositionText.Labels(["map": sample.map]) : result[result.count - 1].mapLabels
            var labels = mapLabels
            labels.append("version", sample.version)
            result.append(Instance(sample: sample, mapLabels: mapLabels, labels: labels, firstOfMap: firstOfMap))
        }
        return result
    }

    /// The per-instance families: ops, entries, bytes, contention, faults, evictions, expirations, info.
    static func writeInstanceFamilies(_ maps: [Instance], into text: inout ExpositionText) {
        // (op, result) labels are the same list for every instance: rendered once, reused while they match.
        var opLabels: [(op: String, result: String, labels: ExpositionText.Labels)] = []
        text.family(Family.ops)
        for map in maps {
            for (index, op) in map.sample.ops.enumerated() {
                if index == opLabels.count {
                    opLabels.append((op.op, op.result, ExpositionText.Labels(["op": op.op, "result": op.result])))
                } else if opLabels[index].op != op.op || opLabels[index].result != op.result {
                    opLabels[index] = (op.op, op.result, ExpositionText.Labels(["op": op.op, "result": op.result]))
                }
                text.sample(Family.ops.sampleName, map.labels, opLabels[index].labels, value: .counter(op.count))
            }
        }
        let perInstance: [(Family, (MapMetricsSample) -> ExpositionText.Value)] = [
            (Family.entries, { .double(Double($0.entries)) }),
            (Family.bytes, { .double(Double($0.bytes)) }),
            (Family.contention, { .counter($0.contention) }),
            (Family.faults, { .counter($0.faults) }),
            (Family.evictions, { .counter($0.evictions) }),
            (Family.expirations, { .counter($0.expirations) }),
        ]
        for (family, value) in perInstance {
            text.family(family)
            for map in maps {
                text.sample(family.sampleName, map.labels, value: value(map.sample))
            }
        }
        // Exactly the labels {map, version, strategy}; one series per map, for the live instance, so
        // that `mapctl_map_info` answers "which version is live" (a standby shows in the series above).
        text.family(Family.info)
        var strategy = (name: "", labels: ExpositionText.Labels())
        for map in maps where map.sample.role == "live" {
            if strategy.name != map.sample.strategy || strategy.labels.isEmpty {
                strategy = (map.sample.strategy, ExpositionText.Labels(["strategy": map.sample.strategy]))
            }
            text.sample(Family.info.sampleName, map.labels, strategy.labels, value: .double(1))
        }
    }

    /// The controller's families: breaker, rollout checks, rollbacks, reconciles, invalid schemas.
    static func writeControllerFamilies(_ snapshot: ControllerMetricsSnapshot, maps: [Instance], into text: inout ExpositionText) {
        // The breaker belongs to the map, not to a version: one series per map.
        text.family(Family.breaker)
        for (index, map) in maps.enumerated() where map.firstOfMap {
            var state = map.sample.breaker.metricValue
            var next = index + 1
            while next < maps.count, !maps[next].firstOfMap {
                state = max(state, maps[next].sample.breaker.metricValue)
                next += 1
            }
            text.sample(Family.breaker.sampleName, map.mapLabels, value: .double(Double(state)))
        }

        // Rollout checks: zeros for every live version, so that rates work before the first check.
        var checks: [CheckKey: UInt64] = [:]
        for check in snapshot.rolloutChecks {
            checks[CheckKey(map: check.map, version: check.version, result: check.result), default: 0] &+= check.count
        }
        text.family(Family.checks)
        for map in maps where map.sample.role == "live" {
            for (result, labels) in zip(checkResults, Self.checkLabels) {
                let key = CheckKey(map: map.sample.map, version: map.sample.version, result: result)
                let count = checks.isEmpty ? 0 : checks.removeValue(forKey: key) ?? 0
                text.sample(Family.checks.sampleName, map.labels, labels, value: .counter(count))
            }
        }
        for check in snapshot.rolloutChecks {
            guard let count = checks.removeValue(forKey: CheckKey(map: check.map, version: check.version, result: check.result)) else {
                continue
            }
            let labels = ExpositionText.Labels(["map": check.map, "version": check.version, "result": check.result])
            text.sample(Family.checks.sampleName, labels, value: .counter(count))
        }

        // Rollbacks: zeros for every map and reason.
        var rollbacks: [CheckKey: UInt64] = [:]
        for rollback in snapshot.rollbacks {
            rollbacks[CheckKey(map: rollback.map, version: "", result: rollback.reason), default: 0] &+= rollback.count
        }
        text.family(Family.rollbacks)
        for map in maps where map.firstOfMap {
            for (reason, labels) in zip(rollbackReasons, Self.rollbackLabels) {
                let key = CheckKey(map: map.sample.map, version: "", result: reason)
                let count = rollbacks.isEmpty ? 0 : rollbacks.removeValue(forKey: key) ?? 0
                text.sample(Family.rollbacks.sampleName, map.mapLabels, labels, value: .counter(count))
            }
        }
        for rollback in snapshot.rollbacks {
            guard let count = rollbacks.removeValue(forKey: CheckKey(map: rollback.map, version: "", result: rollback.reason)) else {
                continue
            }
            text.sample(
                Family.rollbacks.sampleName, ExpositionText.Labels(["map": rollback.map, "reason": rollback.reason]), value: .counter(count)
            )
        }

        var reconciles: [String: UInt64] = [:]
        for reconcile in snapshot.reconciles {
            reconciles[reconcile.result, default: 0] &+= reconcile.count
        }
        text.family(Family.reconciles)
        for result in reconcileResults {
            text.sample(
                Family.reconciles.sampleName, ExpositionText.Labels(["result": result]),
                value: .counter(reconciles.removeValue(forKey: result) ?? 0))
        }
        for reconcile in snapshot.reconciles {
            guard let count = reconciles.removeValue(forKey: reconcile.result) else { continue }
            text.sample(Family.reconciles.sampleName, ExpositionText.Labels(["result": reconcile.result]), value: .counter(count))
        }

        text.family(Family.schemaInvalid)
        text.sample(Family.schemaInvalid.sampleName, value: .double(Double(snapshot.schemaInvalid)))
    }

    static let checkLabels = checkResults.map { ExpositionText.Labels(["result": $0]) }
    static let rollbackLabels = rollbackReasons.map { ExpositionText.Labels(["reason": $0]) }

    /// A (map, version, result) or (map, reason) series of a controller counter.
    struct CheckKey: Hashable {
        var map: String
        var version: String
        var result: String
    }
}

extension ExpositionText {
    mutating func family(_ family: MetricsRenderer.Family) {
        self.family(family.name, family.type, help: family.help)
    }

    /// Appends what a registry emits.
    mutating func append(_ registry: PrometheusCollectorRegistry) {
        var emitted: [UInt8] = []
        registry.emit(into: &emitted)
        append(contentsOf: emitted)
    }
}
