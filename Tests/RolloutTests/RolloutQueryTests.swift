import MapSchema
import Rollout
import Testing

@Suite("Rollout queries")
struct RolloutQueryTests {
    static let errors = RolloutQuery(name: "checkout_errors", prometheus: "x", max: 0.01)
    static let throughput = RolloutQuery(name: "throughput", prometheus: "y", min: 5)
    static let pass = RolloutQueryOutcome(name: "a", value: 0.001, error: nil, result: .pass)
    static let fail = RolloutQueryOutcome(name: "b", value: 0.5, error: nil, result: .fail(reasons: ["b 0.5 > max 0.01"]))
    static let noData = RolloutQueryOutcome.inconclusive("c", error: "the query returned no data")

    @Test("A value past max fails with the query's name, value and bound")
    func pastMaxFails() {
        let outcome = RolloutQueryOutcome.judging(0.042, for: Self.errors)
        #expect(outcome.result == .fail(reasons: ["checkout_errors 0.042 > max 0.01"]))
        #expect(outcome.value == 0.042)
        #expect(outcome.error == nil)
    }

    @Test("A value below min fails; at the bound it passes")
    func belowMinFails() {
        #expect(RolloutQueryOutcome.judging(4.5, for: Self.throughput).result == .fail(reasons: ["throughput 4.5 < min 5"]))
        #expect(RolloutQueryOutcome.judging(5, for: Self.throughput).result == .pass)
        #expect(RolloutQueryOutcome.judging(0.01, for: Self.errors).result == .pass)
    }

    @Test("Both bounds are checked")
    func bothBounds() {
        let band = RolloutQuery(name: "band", prometheus: "z", max: 10, min: 1)
        #expect(RolloutQueryOutcome.judging(5, for: band).result == .pass)
        #expect(RolloutQueryOutcome.judging(11, for: band).result == .fail(reasons: ["band 11 > max 10"]))
        #expect(RolloutQueryOutcome.judging(0.5, for: band).result == .fail(reasons: ["band 0.5 < min 1"]))
    }

    @Test("NaN is inconclusive with an error; +Inf is past any max")
    func nonFinite() {
        let nan = RolloutQueryOutcome.judging(.nan, for: Self.errors)
        #expect(nan.result == .inconclusive)
        #expect(nan.error?.contains("NaN") == true)
        #expect(RolloutQueryOutcome.judging(.infinity, for: Self.errors).result == .fail(reasons: ["checkout_errors +Inf > max 0.01"]))
    }

    @Test("Values are written with four significant digits")
    func valueFormat() {
        let outcome = RolloutQueryOutcome.judging(0.042016806722689, for: Self.errors)
        #expect(outcome.result == .fail(reasons: ["checkout_errors 0.04202 > max 0.01"]))
        let large = RolloutQueryOutcome.judging(1234.5678, for: RolloutQuery(name: "p", prometheus: "q", max: 1000))
        #expect(large.result == .fail(reasons: ["p 1235 > max 1000"]))
    }

    @Test("No queries: the counters' verdict as it is")
    func noQueries() {
        #expect(RolloutQueryOutcome.combine(.pass, []) == .pass)
        #expect(RolloutQueryOutcome.combine(.inconclusive, []) == .inconclusive)
        #expect(RolloutQueryOutcome.combine(.fail(reasons: ["faults 1 > 0"]), []) == .fail(reasons: ["faults 1 > 0"]))
    }

    @Test("Pass only when the counters and every query pass")
    func passNeedsAll() {
        #expect(RolloutQueryOutcome.combine(.pass, [Self.pass, Self.pass]) == .pass)
        #expect(RolloutQueryOutcome.combine(.inconclusive, [Self.pass]) == .inconclusive)
        #expect(RolloutQueryOutcome.combine(.pass, [Self.pass, Self.noData]) == .inconclusive)
    }

    @Test("Any failure fails, with every reason, the counters' first")
    func failCollectsReasons() {
        #expect(RolloutQueryOutcome.combine(.pass, [Self.pass, Self.fail]) == .fail(reasons: ["b 0.5 > max 0.01"]))
        #expect(RolloutQueryOutcome.combine(.inconclusive, [Self.noData, Self.fail]) == .fail(reasons: ["b 0.5 > max 0.01"]))
        let other = RolloutQueryOutcome(name: "d", value: 1, error: nil, result: .fail(reasons: ["d 1 < min 2"]))
        #expect(
            RolloutQueryOutcome.combine(.fail(reasons: ["faults 1 > 0"]), [Self.fail, Self.pass, other])
                == .fail(reasons: ["faults 1 > 0", "b 0.5 > max 0.01", "d 1 < min 2"]))
    }

    @Test("Failed queries count towards failure_limit; inconclusive ones neither add nor reset")
    func analysisCountsQueries() {
        let clock = ManualRolloutClock()
        let policy = RolloutPolicy(minOps: 10, failureLimit: 2, queries: [Self.errors])
        var analysis = RolloutAnalysis(policy: policy, startedAt: clock.now, window: .seconds(60))
        let healthy = IntervalSample(ops: 1000)
        clock.advance(by: .seconds(1))
        #expect(analysis.evaluate(healthy, queries: [Self.fail], at: clock.now) == .continue(.fail(reasons: ["b 0.5 > max 0.01"])))
        clock.advance(by: .seconds(1))
        #expect(analysis.evaluate(healthy, queries: [Self.noData], at: clock.now) == .continue(.inconclusive))
        #expect(analysis.tally.consecutiveFailures == 1)
        clock.advance(by: .seconds(1))
        #expect(
            analysis.evaluate(healthy, queries: [Self.fail], at: clock.now)
                == .rollback(reason: "2 consecutive failed checks: b 0.5 > max 0.01"))
    }

    @Test("A passing query after a failure resets the consecutive failures when the counters pass too")
    func passResets() {
        let clock = ManualRolloutClock()
        var analysis = RolloutAnalysis(policy: RolloutPolicy(minOps: 10, failureLimit: 2), startedAt: clock.now, window: .seconds(60))
        clock.advance(by: .seconds(1))
        _ = analysis.evaluate(IntervalSample(ops: 1000), queries: [Self.fail], at: clock.now)
        clock.advance(by: .seconds(1))
        #expect(analysis.evaluate(IntervalSample(ops: 1000), queries: [Self.pass], at: clock.now) == .continue(.pass))
        #expect(analysis.tally.consecutiveFailures == 0)
    }

    @Test("Placeholders are replaced by the map's name and the version")
    func substitution() {
        let query = RolloutQuery(
            name: "q", prometheus: #"sum(rate(x{map="{{map}}",version="{{version}}"}[30s])) / on() {{map}}_total"#, max: 1)
        #expect(
            query.expression(map: "orders", version: "1.2.0") == #"sum(rate(x{map="orders",version="1.2.0"}[30s])) / on() orders_total"#)
    }
}
