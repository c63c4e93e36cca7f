import MapController
import Prometheus
import Testing

@testable import MapServer

@Suite struct MetricsRendererTests {
    static let snapshot = ControllerMetricsSnapshot(
        maps: [
            TableControlPlane.sample(map: "users", version: "1.1.0", breaker: .open),
            TableControlPlane.sample(map: "users", version: "1.0.0", role: "standby", breaker: .open),
            TableControlPlane.sample(map: "orders", version: "2.0.0"),
        ],
        rolloutChecks: [(map: "users", version: "1.1.0", result: "fail", count: 2)],
        rollbacks: [(map: "orders", reason: "manual", count: 1)],
        reconciles: [(result: "success", count: 4)],
        schemaInvalid: 2
    )

    /// The rendered text as a set of lines (a failed expectation then prints one line, not the page).
    static func lines(_ bytes: [UInt8]) -> Set<String> {
        Set(String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init))
    }

    @Test func everyFamilyOfTheSpecIsExportedWithHelpAndType() {
        let text = String(decoding: MetricsRenderer().render(Self.snapshot), as: UTF8.self)
        let families: [(String, String)] = [
            ("mapctl_map_ops_total", "counter"), ("mapctl_map_op_duration_seconds", "histogram"), ("mapctl_map_entries", "gauge"),
            ("mapctl_map_bytes", "gauge"), ("mapctl_map_contention_total", "counter"), ("mapctl_map_faults_total", "counter"),
            ("mapctl_map_evictions_total", "counter"), ("mapctl_map_info", "gauge"), ("mapctl_rollout_checks_total", "counter"),
            ("mapctl_rollbacks_total", "counter"), ("mapctl_reconcile_total", "counter"), ("mapctl_breaker_state", "gauge"),
            ("mapctl_schema_invalid", "gauge"),
        ]
        for (name, type) in families {
            #expect(text.contains("# TYPE \(name) \(type)\n"), "\(name)")
            #expect(text.contains("# HELP \(name) "), "\(name)")
        }
    }

    @Test func valuesCarryMapVersionAndTheSmallLabelSets() {
        let lines = Self.lines(MetricsRenderer().render(Self.snapshot))
        #expect(lines.contains(#"mapctl_map_ops_total{map="users",version="1.1.0",op="get",result="ok"} 10"#))
        #expect(lines.contains(#"mapctl_map_info{map="users",version="1.1.0",strategy="sharded"} 1.0"#))
        // Only the live instance has an info series, with the documented labels and no others.
        #expect(!lines.contains { $0.hasPrefix(#"mapctl_map_info{map="users",version="1.0.0""#) })
        #expect(lines.contains(#"mapctl_breaker_state{map="users"} 2.0"#))
        #expect(lines.contains(#"mapctl_breaker_state{map="orders"} 0.0"#))
        #expect(lines.contains(#"mapctl_rollout_checks_total{map="users",version="1.1.0",result="fail"} 2"#))
        #expect(lines.contains(#"mapctl_schema_invalid 2.0"#))
        #expect(lines.contains(#"mapctl_map_op_duration_seconds_bucket{map="orders",version="2.0.0",le="0.001"} 17"#))
        #expect(lines.contains(#"mapctl_map_op_duration_seconds_bucket{map="orders",version="2.0.0",le="+Inf"} 18"#))
        #expect(lines.contains(#"mapctl_map_op_duration_seconds_count{map="orders",version="2.0.0"} 18"#))
        #expect(lines.contains(#"mapctl_map_op_duration_seconds_sum{map="orders",version="2.0.0"} 0.0042"#))
    }

    @Test func countersWithSmallLabelSetsStartAtZero() {
        let lines = Self.lines(
            MetricsRenderer().render(ControllerMetricsSnapshot(maps: [TableControlPlane.sample(map: "users", version: "1.0.0")])))
        for result in ["success", "error", "invalid", "unchanged"] {
            #expect(lines.contains(#"mapctl_reconcile_total{result="\#(result)"} 0"#), "\(result)")
        }
        for result in ["pass", "fail", "inconclusive"] {
            #expect(lines.contains(#"mapctl_rollout_checks_total{map="users",version="1.0.0",result="\#(result)"} 0"#), "\(result)")
        }
        for reason in ["failed_checks", "startup_faults", "manual"] {
            #expect(lines.contains(#"mapctl_rollbacks_total{map="users",reason="\#(reason)"} 0"#), "\(reason)")
        }
    }

    @Test(.enabled(if: Promtool.isInstalled, Promtool.missing))
    func promtoolAcceptsTheOutput() throws {
        let http = PrometheusCollectorRegistry()
        http.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "mapctl", metricName: "http_requests", unitName: "total", helpText: "HTTP requests."),
            labels: [("method", "GET"), ("route", "/healthz"), ("status", "200")]
        ).increment()
        let text = MetricsRenderer().render(Self.snapshot, additional: [http])
        let result = try #require(try Promtool.checkMetrics(text))
        #expect(result.status == 0, "promtool: \(result.output)")
        // promtool exits 0 with lint warnings too: there must be none.
        #expect(result.output.isEmpty, "promtool: \(result.output)")
    }

    @Test func anEmptySnapshotIsStillValid() throws {
        let text = MetricsRenderer().render(ControllerMetricsSnapshot())
        #expect(String(decoding: text, as: UTF8.self).contains("mapctl_schema_invalid 0.0"))
    }

    @Test(.enabled(if: Promtool.isInstalled, Promtool.missing))
    func promtoolAcceptsAnEmptySnapshot() throws {
        let result = try #require(try Promtool.checkMetrics(MetricsRenderer().render(ControllerMetricsSnapshot())))
        #expect(result.status == 0, "promtool: \(result.output)")
    }

    // Label escaping is tested on the rendered text, read back: MetricsTextTests.
}
