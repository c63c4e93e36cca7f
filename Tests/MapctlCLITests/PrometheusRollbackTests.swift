import Foundation
import TestServers
import Testing

/// `rollout.queries` end to end (SPEC §8.1): a real daemon with `--prometheus`, a real Prometheus scraping
/// the daemon's own `/metrics` every second, and a query on `mapctl_map_ops_total` for the version judged.
///
/// Serialized, like the other timing-sensitive daemon suites: each test runs a daemon, writers and Prometheus.
@Suite(
    "Rollouts judged by Prometheus queries", .serialized, .heavy,
    .enabled(if: ThrowawayPrometheus.isAvailable, "prometheus is not installed"))
struct PrometheusRollbackTests {
    /// The map's own error ratio for the version under judgement, from the daemon's metrics. The counters'
    /// checks cannot fail (no max_error_rate, max_faults out of reach): only the query can roll back.
    static let rollout = """
        rollback_window: 12s
        rollout:
          interval: 2s
          min_ops: 10
          failure_limit: 2
          max_faults: 1000000000
          queries:
            - name: error_ratio
              prometheus: sum(rate(mapctl_map_ops_total{map="{{map}}",version="{{version}}",result=~"error|fault"}[5s])) / sum(rate(mapctl_map_ops_total{map="{{map}}",version="{{version}}"}[5s]))
              max: 0.05
        """
    static let bad = rollout + "\nfault_injection:\n  error_rate: 0.5"

    /// Puts in a loop on four connections until stopped.
    static func startWriters(_ session: Session, stop: StopFlag, acknowledged: Counter) -> Task<Void, Never> {
        let client = EntryClient(baseURL: session.daemon.url)
        return Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var index = worker
                        while !stop.isSet {
                            if (200..<300).contains(await client.put(map: "orders", key: "k\(index % 500)", json: "\(index)")) {
                                acknowledged.increment()
                            }
                            index += 4
                        }
                    }
                }
            }
        }
    }

    @Test("A version whose error ratio in Prometheus is past max is rolled back and quarantined, the query named in the reason")
    func queryRollsBack() async throws {
        let prometheusPort = try LoopbackHTTP.freePort()
        let session = try await Session.start(arguments: [
            "--enable-fault-injection", "--prometheus", "http://127.0.0.1:\(prometheusPort)",
        ])
        defer { session.layout.remove() }
        let prometheus = try await ThrowawayPrometheus(
            targets: [String(session.daemon.url.dropFirst("http://".count))], job: "mapctl", port: prometheusPort)
        defer { prometheus.stop() }

        let v1 = try session.layout.writeWorkFile("v1.yaml", Fixture.schema("orders", version: "1.0.0", extra: Self.rollout))
        let v2 = try session.layout.writeWorkFile("v2.yaml", Fixture.schema("orders", version: "1.1.0", extra: Self.bad))
        let created = try await session.mapctl(["apply", "-f", v1])
        #expect(created.exitCode == 0, "\(created)")
        let stop = StopFlag()
        let acknowledged = Counter()
        let writers = Self.startWriters(session, stop: stop, acknowledged: acknowledged)
        try await acknowledged.wait(atLeast: 200)
        #expect(try await prometheus.waitForData(#"mapctl_map_ops_total{map="orders",version="1.0.0"}"#), "\(prometheus.log)")

        let applied = try await session.mapctl(["apply", "-f", v2])
        #expect(applied.exitCode == 0, "\(applied)")
        let rolledBack = try await session.waitForStatus("orders", timeout: .seconds(90)) { $0["phase"] as? String == "rolled_back" }
        stop.set()
        await writers.value

        #expect(rolledBack["live_version"] as? String == "1.0.0")
        #expect(rolledBack["quarantined"] as? [String] == ["1.1.0"])
        let reason = rolledBack["reason"] as? String ?? ""
        #expect(reason.contains("2 consecutive failed checks: error_ratio "), "\(reason)")
        #expect(reason.contains(" > max 0.05"), "\(reason)")
        let queries = try #require(rolledBack["queries"] as? [[String: Any]], "\(rolledBack)")
        #expect(queries.count == 1)
        #expect(queries.first?["name"] as? String == "error_ratio")
        #expect(queries.first?["result"] as? String == "fail")
        #expect((queries.first?["value"] as? Double ?? 0) > 0.05, "\(queries)")
        let history = try await session.history("orders")
        #expect(history.contains { $0["action"] as? String == "rollback" && ($0["reason"] as? String ?? "").contains("error_ratio") })
        #expect(history.contains { $0["action"] as? String == "quarantine" && $0["version"] as? String == "1.1.0" })
        #expect(try await session.daemon.stop().exitCode == 0)
    }

    @Test("The same query with no data is inconclusive: the bad version is neither failed nor passed, and its window ends")
    func noDataIsInconclusive() async throws {
        // Prometheus up, but scraping nothing: every query answers an empty vector.
        let prometheus = try await ThrowawayPrometheus(targets: [], job: "nothing")
        defer { prometheus.stop() }
        let session = try await Session.start(arguments: ["--enable-fault-injection", "--prometheus", prometheus.baseURL])
        defer { session.layout.remove() }

        let v1 = try session.layout.writeWorkFile("v1.yaml", Fixture.schema("orders", version: "1.0.0", extra: Self.rollout))
        let v2 = try session.layout.writeWorkFile("v2.yaml", Fixture.schema("orders", version: "1.1.0", extra: Self.bad))
        #expect(try await session.mapctl(["apply", "-f", v1]).exitCode == 0)
        let stop = StopFlag()
        let acknowledged = Counter()
        let writers = Self.startWriters(session, stop: stop, acknowledged: acknowledged)
        try await acknowledged.wait(atLeast: 100)
        #expect(try await session.mapctl(["apply", "-f", v2]).exitCode == 0)

        // Mid-window: checks made, none failed or passed, the query's error in status.
        let judged = try await session.waitForStatus("orders") { status in
            ((status["checks"] as? [String: Any])?["inconclusive"] as? Int ?? 0) >= 2
        }
        #expect(judged["phase"] as? String == "rolling_out")
        let checks = try #require(judged["checks"] as? [String: Any])
        #expect(checks["failed"] as? Int == 0, "\(checks)")
        #expect(checks["passed"] as? Int == 0, "\(checks)")
        let queries = try #require(judged["queries"] as? [[String: Any]], "\(judged)")
        #expect(queries.first?["result"] as? String == "inconclusive")
        let error = queries.first?["error"] as? String ?? ""
        #expect(error.contains("no data"), "\(queries)")
        #expect(queries.first?["value"] is NSNull, "\(queries)")

        // Nothing failed, so the window ends with a promotion, never a rollback.
        let promoted = try await session.waitForStatus("orders") { $0["phase"] as? String == "stable" }
        stop.set()
        await writers.value
        #expect(promoted["live_version"] as? String == "1.1.0")
        let history = try await session.history("orders")
        #expect(!history.contains { $0["action"] as? String == "rollback" })
        #expect(history.last?["action"] as? String == "promote")
        #expect(try await session.daemon.stop().exitCode == 0)
    }

    @Test("Without --prometheus, a schema with queries is refused at the queries key, naming the flag")
    func refusedWithoutPrometheus() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let file = try session.layout.writeWorkFile("v1.yaml", Fixture.schema("orders", version: "1.0.0", extra: Self.rollout))
        let refused = try await session.mapctl(["apply", "-f", file])
        #expect(refused.exitCode != 0, "\(refused)")
        #expect(refused.stderr.contains(":11:3: error: rollout.queries needs a Prometheus server"), "\(refused)")
        #expect(refused.stderr.contains("--prometheus URL"), "\(refused)")
        // `mapctl validate` only checks the shape: the same file is valid there.
        let validated = try await session.mapctl(["validate", file])
        #expect(validated.exitCode == 0, "\(validated)")
        #expect(try await session.daemon.stop().exitCode == 0)
    }
}
