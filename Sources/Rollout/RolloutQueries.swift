public import MapSchema

/// Runs a rollout's `queries` (SPEC §8.1) for one interval; the daemon's is `PrometheusQueryEvaluator`.
///
/// An evaluator never throws: a query it cannot answer (no data, an error, a server that does not reply
/// in time) comes back ``CheckResult/inconclusive`` with the error, so that one interval's judgement
/// always gets one outcome per query.
public protocol RolloutQueryEvaluating: Sendable {
    /// One outcome per query, in the order given.
    ///
    /// - Parameters:
    ///   - queries: The live version's `rollout.queries`.
    ///   - map: The map's name, for `{{map}}`.
    ///   - version: The version under judgement, for `{{version}}`.
    func evaluate(_ queries: [RolloutQuery], map: String, version: String) async -> [RolloutQueryOutcome]
}

/// What one query said about one interval.
public struct RolloutQueryOutcome: Sendable, Hashable {
    /// The query's `name`.
    public var name: String
    /// The value the query returned; nil when it returned none.
    public var value: Double?
    /// Why there is no verdict (no data, a query error, a transport error); nil when the value was judged.
    public var error: String?
    /// Pass, fail (with a reason such as `checkout_errors 0.042 > max 0.01`) or inconclusive.
    public var result: CheckResult

    public init(name: String, value: Double?, error: String?, result: CheckResult) {
        self.name = name
        self.value = value
        self.error = error
        self.result = result
    }

    /// `value` judged against the query's bounds: past `max` or `min` fails, NaN is inconclusive.
    public static func judging(_ value: Double, for query: RolloutQuery) -> RolloutQueryOutcome {
        guard !value.isNaN else {
            return inconclusive(query.name, error: "no data: the query returned NaN (a ratio over no traffic?)")
        }
        var reasons: [String] = []
        if let max = query.max, value > max {
            reasons.append("\(query.name) \(format(value)) > max \(format(max))")
        }
        if let min = query.min, value < min {
            reasons.append("\(query.name) \(format(value)) < min \(format(min))")
        }
        return RolloutQueryOutcome(name: query.name, value: value, error: nil, result: reasons.isEmpty ? .pass : .fail(reasons: reasons))
    }

    /// No verdict for this interval, with the reason.
    public static func inconclusive(_ name: String, error: String, value: Double? = nil) -> RolloutQueryOutcome {
        RolloutQueryOutcome(name: name, value: value, error: error, result: .inconclusive)
    }

    /// The interval's verdict from the counters' and the queries'.
    ///
    /// Fails when anything fails, with every reason (the counters' first); passes only when the counters
    /// pass and every query passes; inconclusive otherwise. With no queries it is the counters' verdict.
    public static func combine(_ counters: CheckResult, _ queries: [RolloutQueryOutcome]) -> CheckResult {
        var reasons: [String] = []
        var allPass = counters == .pass
        if case .fail(let counterReasons) = counters { reasons += counterReasons }
        for outcome in queries {
            switch outcome.result {
            case .pass: break
            case .inconclusive: allPass = false
            case .fail(let queryReasons):
                allPass = false
                reasons += queryReasons.isEmpty ? ["\(outcome.name) failed"] : queryReasons
            }
        }
        if !reasons.isEmpty { return .fail(reasons: reasons) }
        return allPass ? .pass : .inconclusive
    }

    /// Four significant digits, no trailing zeros: `0.04202`, `0.01`, `1235`, `+Inf`.
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf") }
        guard value != 0 else { return "0" }
        var scale = 1.0
        while abs(value) * scale < 1000, scale < 1e15 { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return String(rounded)
    }
}
