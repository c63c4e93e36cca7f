import MapSchema
import Rollout
import Testing

@Suite("Rollout analysis")
struct RolloutAnalysisTests {
    static let policy = RolloutPolicy(
        interval: .seconds(1),
        minOps: 100,
        failureLimit: 3,
        maxErrorRate: 0.01,
        maxFaults: 0,
        maxP99Latency: .milliseconds(2)
    )

    static let healthy = IntervalSample(ops: 1000, errors: 2, faults: 0, p99: .microseconds(500))
    static let erroring = IntervalSample(ops: 1000, errors: 420, faults: 0, p99: .microseconds(500))
    static let quiet = IntervalSample(ops: 10, errors: 10, faults: 0, p99: .milliseconds(50))

    /// Drives an analysis one interval per sample with a manual clock; returns every decision.
    static func run(
        _ samples: [IntervalSample],
        policy: RolloutPolicy = policy,
        window: Duration = .seconds(60)
    ) -> (RolloutAnalysis, [RolloutAnalysis.Decision]) {
        let clock = ManualRolloutClock()
        var analysis = RolloutAnalysis(policy: policy, startedAt: clock.now, window: window)
        var decisions: [RolloutAnalysis.Decision] = []
        for sample in samples {
            clock.advance(by: policy.interval)
            decisions.append(analysis.evaluate(sample, at: clock.now))
        }
        return (analysis, decisions)
    }

    @Test("A healthy interval passes and the version keeps being judged")
    func healthyIntervalPasses() {
        let (analysis, decisions) = Self.run([Self.healthy])
        #expect(decisions == [.continue(.pass)])
        #expect(analysis.tally.passed == 1)
        #expect(analysis.tally.consecutiveFailures == 0)
        #expect(!analysis.isDecided)
    }

    @Test("An error rate over the threshold fails the check and says so")
    func errorRateFails() {
        let (analysis, decisions) = Self.run([Self.erroring])
        #expect(decisions == [.continue(.fail(reasons: ["error rate 0.42 > 0.01"]))])
        #expect(analysis.tally.failed == 1)
        #expect(analysis.tally.consecutiveFailures == 1)
    }

    @Test("Faults over max_faults fail the check")
    func faultsFail() {
        let sample = IntervalSample(ops: 1000, errors: 0, faults: 1, p99: .microseconds(100))
        let (_, decisions) = Self.run([sample])
        #expect(decisions == [.continue(.fail(reasons: ["faults 1 > 0"]))])
    }

    @Test("Too few timed operations make the latency criterion inconclusive: it cannot fail the check")
    func sparseLatencyIsInconclusive() {
        let few = RolloutAnalysis.minimumLatencySamples - 1
        // A slow p99 from 49 timings: no failure, and no pass either (latency was not judged).
        let slowSparse = IntervalSample(ops: 1000, errors: 0, faults: 0, p99: .milliseconds(10), latencySamples: few)
        #expect(RolloutAnalysis.judge(slowSparse, against: Self.policy) == .inconclusive)
        // The same p99 from 50 timings fails.
        let slowEnough = IntervalSample(ops: 1000, errors: 0, faults: 0, p99: .milliseconds(10), latencySamples: few + 1)
        #expect(RolloutAnalysis.judge(slowEnough, against: Self.policy) == .fail(reasons: ["p99 latency 10ms > 2ms"]))
        // Other criteria are still judged in a sparse interval.
        let erroringSparse = IntervalSample(ops: 1000, errors: 500, faults: 0, p99: .milliseconds(10), latencySamples: 3)
        #expect(RolloutAnalysis.judge(erroringSparse, against: Self.policy) == .fail(reasons: ["error rate 0.5 > 0.01"]))
        // Without a latency threshold, a sparse interval with enough operations passes.
        var noLatency = Self.policy
        noLatency.maxP99Latency = nil
        #expect(RolloutAnalysis.judge(slowSparse, against: noLatency) == .pass)
        // Sparse checks neither add to nor reset the consecutive failures.
        let slow = IntervalSample(ops: 1000, errors: 0, faults: 0, p99: .milliseconds(10), latencySamples: 500)
        let (analysis, decisions) = Self.run([slow, slowSparse, slow, slowSparse, slow])
        #expect(analysis.tally.inconclusive == 2)
        if case .rollback = decisions.last {} else { Issue.record("expected a rollback after three slow checks, got \(decisions)") }
    }

    @Test("A p99 latency over the threshold fails the check")
    func latencyFails() {
        let sample = IntervalSample(ops: 1000, errors: 0, faults: 0, p99: .microseconds(2500))
        let (_, decisions) = Self.run([sample])
        #expect(decisions == [.continue(.fail(reasons: ["p99 latency 2.5ms > 2ms"]))])
    }

    @Test("Every threshold crossed is named in one failed check")
    func severalReasons() {
        let sample = IntervalSample(ops: 1000, errors: 500, faults: 3, p99: .milliseconds(10))
        #expect(
            RolloutAnalysis.judge(sample, against: Self.policy)
                == .fail(reasons: ["faults 3 > 0", "error rate 0.5 > 0.01", "p99 latency 10ms > 2ms"])
        )
    }

    @Test("Values at the thresholds pass: limits are inclusive")
    func thresholdsAreInclusive() {
        let sample = IntervalSample(ops: 100, errors: 1, faults: 0, p99: .milliseconds(2))
        #expect(RolloutAnalysis.judge(sample, against: Self.policy) == .pass)
    }

    @Test("Unset thresholds are not checked")
    func unsetThresholdsAreUnchecked() {
        let lenient = RolloutPolicy(minOps: 10, failureLimit: 1, maxErrorRate: nil, maxFaults: 0, maxP99Latency: nil)
        let sample = IntervalSample(ops: 100, errors: 100, faults: 0, p99: .seconds(5))
        #expect(RolloutAnalysis.judge(sample, against: lenient) == .pass)
    }

    @Test("Fewer ops than min_ops is inconclusive, however bad the error rate and latency")
    func lowTrafficIsInconclusive() {
        let (analysis, decisions) = Self.run([Self.quiet, .idle])
        #expect(decisions == [.continue(.inconclusive), .continue(.inconclusive)])
        #expect(analysis.tally.inconclusive == 2)
        #expect(analysis.tally.failed == 0)
    }

    @Test("Faults fail a check even below min_ops: a fault is never the caller's")
    func faultsCountBelowMinOps() {
        let sample = IntervalSample(ops: 3, errors: 0, faults: 1, p99: nil)
        #expect(RolloutAnalysis.judge(sample, against: Self.policy) == .fail(reasons: ["faults 1 > 0"]))
    }

    @Test("Inconclusive checks neither add to nor reset the consecutive failures")
    func inconclusiveKeepsTheCount() {
        let (analysis, decisions) = Self.run([Self.erroring, Self.quiet, Self.erroring, .idle, Self.erroring])
        #expect(decisions.last == .rollback(reason: "3 consecutive failed checks: error rate 0.42 > 0.01"))
        #expect(analysis.tally.failed == 3)
        #expect(analysis.tally.inconclusive == 2)
    }

    @Test("Flapping (fail, pass, fail) does not roll back with failure_limit 2")
    func flappingDoesNotRollBack() {
        var policy = Self.policy
        policy.failureLimit = 2
        let (analysis, decisions) = Self.run([Self.erroring, Self.healthy, Self.erroring, Self.healthy, Self.erroring], policy: policy)
        #expect(!decisions.contains { if case .rollback = $0 { true } else { false } })
        #expect(analysis.tally.consecutiveFailures == 1)
        #expect(analysis.tally.failed == 3)
        #expect(analysis.tally.passed == 2)
    }

    @Test("Three consecutive failed checks roll back with failure_limit 3, not before")
    func consecutiveFailuresRollBack() {
        let (analysis, decisions) = Self.run([Self.healthy, Self.erroring, Self.erroring, Self.erroring])
        #expect(
            decisions == [
                .continue(.pass),
                .continue(.fail(reasons: ["error rate 0.42 > 0.01"])),
                .continue(.fail(reasons: ["error rate 0.42 > 0.01"])),
                .rollback(reason: "3 consecutive failed checks: error rate 0.42 > 0.01"),
            ]
        )
        #expect(analysis.isDecided)
    }

    @Test("Once rolled back, later checks change nothing")
    func decisionIsFinal() {
        let (decided, decisions) = Self.run([Self.erroring, Self.erroring, Self.erroring])
        var analysis = decided
        let rollback = decisions.last
        let tally = analysis.tally
        #expect(analysis.evaluate(Self.healthy, at: RolloutInstant(offset: .seconds(3600))) == rollback)
        #expect(analysis.tally == tally)
    }

    @Test("The window passing with no rollback promotes the version")
    func windowExpiryPromotes() {
        let (analysis, decisions) = Self.run(
            [Self.healthy, Self.erroring, Self.healthy, Self.quiet, Self.erroring],
            window: .seconds(5)
        )
        #expect(decisions.prefix(4).allSatisfy { if case .continue = $0 { true } else { false } })
        #expect(decisions.last == .promote)
        #expect(analysis.outcome == .promote)
        #expect(analysis.lastCheck == .fail(reasons: ["error rate 0.42 > 0.01"]))
    }

    @Test("A failed check that reaches the limit at the window's end rolls back rather than promotes")
    func rollbackWinsAtTheWindowEnd() {
        var policy = Self.policy
        policy.failureLimit = 2
        let (_, decisions) = Self.run([Self.erroring, Self.erroring], policy: policy, window: .seconds(2))
        #expect(decisions.last == .rollback(reason: "2 consecutive failed checks: error rate 0.42 > 0.01"))
    }

    @Test("The next check is one interval later, clamped to the window's end")
    func nextCheckIsClamped() {
        let analysis = RolloutAnalysis(policy: Self.policy, startedAt: RolloutInstant(offset: .seconds(10)), window: .milliseconds(2500))
        #expect(analysis.nextCheck(after: RolloutInstant(offset: .seconds(11))) == RolloutInstant(offset: .seconds(12)))
        #expect(analysis.nextCheck(after: RolloutInstant(offset: .seconds(12))) == RolloutInstant(offset: .milliseconds(12500)))
        #expect(analysis.remainingWindow(at: RolloutInstant(offset: .seconds(11))) == .milliseconds(1500))
        #expect(analysis.remainingWindow(at: RolloutInstant(offset: .seconds(20))) == .zero)
    }

    @Test("An unclean exit during the window rolls back at start when max_faults is 0")
    func startupFaultRollsBack() {
        var analysis = RolloutAnalysis(policy: Self.policy, startedAt: .zero, window: .seconds(60))
        let decision = analysis.recordStartupFaults(1, at: .zero)
        #expect(decision == .rollback(reason: "unclean exit during the rollback window: 1 fault > max_faults 0"))
        #expect(analysis.isDecided)
        #expect(analysis.evaluate(Self.healthy, at: RolloutInstant(offset: .seconds(1))) == decision)
    }

    @Test("Startup faults within max_faults are judged with the next check")
    func startupFaultsWithinLimitJoinTheNextCheck() {
        var policy = Self.policy
        policy.maxFaults = 1
        var analysis = RolloutAnalysis(policy: policy, startedAt: .zero, window: .seconds(60))
        #expect(analysis.recordStartupFaults(1, at: .zero) == .continue(.inconclusive))
        #expect(!analysis.isDecided)
        let oneMoreFault = IntervalSample(ops: 1000, errors: 0, faults: 1, p99: .microseconds(100))
        #expect(analysis.evaluate(oneMoreFault, at: RolloutInstant(offset: .seconds(1))) == .continue(.fail(reasons: ["faults 2 > 1"])))
        #expect(analysis.evaluate(oneMoreFault, at: RolloutInstant(offset: .seconds(2))) == .continue(.pass))
    }

    @Test("No startup faults change nothing")
    func noStartupFaults() {
        var analysis = RolloutAnalysis(policy: Self.policy, startedAt: .zero, window: .seconds(60))
        #expect(analysis.recordStartupFaults(0, at: .zero) == .continue(.inconclusive))
        #expect(analysis.tally == CheckTally())
    }

    @Test("A zero window promotes at the first check")
    func zeroWindow() {
        let (_, decisions) = Self.run([Self.healthy], window: .zero)
        #expect(decisions == [.promote])
    }
}
