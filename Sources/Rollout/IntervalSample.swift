/// What one version's map did during one check interval: counter deltas, not totals.
///
/// The controller builds it from two snapshots of the map's counters, one
/// interval apart.
public struct IntervalSample: Sendable, Hashable {
    /// Operations of every kind and result.
    public var ops: UInt64
    /// Operations that failed by the caller's doing (bad key or value, capacity refused).
    public var errors: UInt64
    /// Failures that are not the caller's.
    public var faults: UInt64
    /// The interval's p99 operation latency; nil when nothing was measured.
    public var p99: Duration?
    /// How many operations were timed for ``p99`` (latency is sampled); nil when unknown, which
    /// counts as enough. Below ``RolloutAnalysis/minimumLatencySamples`` the p99 cannot fail a check.
    public var latencySamples: UInt64?

    public init(ops: UInt64, errors: UInt64 = 0, faults: UInt64 = 0, p99: Duration? = nil, latencySamples: UInt64? = nil) {
        self.ops = ops
        self.errors = errors
        self.faults = faults
        self.p99 = p99
        self.latencySamples = latencySamples
    }

    /// An interval in which nothing happened.
    public static let idle = IntervalSample(ops: 0)
}

/// The verdict on one interval.
public enum CheckResult: Sendable, Hashable, CustomStringConvertible {
    case pass
    /// One reason per threshold crossed, such as `error rate 0.42 > 0.01`.
    case fail(reasons: [String])
    /// Fewer than `min_ops` operations (or, when only the p99 could have failed it, fewer than
    /// ``RolloutAnalysis/minimumLatencySamples`` timed ones) and no threshold crossed: counts neither way.
    case inconclusive

    /// `pass`, `fail` or `inconclusive`: the `result` label of `mapctl_rollout_checks_total`.
    public var label: String {
        switch self {
        case .pass: "pass"
        case .fail: "fail"
        case .inconclusive: "inconclusive"
        }
    }

    public var description: String {
        switch self {
        case .pass, .inconclusive: label
        case .fail(let reasons): "fail: " + reasons.joined(separator: "; ")
        }
    }
}

/// Running counts of a version's checks, for status (`checks` in the API's map status).
public struct CheckTally: Sendable, Hashable {
    public var passed: Int = 0
    public var failed: Int = 0
    public var inconclusive: Int = 0
    /// Failed checks since the last passed one; inconclusive checks neither add nor reset.
    public var consecutiveFailures: Int = 0

    public init() {}

    /// All checks made.
    public var total: Int { passed + failed + inconclusive }
}
