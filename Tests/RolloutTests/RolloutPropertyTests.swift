import MapSchema
import Rollout
import Testing

/// A small, seedable generator so that a failing seed can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Rollout properties")
struct RolloutPropertyTests {
    @Test(
        "Random check sequences: rollback exactly at the first run of failure_limit failures, counts add up, decisions are final",
        arguments: 0..<200)
    func analysisAgainstModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let policy = RolloutPolicy(
            interval: .milliseconds(Int64.random(in: 100...2000, using: &rng)),
            minOps: Int.random(in: 0...200, using: &rng),
            failureLimit: Int.random(in: 1...4, using: &rng),
            maxErrorRate: Bool.random(using: &rng) ? Double.random(in: 0...0.2, using: &rng) : nil,
            maxFaults: Int.random(in: 0...2, using: &rng),
            maxP99Latency: Bool.random(using: &rng) ? .microseconds(Int64.random(in: 100...5000, using: &rng)) : nil
        )
        let checks = Int.random(in: 1...40, using: &rng)
        let window = policy.interval * Int.random(in: 1...40, using: &rng)
        var analysis = RolloutAnalysis(policy: policy, startedAt: .zero, window: window)

        // The model: a streak of fails that inconclusive checks do not break.
        var streak = 0
        var expectedOutcome: RolloutAnalysis.Decision?
        var now = RolloutInstant.zero
        for _ in 0..<checks {
            now = now + policy.interval
            let ops = UInt64.random(in: 0...400, using: &rng)
            let sample = IntervalSample(
                ops: ops,
                errors: UInt64.random(in: 0...(ops / 4), using: &rng),
                faults: Int.random(in: 0..<6, using: &rng) == 0 ? UInt64.random(in: 1...3, using: &rng) : 0,
                p99: Bool.random(using: &rng) ? .microseconds(Int64.random(in: 50...6000, using: &rng)) : nil
            )
            let verdict = RolloutAnalysis.judge(sample, against: policy)
            let before = analysis.tally
            let decision = analysis.evaluate(sample, at: now)

            if let expectedOutcome {
                #expect(decision == expectedOutcome, "seed \(seed): a decided analysis must repeat its decision")
                #expect(analysis.tally == before, "seed \(seed): a decided analysis must not count")
                continue
            }
            // The verdict depends only on the sample and the thresholds.
            let conclusive = ops >= UInt64(policy.minOps)
            let faulty = sample.faults > UInt64(policy.maxFaults)
            switch verdict {
            case .inconclusive: #expect(!conclusive && !faulty, "seed \(seed)")
            case .fail(let reasons): #expect(!reasons.isEmpty && (conclusive || faulty), "seed \(seed)")
            case .pass: #expect(conclusive && !faulty, "seed \(seed)")
            }
            switch verdict {
            case .pass: streak = 0
            case .fail: streak += 1
            case .inconclusive: break
            }
            #expect(analysis.tally.consecutiveFailures == streak, "seed \(seed)")
            #expect(analysis.tally.total == before.total + 1, "seed \(seed)")
            if streak >= policy.failureLimit {
                guard case .rollback(let reason) = decision else {
                    Issue.record("seed \(seed): expected a rollback after \(streak) failures, got \(decision)")
                    return
                }
                #expect(reason.hasPrefix("\(streak) consecutive failed check"), "seed \(seed)")
                expectedOutcome = decision
            } else if now >= analysis.endsAt {
                #expect(decision == .promote, "seed \(seed)")
                expectedOutcome = .promote
            } else {
                #expect(decision == .continue(verdict), "seed \(seed)")
            }
        }
    }

    @Test("Random fault and write sequences: the breaker matches a model of its rules", arguments: 0..<200)
    func breakerAgainstModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let policy = CircuitBreakerPolicy(
            openAfterFaults: Int.random(in: 1...5, using: &rng),
            window: .milliseconds(Int64.random(in: 100...5000, using: &rng)),
            cooldown: .milliseconds(Int64.random(in: 100...5000, using: &rng))
        )
        var breaker = CircuitBreaker(policy: policy)
        var now = RolloutInstant.zero
        var faults: [RolloutInstant] = []  // the model's faults while closed
        var openUntil: RolloutInstant?
        var probeOutstanding = false
        var wasOpen = false
        for _ in 0..<300 {
            now = now + .milliseconds(Int64.random(in: 0...400, using: &rng))
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                let state = breaker.state(at: now)
                breaker.recordFault(at: now)
                if state == .closed {
                    faults = faults.filter { now - $0 < policy.window } + [now]
                    if faults.count >= policy.openAfterFaults {
                        #expect(breaker.state(at: now) == .open, "seed \(seed): \(faults.count) faults in window")
                        openUntil = now + policy.cooldown
                        faults = []
                        wasOpen = true
                    } else {
                        #expect(breaker.state(at: now) == .closed, "seed \(seed)")
                    }
                } else if state == .halfOpen {
                    #expect(breaker.state(at: now) == .open, "seed \(seed)")
                    openUntil = now + policy.cooldown
                    probeOutstanding = false
                }
            default:
                let stateBefore = breaker.state(at: now)
                let admission = breaker.allowWrite(at: now)
                switch admission {
                case .allowed:
                    #expect(stateBefore != .open, "seed \(seed): a write went through an open breaker")
                    if stateBefore == .halfOpen {
                        #expect(!probeOutstanding, "seed \(seed): two probes at once")
                        probeOutstanding = true
                    }
                    breaker.recordWriteResult(success: true, at: now)
                    probeOutstanding = false
                    if stateBefore == .halfOpen && breaker.state(at: now) == .closed { faults = [] }
                case .refused(let retryAfter):
                    #expect(stateBefore == .open, "seed \(seed): refused while \(stateBefore)")
                    #expect(retryAfter > .zero && retryAfter <= policy.cooldown, "seed \(seed)")
                    if let openUntil { #expect(now + retryAfter == openUntil, "seed \(seed)") }
                }
            }
        }
        if wasOpen { #expect(breaker.openings >= 1, "seed \(seed)") }
    }
}
