import LiveMaps
import MapController
import Metrics
import Prometheus
import Testing

@testable import MapServer

/// The rendered `/metrics` text, read back as a scraper reads it (items 22 and 7 of issue 11).
@Suite struct MetricsTextTests {
    /// A name with everything the format escapes: a double quote, a backslash and a line feed.
    static let awkward = "we\"ird\\name\nline two"

    @Test func labelValuesRoundTripThroughTheText() throws {
        var live = TableControlPlane.sample(map: Self.awkward, version: "1.0.0+\"b\\\n")
        live.strategy = "sharded\\\"\n"
        let snapshot = ControllerMetricsSnapshot(
            maps: [live],
            rolloutChecks: [(map: Self.awkward, version: "0.9.0", result: "fail", count: 3)],
            rollbacks: [(map: Self.awkward, reason: "operator said \"no\"\\\nreally", count: 2)],
            reconciles: [(result: "success", count: 1)]
        )
        let page = try ExpositionPage(MetricsRenderer().render(snapshot))
        let labels = ["map": Self.awkward, "version": "1.0.0+\"b\\\n"]
        #expect(page.values("mapctl_map_entries", labels) == ["5.0"])
        #expect(page.values("mapctl_map_info", labels.merging(["strategy": "sharded\\\"\n"]) { $1 }) == ["1.0"])
        #expect(page.values("mapctl_breaker_state", ["map": Self.awkward]) == ["0.0"])
        #expect(page.values("mapctl_rollbacks_total", ["map": Self.awkward, "reason": "operator said \"no\"\\\nreally"]) == ["2"])
        #expect(page.values("mapctl_rollout_checks_total", ["map": Self.awkward, "version": "0.9.0", "result": "fail"]) == ["3"])
        #expect(page.values("mapctl_map_op_duration_seconds_count", labels) == ["18"])
        // Escaped once: no doubled backslash anywhere on the page.
        let text = String(decoding: MetricsRenderer().render(snapshot), as: UTF8.self)
        #expect(text.contains(#"map="we\"ird\\name\nline two""#))
        #expect(!text.contains(#"\\\\"#))
    }

    @Test(.enabled(if: Promtool.isInstalled, Promtool.missing))
    func promtoolAcceptsEscapedLabelValues() throws {
        let snapshot = ControllerMetricsSnapshot(
            maps: [TableControlPlane.sample(map: Self.awkward, version: "1.0.0")],
            rollbacks: [(map: Self.awkward, reason: "a \"b\" \\ c\nd", count: 1)]
        )
        let result = try #require(try Promtool.checkMetrics(MetricsRenderer().render(snapshot)))
        #expect(result.status == 0, "promtool: \(result.output)")
        #expect(result.output.isEmpty, "promtool: \(result.output)")
    }

    /// Every series the renderer before issue 11 wrote, with the same name, labels, value, type and
    /// help, and no other (names without anything to escape, which the old one escaped twice).
    @Test func theSameSeriesAsTheRegistryRenderer() throws {
        let snapshot = Self.varied(maps: 12)
        let new = try ExpositionPage(MetricsRenderer().render(snapshot))
        let old = try ExpositionPage(LegacyMetricsRenderer().render(snapshot))
        #expect(new.samples.count == old.samples.count)
        // Set equality, reported as the differing series (at most five each way), not as two whole pages.
        let missing = Set(old.samples).subtracting(new.samples)
        let extra = Set(new.samples).subtracting(old.samples)
        #expect(missing.isEmpty && extra.isEmpty, "\(missing.count) missing, \(extra.count) extra")
        for sample in missing.prefix(5) { Issue.record("missing \(sample)") }
        for sample in extra.prefix(5) { Issue.record("extra \(sample)") }
        #expect(new.types == old.types)
        #expect(new.help == old.help)
    }

    @Test func swiftMetricsGaugesOfAnotherModuleAreEmittedWithHelp() throws {
        let registry = PrometheusCollectorRegistry()
        let factory = DescribedMetricsFactory(
            registry: registry,
            help: ["mapctl_fleet_leader": "1 while this replica leads its fleet.", "mapctl_fleet_replicas": "Replicas."])
        Metrics.Gauge(label: "mapctl_fleet_leader", dimensions: [("fleet", "eu")], factory: factory).record(1)
        Metrics.Meter(label: "mapctl_fleet_replicas", dimensions: [("fleet", "eu")], factory: factory).set(3)
        Metrics.Counter(label: "mapctl_fleet_elections_total", factory: factory).increment()
        let text = MetricsRenderer().render(ControllerMetricsSnapshot(), additional: [registry])
        let page = try ExpositionPage(text)
        #expect(page.values("mapctl_fleet_leader", ["fleet": "eu"]) == ["1.0"])
        #expect(page.values("mapctl_fleet_replicas", ["fleet": "eu"]) == ["3.0"])
        #expect(page.types["mapctl_fleet_leader"] == "gauge")
        #expect(page.help["mapctl_fleet_leader"] == "1 while this replica leads its fleet.")
        #expect(page.help["mapctl_fleet_elections_total"] != nil)
        if let checked = try Promtool.checkMetrics(text) {
            #expect(checked.status == 0 && checked.output.isEmpty, "promtool: \(checked.output)")
        }
    }

    /// Maps with standbys, checks of a version no longer live, a rollback of a removed map, every
    /// breaker state and a reconcile result beyond the four.
    static func varied(maps count: Int) -> ControllerMetricsSnapshot {
        var samples: [MapMetricsSample] = []
        let breakers: [BreakerState] = [.closed, .halfOpen, .open]
        for index in 0..<count {
            var live = TableControlPlane.sample(map: "map_\(index)", version: "1.\(index).0", breaker: breakers[index % 3])
            live.entries = index * 1000
            live.bytes = index << 20
            live.faults = UInt64(index)
            live.ops = OpKind.allCases.flatMap { op in OpResult.allCases.map { (op.rawValue, $0.rawValue, UInt64(index * 7)) } }
            samples.append(live)
            if index % 4 == 0 {
                samples.append(
                    TableControlPlane.sample(map: "map_\(index)", version: "0.9.\(index)", role: "standby", breaker: breakers[index % 3]))
            }
        }
        return ControllerMetricsSnapshot(
            maps: samples.shuffled(),
            rolloutChecks: [
                (map: "map_1", version: "1.1.0", result: "pass", count: 4), (map: "map_1", version: "0.9.0", result: "fail", count: 2),
            ],
            rollbacks: [(map: "map_2", reason: "manual", count: 1), (map: "gone", reason: "failed_checks", count: 3)],
            reconciles: [(result: "success", count: 9), (result: "error", count: 1), (result: "skipped", count: 2)],
            schemaInvalid: 1
        )
    }
}
