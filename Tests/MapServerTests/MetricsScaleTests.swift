import Foundation
import LiveMaps
import MapController
import Synchronization
import TestServers
import Testing

@testable import MapServer

/// A duration in seconds.
private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// `/metrics` at 1,000 maps (issue 11 item 7): rendered in linear time, one render at a time, and
/// `/healthz` unaffected by scrapes.
@Suite(.serialized, .heavy) struct MetricsScaleTests {
    /// An instance as the controller samples it: every op and result, the 64 exported latency bounds and +Inf.
    static func instance(_ index: Int, role: String = "live") -> MapMetricsSample {
        var counts = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount)
        for bucket in stride(from: 40, to: 300, by: 7) { counts[bucket] = UInt64(index % 97 + bucket) }
        let histogram = LatencyHistogram(counts: counts, sumNanoseconds: UInt64(index) * 1_234_567)
        var buckets = histogram.buckets.map { (upperBound: $0.upperBoundSeconds, cumulativeCount: $0.cumulativeCount) }
        buckets.append((upperBound: .infinity, cumulativeCount: histogram.count))
        return MapMetricsSample(
            map: "map_\(index)", version: "1.\(index % 10).0", strategy: "sharded", role: role,
            ops: OpKind.allCases.flatMap { op in OpResult.allCases.map { (op.rawValue, $0.rawValue, UInt64(index &* 31)) } },
            latencyBuckets: buckets, latencySumSeconds: seconds(histogram.sum), latencyCount: histogram.count,
            entries: index * 10, bytes: index * 4096, contention: 3, faults: 1, evictions: 0, expirations: 2, breaker: .closed
        )
    }

    static func snapshot(maps: Int) -> ControllerMetricsSnapshot {
        ControllerMetricsSnapshot(
            maps: (0..<maps).map { instance($0) }, reconciles: [(result: "success", count: 1)], schemaInvalid: 0)
    }

    /// The fastest of `runs` renders, in seconds.
    static func fastestRender(_ snapshot: ControllerMetricsSnapshot, runs: Int = 3) -> (seconds: Double, bytes: Int) {
        var best = Double.infinity
        var bytes = 0
        for _ in 0..<runs {
            let start = ContinuousClock.now
            bytes = MetricsRenderer().render(snapshot).count
            best = min(best, seconds(ContinuousClock.now - start))
        }
        return (best, bytes)
    }

    /// The target is 100 ms at 1,000 maps in a release build (BENCHMARKS.md measures it); tests run a
    /// debug build on a loaded machine, so the bound here is 2 s: the registry renderer took 20 s
    /// (release). And the time is linear: 4x the maps cost about 4x, not 16x.
    @Test func aThousandMapsRenderInLinearTime() throws {
        let thousand = Self.fastestRender(Self.snapshot(maps: 1000))
        #expect(thousand.seconds < 2, "1,000 maps: \(thousand.seconds) s")
        let small = Self.fastestRender(Self.snapshot(maps: 500))
        let large = Self.fastestRender(Self.snapshot(maps: 2000))
        #expect(large.seconds / small.seconds < 8, "500 maps \(small.seconds) s, 2,000 maps \(large.seconds) s")
        #expect(large.bytes > 3 * small.bytes)
        print(
            "render: 500 maps \(small.seconds) s, 1,000 maps \(thousand.seconds) s (\(thousand.bytes) bytes), 2,000 maps \(large.seconds) s"
        )
    }

    @Test func concurrentScrapesShareOneRender() async throws {
        let calls = Counter()
        let scrapes = MetricsScrapes {
            let call = calls.value.add(1, ordering: .relaxed).newValue
            try? await Task.sleep(for: .milliseconds(300))
            return Array("render \(call)\n".utf8)
        }
        let texts = await withTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<8 { group.addTask { await scrapes.text() } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(calls.value.load(ordering: .relaxed) == 1)
        #expect(Set(texts) == [Array("render 1\n".utf8)])
        // The next scrape after it is done renders afresh.
        #expect(await scrapes.text() == Array("render 2\n".utf8))
        #expect(scrapes.renders == 2)
    }

    /// The real daemon with 1,000 maps: while four clients scrape `/metrics` back to back, `/healthz`
    /// keeps answering within a bound far below one render of the registry renderer (20 s).
    @Test func healthAnswersPromptlyDuringConcurrentScrapes() async throws {
        let directory = try TemporaryDirectory()
        let state = try TemporaryDirectory()
        let maps = 1000
        for index in 0..<maps {
            try write(schema("map_\(index)", version: "1.0.0"), to: directory.path + "/map_\(index).yaml")
        }
        let daemon = try await RunningDaemon.start(directory: directory.path, stateDirectory: state.path + "/state")
        do {
            let ready = try await daemon.waitFor("/readyz", timeout: .seconds(300)) { $0.status == 200 }
            #expect(ready.status == 200)
            let first = try await RawHTTPClient.request(
                port: daemon.port, method: "GET", path: "/metrics", timeoutSeconds: 120, halfClose: false)
            #expect(first.status == 200)
            #expect(
                first.body.last == 10,
                "\(first.headers), \(first.body.count) bytes: …\(String(decoding: first.body.suffix(300), as: UTF8.self))")
            let page = try ExpositionPage(first.body)
            #expect(page.values("mapctl_map_info").count == maps)

            let scraping = Flag()
            let port = daemon.port
            let (health, scrapes) = try await withThrowingTaskGroup(of: (health: [Double], scrapes: [Double]).self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var times: [Double] = []
                        while scraping.value.load(ordering: .relaxed) {
                            let start = ContinuousClock.now
                            let response = try await RawHTTPClient.request(
                                port: port, method: "GET", path: "/metrics", timeoutSeconds: 120, halfClose: false)
                            guard response.status == 200 else { throw RawHTTPError(description: "scrape: \(response.status)") }
                            times.append(seconds(ContinuousClock.now - start))
                        }
                        return ([], times)
                    }
                }
                // At high priority, so that what is counted and timed is the daemon's answers: each probe resumes
                // this task in the test process, whose default-priority queue the suite's synchronous tests can
                // hold for seconds (3 probes in 4 s in one full-suite run, against the 20 required).
                group.addTask(priority: .high) {
                    var times: [Double] = []
                    let end = ContinuousClock.now.advanced(by: .seconds(4))
                    while ContinuousClock.now < end {
                        let start = ContinuousClock.now
                        let response = try await RawHTTPClient.request(port: port, method: "GET", path: "/healthz", timeoutSeconds: 60)
                        guard response.status == 200 else { throw RawHTTPError(description: "healthz: \(response.status)") }
                        times.append(seconds(ContinuousClock.now - start))
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    scraping.value.store(false, ordering: .relaxed)
                    return (times, [])
                }
                return try await group.reduce(into: (health: [Double](), scrapes: [Double]())) {
                    $0.health += $1.health
                    $0.scrapes += $1.scrapes
                }
            }
            let slowestHealth = health.max() ?? .infinity
            #expect(health.count >= 20, "healthz answered \(health.count) times in 4 s")
            // One render of the registry renderer took 20 s at 1,000 maps. The slowest probe is bounded well under
            // that, not at 1 s: this runs beside the rest of the suite on 2 cores (2.6 s seen there).
            let medianHealth = health.sorted()[health.count / 2]
            #expect(medianHealth < 0.5, "median healthz \(medianHealth) s")
            #expect(slowestHealth < 5.0, "slowest healthz \(slowestHealth) s")
            #expect(!scrapes.isEmpty)
            print(
                "healthz during scrapes: \(health.count) probes, slowest \(slowestHealth) s; scrapes: \(scrapes.count), slowest \(scrapes.max() ?? 0) s"
            )
        } catch {
            try? await daemon.stop()
            throw error
        }
        try await daemon.stop()
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    final class Flag: Sendable {
        let value = Atomic<Bool>(true)
    }
}
