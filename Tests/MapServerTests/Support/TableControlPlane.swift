import Foundation
import MapController
import MapSchema

/// A ``ControlPlane`` over a table, for the route-level tests: it lets a test put the
/// API in states that the real controller reaches only slowly (breaker open, not
/// ready, every document invalid) and check the status codes and bodies. The
/// end-to-end tests run the real `Controller`.
actor TableControlPlane: ControlPlane {
    var ready = true
    var maps: [String: [String: [UInt8]]] = ["users": [:]]
    var breakerOpenFor: Duration?
    var applied: [(yaml: String, source: String, isDryRun: Bool, prune: Bool)] = []
    var rollbacks: [(name: String, to: String?, reason: String?, source: String)] = []
    var nextReport: ApplyReport?

    func setReady(_ value: Bool) { ready = value }
    func openBreaker(for duration: Duration?) { breakerOpenFor = duration }
    func setNextReport(_ report: ApplyReport?) { nextReport = report }

    var isReady: Bool { ready }

    func apply(yaml: [UInt8], source: String, isDryRun: Bool, prune: Bool) async throws(ControlPlaneError) -> ApplyReport {
        guard let text = String(validating: yaml, as: UTF8.self) else {
            throw ControlPlaneError(.badRequest, code: "not_utf8", message: "the body is not UTF-8")
        }
        applied.append((text, source, isDryRun, prune))
        if let nextReport { return nextReport }
        return ApplyReport(dryRun: isDryRun, plan: [PlanEntry(name: "users", action: .unchanged)])
    }

    func statuses() async -> [MapStatus] {
        maps.keys.sorted().map { MapStatus(name: $0, liveVersion: "1.0.0", desiredVersion: "1.0.0", entries: maps[$0]!.count) }
    }

    func status(of name: String) async throws(ControlPlaneError) -> MapStatus {
        guard let entries = maps[name] else { throw Self.noMap(name) }
        return MapStatus(name: name, liveVersion: "1.0.0", desiredVersion: "1.0.0", strategy: "sharded", entries: entries.count)
    }

    func history(of name: String) async throws(ControlPlaneError) -> [HistoryEntry] {
        guard maps[name] != nil else { throw Self.noMap(name) }
        return [
            HistoryEntry(time: Date(timeIntervalSince1970: 1_700_000_000), action: .apply, version: "1.0.0", source: "schemas/users.yaml"),
            HistoryEntry(time: Date(timeIntervalSince1970: 1_700_000_100), action: .promote, version: "1.0.0"),
        ]
    }

    func rollback(name: String, to version: String?, reason: String?, source: String) async throws(ControlPlaneError) -> MapStatus {
        guard maps[name] != nil else { throw Self.noMap(name) }
        rollbacks.append((name, version, reason, source))
        return MapStatus(name: name, liveVersion: version ?? "0.9.0", desiredVersion: "1.0.0", phase: .rolledBack)
    }

    func getEntry(map: String, key: String) async throws(ControlPlaneError) -> [UInt8] {
        guard let entries = maps[map] else { throw Self.noMap(map) }
        guard let value = entries[key] else {
            throw ControlPlaneError(.notFound, code: "key_not_found", message: "no key '\(key)' in \(map)")
        }
        return value
    }

    func putEntry(map: String, key: String, json: [UInt8]) async throws(ControlPlaneError) {
        guard maps[map] != nil else { throw Self.noMap(map) }
        if let breakerOpenFor {
            throw ControlPlaneError(
                .unavailable, code: "breaker_open", message: "the circuit breaker of \(map) is open", retryAfter: breakerOpenFor)
        }
        guard (try? JSONSerialization.jsonObject(with: Data(json), options: [.fragmentsAllowed])) != nil else {
            throw ControlPlaneError(.badRequest, code: "bad_value", message: "the value is not JSON")
        }
        maps[map]![key] = json
    }

    func deleteEntry(map: String, key: String) async throws(ControlPlaneError) {
        guard maps[map] != nil else { throw Self.noMap(map) }
        guard maps[map]!.removeValue(forKey: key) != nil else {
            throw ControlPlaneError(.notFound, code: "key_not_found", message: "no key '\(key)' in \(map)")
        }
    }

    func metricsSnapshot() async -> ControllerMetricsSnapshot {
        ControllerMetricsSnapshot(maps: [Self.sample(map: "users", version: "1.0.0")], reconciles: [("success", 3)], schemaInvalid: 1)
    }

    static func sample(map: String, version: String, role: String = "live", breaker: BreakerState = .closed) -> MapMetricsSample {
        MapMetricsSample(
            map: map,
            version: version,
            strategy: "sharded",
            role: role,
            ops: [("get", "ok", 10), ("get", "miss", 2), ("put", "ok", 5), ("put", "error", 1)],
            latencyBuckets: [(0.000_01, 4), (0.000_1, 12), (0.001, 17), (.infinity, 18)],
            latencySumSeconds: 0.0042,
            latencyCount: 18,
            entries: 5,
            bytes: 640,
            contention: 1,
            faults: 0,
            evictions: 0,
            expirations: 0,
            breaker: breaker
        )
    }

    private static func noMap(_ name: String) -> ControlPlaneError {
        ControlPlaneError(.notFound, code: "map_not_found", message: "no map named '\(name)'")
    }
}
