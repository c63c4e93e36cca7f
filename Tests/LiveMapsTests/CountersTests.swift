import Foundation
import LiveMaps
import Synchronization
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
        // The slower of the two (2 ms), within the histogram's 4 %.
        #expect(abs(Double(interval.latency.quantileNanoseconds(0.99)) - 2_000_000) <= 80_000)
    }

    @Test("Histogram: exported buckets are cumulative, coarse, and quantiles land near the observations")
    func histogram() {
        let counters = MapCounters()
        for _ in 0..<99 { counters.record(op: .get, result: .ok, nanoseconds: 1_000) }
        counters.record(op: .get, result: .ok, nanoseconds: 50_000_000)
        let histogram = counters.snapshot().latency
        #expect(histogram.count == 100)
        #expect(abs(Double(histogram.quantileNanoseconds(0.5)) - 1_000) <= 40)
        #expect(abs(Double(histogram.quantileNanoseconds(1.0)) - 50_000_000) <= 2_000_000)
        let buckets = histogram.buckets
        #expect(buckets.count == 64)
        #expect(buckets.last?.cumulativeCount == 100)
        #expect(buckets.first(where: { $0.upperBoundSeconds >= 1.024e-6 })?.cumulativeCount == 99)
        #expect(
            zip(buckets, buckets.dropFirst()).allSatisfy {
                $0.upperBoundSeconds < $1.upperBoundSeconds && $0.cumulativeCount <= $1.cumulativeCount
            })
        #expect(histogram.sum == .nanoseconds(99_000 + 50_000_000))
    }

    @Test("A true p99 of 1.6 ms reads as 1.6 ms, not as its bucket's upper bound")
    func p99NotOverestimated() {
        let counters = MapCounters()
        for index in 0..<1_000 { counters.record(op: .get, result: .ok, nanoseconds: index < 985 ? 200_000 : 1_600_000) }
        let p99 = counters.snapshot().latency.quantile(0.99)
        #expect(p99 >= .microseconds(1_536) && p99 <= .microseconds(1_664), "p99 \(p99)")
        #expect(p99 < .milliseconds(2))
    }

    @Test("Quantiles are within 5 % of the exact quantile of the observations, for random distributions")
    func quantilesWithinFivePercent() {
        var random = TestRandom(seed: 0x5EED)
        func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        for round in 0..<400 {
            let count = 1 + random.below(4_000)
            let shape = round % 5
            let scale = 50 + Double(random.below(5_000_000))
            var samples: [UInt64] = []
            samples.reserveCapacity(count)
            for _ in 0..<count {
                let value: Double
                switch shape {
                case 0: value = scale * (0.5 + uniform())  // uniform
                case 1: value = scale * -log(max(uniform(), 1e-12))  // exponential
                case 2:  // log-normal
                    let normal = sqrt(-2 * log(max(uniform(), 1e-12))) * cos(2 * Double.pi * uniform())
                    value = scale * exp(normal)
                case 3: value = uniform() < 0.97 ? scale : scale * 8 * (1 + uniform())  // bimodal, a slow tail
                default: value = scale + Double(random.below(3))  // nearly constant (an injected sleep)
                }
                samples.append(UInt64(max(1, value)))
            }
            let counters = MapCounters()
            for sample in samples { counters.record(op: .get, result: .ok, nanoseconds: sample) }
            let histogram = counters.snapshot().latency
            let sorted = samples.sorted()
            for q in [0.5, 0.9, 0.99, 0.999] {
                let exact = Double(sorted[Int((Double(count) * q).rounded(.up)) - 1])
                let estimate = Double(histogram.quantileNanoseconds(q))
                #expect(abs(estimate - exact) <= 0.05 * exact, "shape \(shape), n \(count), q \(q): \(estimate) vs exact \(exact)")
            }
        }
    }

    @Test("A quiet interval still gets timed samples: every thread times its next operations after a snapshot")
    func adaptiveSampling() throws {
        let map = LiveMap<Int, Int>(configuration: .init(strategy: .sharded, latencySampleInterval: 32))
        for key in 0..<1_000 { try map.put(key, key) }
        let before = map.counters.snapshot()
        for key in 0..<100 { _ = map.get(key) }
        let interval = map.counters.snapshot().delta(since: before)
        #expect(interval.totalOps == 100)
        #expect(interval.latency.count >= 64)
        // Past the budget, one operation in 32 is timed: 64 + 3,200 / 32.
        let second = map.counters.snapshot()
        for key in 0..<3_200 { _ = map.get(key % 1_000) }
        let busy = map.counters.snapshot().delta(since: second)
        #expect(busy.totalOps == 3_200)
        #expect(busy.latency.count >= 150 && busy.latency.count <= 170)
    }

    @Test("Counts are exact with more threads than owned slots (some share a block)", .timeLimit(.minutes(1)))
    func manyThreadsCountExactly() async throws {
        let map = LiveMap<Int, Int>(configuration: .init(strategy: .sharded, latencySampleInterval: 4))
        let arrived = Atomic<Int>(0)
        let threads = 72
        await runThreads(threads) { thread in
            for step in 0..<500 { try? map.put(thread * 1_000 + step, step) }
            // Stay alive until every thread has counted, so that more than 64 hold slots at once.
            arrived.add(1, ordering: .acquiringAndReleasing)
            while arrived.load(ordering: .acquiring) < threads { usleep(100) }
            for step in 0..<500 { _ = map.get(thread * 1_000 + step) }
        }
        let totals = map.counters.snapshot()
        #expect(totals.count(.put, .ok) == UInt64(threads * 500))
        #expect(totals.count(.get, .ok) == UInt64(threads * 500))
    }

    @Test("Counters can be switched off")
    func off() throws {
        let map = LiveMap<Int, Int>(configuration: .init(countersEnabled: false))
        try map.put(1, 1)
        #expect(map.counters.snapshot().totalOps == 0)
    }
}
