import Foundation
import MapController
import Prometheus

/// TEMPORARY, for one A/B benchmark run only (scripts/bench-metrics.sh); removed right after:
/// the renderer before issue 11 item 7, chosen with MAPCTL_BENCH_LEGACY_METRICS=1.
struct LegacyRegistryRenderer: Sendable {
    static let chosen = ProcessInfo.processInfo.environment["MAPCTL_BENCH_LEGACY_METRICS"] == "1"
    /// Rollback reasons exported at 0 for every map from the start.
    static let rollbackReasons = ["failed_checks", "startup_faults", "manual"]
    /// Reconcile results exported at 0 from the start.
    static let reconcileResults = ["success", "error", "invalid", "unchanged"]
    /// Rollout check results exported at 0 for every live version from the start.
    static let checkResults = ["pass", "fail", "inconclusive"]

    /// The exposition text of `snapshot`, followed by the series of `additional` registries.
    ///
    /// - Parameters:
    ///   - snapshot: the controller's counters, read at scrape time.
    ///   - additional: registries of the process's own series (HTTP requests), emitted after.
    /// - Returns: UTF-8 text accepted by `promtool check metrics`.
    func render(_ snapshot: ControllerMetricsSnapshot, additional: [PrometheusCollectorRegistry] = []) -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        let maps = snapshot.maps.sorted { ($0.map, $0.version) < ($1.map, $1.version) }

        for sample in maps {
            let base = [("map", Self.escape(sample.map)), ("version", Self.escape(sample.version))]
            for (op, result, count) in sample.ops {
                registry.makeCounter(
                    descriptor: Family.ops.descriptor, labels: base + [("op", Self.escape(op)), ("result", Self.escape(result))]
                )
                .increment(by: Int64(clamping: count))
            }
            registry.makeGauge(descriptor: Family.entries.descriptor, labels: base).set(Int64(sample.entries))
            registry.makeGauge(descriptor: Family.bytes.descriptor, labels: base).set(Int64(sample.bytes))
            registry.makeCounter(descriptor: Family.contention.descriptor, labels: base).increment(by: Int64(clamping: sample.contention))
            registry.makeCounter(descriptor: Family.faults.descriptor, labels: base).increment(by: Int64(clamping: sample.faults))
            registry.makeCounter(descriptor: Family.evictions.descriptor, labels: base).increment(by: Int64(clamping: sample.evictions))
            registry.makeCounter(descriptor: Family.expirations.descriptor, labels: base).increment(by: Int64(clamping: sample.expirations))
            // Exactly the labels {map, version, strategy}; one series per map, for the live
            // instance, so that `mapctl_map_info` answers "which version is live" (a standby shows
            // in the per-version series above).
            if sample.role == "live" {
                registry.makeGauge(
                    descriptor: Family.info.descriptor,
                    labels: base + [("strategy", Self.escape(sample.strategy))]
                ).set(Int64(1))
            }
        }

        // The breaker belongs to the map, not to a version: one series per map.
        var breakerByMap: [String: Int] = [:]
        for sample in maps {
            breakerByMap[sample.map] = max(breakerByMap[sample.map] ?? 0, sample.breaker.metricValue)
        }
        for (map, value) in breakerByMap {
            registry.makeGauge(descriptor: Family.breaker.descriptor, labels: [("map", Self.escape(map))]).set(Int64(value))
        }

        // Rollout checks: zeros for every live version, so that rates work before the first check.
        for sample in maps where sample.role == "live" {
            for result in Self.checkResults {
                _ = registry.makeCounter(
                    descriptor: Family.checks.descriptor,
                    labels: [("map", Self.escape(sample.map)), ("version", Self.escape(sample.version)), ("result", result)]
                )
            }
        }
        for check in snapshot.rolloutChecks {
            registry.makeCounter(
                descriptor: Family.checks.descriptor,
                labels: [("map", Self.escape(check.map)), ("version", Self.escape(check.version)), ("result", Self.escape(check.result))]
            ).increment(by: Int64(clamping: check.count))
        }

        for map in Set(maps.map(\.map)) {
            for reason in Self.rollbackReasons {
                _ = registry.makeCounter(descriptor: Family.rollbacks.descriptor, labels: [("map", Self.escape(map)), ("reason", reason)])
            }
        }
        for rollback in snapshot.rollbacks {
            registry.makeCounter(
                descriptor: Family.rollbacks.descriptor,
                labels: [("map", Self.escape(rollback.map)), ("reason", Self.escape(rollback.reason))]
            ).increment(by: Int64(clamping: rollback.count))
        }

        for result in Self.reconcileResults {
            _ = registry.makeCounter(descriptor: Family.reconciles.descriptor, labels: [("result", result)])
        }
        for reconcile in snapshot.reconciles {
            registry.makeCounter(descriptor: Family.reconciles.descriptor, labels: [("result", Self.escape(reconcile.result))])
                .increment(by: Int64(clamping: reconcile.count))
        }

        registry.makeGauge(descriptor: Family.schemaInvalid.descriptor).set(Int64(snapshot.schemaInvalid))

        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096 + maps.count * 4096)
        registry.emit(into: &buffer)
        Self.emitLatencyHistogram(maps, into: &buffer)
        for extra in additional {
            extra.emit(into: &buffer)
        }
        return buffer
    }

    /// `mapctl_map_op_duration_seconds`: `_bucket{le}` (cumulative, +Inf last), `_sum`, `_count`.
    static func emitLatencyHistogram(_ maps: [MapMetricsSample], into buffer: inout [UInt8]) {
        let name = "mapctl_map_op_duration_seconds"
        var text = "# HELP \(name) Latency of map operations.\n# TYPE \(name) histogram\n"
        for sample in maps {
            let labels = "map=\"\(escape(sample.map))\",version=\"\(escape(sample.version))\""
            var sawInfinity = false
            var lastCount: UInt64 = 0
            for bucket in sample.latencyBuckets {
                // Buckets must be cumulative: a sample that is not (a torn read) is clamped rather than rejected.
                lastCount = max(lastCount, bucket.cumulativeCount)
                let bound: String
                if bucket.upperBound.isInfinite {
                    bound = "+Inf"
                    sawInfinity = true
                    lastCount = max(lastCount, sample.latencyCount)
                } else {
                    bound = formatDouble(bucket.upperBound)
                }
                text += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(lastCount)\n"
                if sawInfinity { break }
            }
            let count = max(sample.latencyCount, lastCount)
            if !sawInfinity {
                text += "\(name)_bucket{\(labels),le=\"+Inf\"} \(count)\n"
            }
            text += "\(name)_sum{\(labels)} \(formatDouble(sample.latencySumSeconds))\n"
            text += "\(name)_count{\(labels)} \(sawInfinity ? lastCount : count)\n"
        }
        buffer.append(contentsOf: text.utf8)
    }

    static func formatDouble(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return "\(value)"
    }

    /// Escapes a label value as the text format wants: backslash, double quote, newline.
    static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// The metric families (their names are part of the interface: dashboards and alerts use them).
    enum Family {
        case ops, entries, bytes, contention, faults, evictions, expirations, info, breaker, checks, rollbacks, reconciles
        case schemaInvalid

        var descriptor: MetricNameDescriptor {
            switch self {
            case .ops: Self.make("map_ops", "total", "Map operations by op and result (ok, miss, error, fault).")
            case .entries: Self.make("map_entries", "", "Entries in the map instance.")
            case .bytes: Self.make("map_bytes", "", "Estimated bytes held by the map instance.")
            case .contention: Self.make("map_contention", "total", "Lock acquisitions that had to wait.")
            case .faults: Self.make("map_faults", "total", "Faults: failures that are not the caller's.")
            case .evictions: Self.make("map_evictions", "total", "Entries evicted by the capacity policy.")
            case .expirations: Self.make("map_expirations", "total", "Entries expired by ttl.")
            case .info: Self.make("map_info", "", "Always 1: the live version and strategy of each map.")
            case .breaker: Self.make("breaker_state", "", "Circuit breaker state: 0 closed, 1 half-open, 2 open.")
            case .checks: Self.make("rollout_checks", "total", "Rollout health checks by result (pass, fail, inconclusive).")
            case .rollbacks: Self.make("rollbacks", "total", "Rollbacks by reason (failed_checks, startup_faults, manual).")
            case .reconciles: Self.make("reconcile", "total", "Reconciles by result (success, error, invalid, unchanged).")
            case .schemaInvalid: Self.make("schema_invalid", "", "Schema documents now invalid.")
            }
        }

        private static func make(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "mapctl", metricName: name, unitName: unit, helpText: help)
        }
    }
}
