import LiveMaps
import Testing

@Suite("Counters")
struct CountersTests {
    @Test("Ops by kind and result add up to the total, and delta gives one interval")
    func opsAddUp() throws {
        let map = LiveMap<Int, Int>(configuration: .init(strategy: .sharded, latencySampleInterval: 1))
        try map.put(1, 1)
        try map.put(2, 2)
        _ = map.get(1)
        _ = map.get(3)
        _ = map.contains(2)
        map.delete(2)
        map.delete(2)
        let first = map.counters.snapshot()
        #expect(first.count(.put, .ok) == 2)
        #expect(first.count(.get, .ok) == 1)
        #expect(first.count(.get, .miss) == 1)
        #expect(first.count(.contains, .ok) == 1)
        #expect(first.count(.delete, .ok) == 1)
        #expect(first.count(.delete, .miss) == 1)
        #expect(first.totalOps == 7)
        #expect(first.latency.count == 7)
        _ = map.get(1)
        map.counters.reportFault()
        map.counters.record(op: .put, result: .error, nanoseconds: 2_000_000)
        let interval = map.counters.snapshot().delta(since: first)
        #expect(interval.totalOps == 2)
        #expect(interval.faults == 1)
        #expect(interval.errors == 1)
        #expect(interval.latency.count == 2)
        #expect(interval.latency.quantile(0.99) >= .milliseconds(2))
        #expect(interval.latency.quantile(0.99) <= .milliseconds(4))
    }

    @Test("Histogram buckets are cumulative and quantiles pick the right bucket")
    func histogram() {
        let counters = MapCounters()
        for _ in 0..<99 { counters.record(op: .get, result: .ok, nanoseconds: 1_000) }
        counters.record(op: .get, result: .ok, nanoseconds: 50_000_000)
        let histogram = counters.snapshot().latency
        #expect(histogram.count == 100)
        #expect(histogram.quantile(0.5) <= .nanoseconds(1_536))
        #expect(histogram.quantile(0.5) > .nanoseconds(1_000))
        #expect(histogram.quantile(1.0) >= .milliseconds(50))
        let buckets = histogram.buckets
        #expect(buckets.last?.cumulativeCount == 100)
        #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.upperBoundSeconds < $1.upperBoundSeconds && $0.cumulativeCount <= $1.cumulativeCount })
        #expect(histogram.sum == .nanoseconds(99_000 + 50_000_000))
    }

    @Test("Counters can be switched off")
    func off() throws {
        let map = LiveMap<Int, Int>(configuration: .init(countersEnabled: false))
        try map.put(1, 1)
        #expect(map.counters.snapshot().totalOps == 0)
    }
}
