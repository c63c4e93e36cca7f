public import MapSchema

/// Judges one version during its rollback window, one interval at a time.
///
/// A pure state machine: the controller's async shell reads the map's
/// counters every `policy.interval`, turns them into an ``IntervalSample`` and
/// calls ``evaluate(_:at:)``, which answers with a ``Decision``. Time comes in
/// as an argument, so tests replay any history with a manual clock.
///
/// The rules:
/// - A check **fails** when faults exceed `max_faults`, or, with at least
///   `min_ops` operations, when the error rate exceeds `max_error_rate` or the
///   p99 latency exceeds `max_p99_latency` (each only when set).
/// - Faults are judged **whatever the traffic**: a fault is never the caller's,
///   so one bad write in a quiet interval is as telling as in a busy one (and
///   the spec watches every version for faults). Only the error rate and the
///   latency need `min_ops` to mean anything.
/// - Otherwise, fewer than `min_ops` operations make the check
///   **inconclusive**: it neither adds to nor resets the consecutive failures.
/// - The p99 needs samples too: latency is sampled, and a p99 of a handful of
///   timings is one slow operation. With fewer than ``minimumLatencySamples``
///   timed operations the latency criterion is inconclusive: it cannot fail the
///   check, and a check that nothing failed is then inconclusive rather than a
///   pass (an unjudged latency must not reset earlier latency failures).
/// - `failure_limit` consecutive failed checks **roll back**.
/// - When the window has passed and the check made at that moment did not roll
///   back, the version is **promoted**.
/// - Once decided (rolled back or promoted) the analysis is over: later calls
///   return the same decision and change nothing.
///
/// Crash loops: an unclean exit while the version was in its window is a fault
/// of that version. ``recordStartupFaults(_:at:)`` judges them at once.
public struct RolloutAnalysis: Sendable, Hashable {
    /// What to do after a check.
    public enum Decision: Sendable, Hashable {
        /// Keep judging; the check's verdict is attached.
        case `continue`(CheckResult)
        /// Roll back now; the reason names the threshold crossed.
        case rollback(reason: String)
        /// The window passed with no rollback: promote and release the predecessor.
        case promote
    }

    /// Timed operations an interval needs before its p99 can fail a check.
    public static let minimumLatencySamples: UInt64 = 50

    public let policy: RolloutPolicy
    /// When judging began (the switch to this version, or the restart that resumed its window).
    public let startedAt: RolloutInstant
    /// When the window ends and the version is promoted.
    public let endsAt: RolloutInstant

    /// Counts of the checks made so far.
    public private(set) var tally = CheckTally()
    /// The verdict of the latest check, nil before the first.
    public private(set) var lastCheck: CheckResult?
    /// Set once the analysis is over.
    public private(set) var outcome: Decision?
    /// Startup faults not yet judged, added to the next check's faults.
    public private(set) var pendingStartupFaults: UInt64 = 0

    /// - Parameters:
    ///   - policy: The version's `rollout` settings.
    ///   - startedAt: Now, when the version goes live (or when its window resumes after a restart).
    ///   - window: The version's `rollback_window`, or what is left of it after a restart.
    public init(policy: RolloutPolicy, startedAt: RolloutInstant, window: Duration) {
        self.policy = policy
        self.startedAt = startedAt
        self.endsAt = startedAt + max(window, .zero)
    }

    /// True once the version was rolled back or promoted.
    public var isDecided: Bool { outcome != nil }

    /// When the next check is due after one made at `now`: one interval later, but never past the window's end.
    public func nextCheck(after now: RolloutInstant) -> RolloutInstant {
        min(now + policy.interval, endsAt)
    }

    /// What is left of the window at `now` (zero once it has passed).
    public func remainingWindow(at now: RolloutInstant) -> Duration {
        max(now.duration(to: endsAt), .zero)
    }

    /// Judges one interval's deltas.
    ///
    /// - Parameters:
    ///   - sample: What the version's map did since the previous check.
    ///   - now: The instant of the check; at or after ``endsAt`` the check is the last one.
    /// - Returns: ``Decision/rollback(reason:)`` when this check makes
    ///   `failure_limit` consecutive failures, ``Decision/promote`` when the
    ///   window has passed without that, ``Decision/continue(_:)`` otherwise.
    public mutating func evaluate(_ sample: IntervalSample, at now: RolloutInstant) -> Decision {
        evaluate(sample, queries: [], at: now)
    }

    /// ``evaluate(_:at:)`` with the outcomes of the rollout's `queries` for the same interval.
    public mutating func evaluate(_ sample: IntervalSample, queries: [RolloutQueryOutcome], at now: RolloutInstant) -> Decision {
        if let outcome { return outcome }
        var sample = sample
        sample.faults &+= pendingStartupFaults
        pendingStartupFaults = 0
        let result = RolloutQueryOutcome.combine(Self.judge(sample, against: policy), queries)
        lastCheck = result
        switch result {
        case .pass:
            tally.passed += 1
            tally.consecutiveFailures = 0
        case .inconclusive:
            tally.inconclusive += 1
        case .fail(let reasons):
            tally.failed += 1
            tally.consecutiveFailures += 1
            if tally.consecutiveFailures >= max(policy.failureLimit, 1) {
                let count = tally.consecutiveFailures
                let decision = Decision.rollback(
                    reason: "\(count) consecutive failed check\(count == 1 ? "" : "s"): " + reasons.joined(separator: "; ")
                )
                outcome = decision
                return decision
            }
        }
        if now >= endsAt {
            outcome = .promote
            return .promote
        }
        return .continue(result)
    }

    /// Counts unclean exits of the process during this version's window as faults of the version.
    ///
    /// More than `max_faults` of them roll back at once, without waiting for
    /// `failure_limit` checks: a crash loop discards the in-memory count of
    /// consecutive failures at every restart, so waiting would serve the bad
    /// version until it crashes again, forever. Fewer are added to the faults
    /// of the next check. Call it before serving anything.
    ///
    /// - Parameters:
    ///   - count: Unclean exits while this version was in its window (usually 0 or 1).
    ///   - now: The instant of the start.
    /// - Returns: ``Decision/rollback(reason:)`` when `count` exceeds `max_faults`, else ``Decision/continue(_:)``
    ///   with ``CheckResult/inconclusive`` (nothing is judged yet).
    public mutating func recordStartupFaults(_ count: UInt64, at now: RolloutInstant) -> Decision {
        if let outcome { return outcome }
        guard count > 0 else { return .continue(.inconclusive) }
        if count > UInt64(policy.maxFaults) {
            tally.failed += 1
            tally.consecutiveFailures += 1
            let reason = "unclean exit during the rollback window: \(count) fault\(count == 1 ? "" : "s") > max_faults \(policy.maxFaults)"
            lastCheck = .fail(reasons: [reason])
            let decision = Decision.rollback(reason: reason)
            outcome = decision
            return decision
        }
        pendingStartupFaults &+= count
        return .continue(.inconclusive)
    }

    /// The verdict on one sample under `policy`, with no memory of earlier checks.
    public static func judge(_ sample: IntervalSample, against policy: RolloutPolicy) -> CheckResult {
        var reasons: [String] = []
        if sample.faults > UInt64(policy.maxFaults) {
            reasons.append("faults \(sample.faults) > \(policy.maxFaults)")
        }
        var conclusive = sample.ops >= UInt64(policy.minOps)
        if conclusive {
            if let maxErrorRate = policy.maxErrorRate {
                let rate = sample.ops == 0 ? 0 : Double(sample.errors) / Double(sample.ops)
                if rate > maxErrorRate {
                    reasons.append("error rate \(DurationFormat.ratio(rate)) > \(DurationFormat.ratio(maxErrorRate))")
                }
            }
            if let maxP99 = policy.maxP99Latency {
                if let samples = sample.latencySamples, samples < minimumLatencySamples {
                    conclusive = false  // too few timings to judge the p99
                } else if let p99 = sample.p99, p99 > maxP99 {
                    reasons.append("p99 latency \(DurationFormat.short(p99)) > \(DurationFormat.short(maxP99))")
                }
            }
        }
        if !reasons.isEmpty { return .fail(reasons: reasons) }
        return conclusive ? .pass : .inconclusive
    }
}
