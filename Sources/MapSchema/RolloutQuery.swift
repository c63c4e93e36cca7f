/// One query of `rollout.queries` (SPEC §8.1): a PromQL expression judged against a bound each interval.
///
/// `{{map}}` and `{{version}}` in ``prometheus`` are replaced by the map's name and the version under
/// judgement before the query runs. At least one of ``max`` and ``min`` is set; the interval fails when
/// the query's value is above `max` or below `min`.
public struct RolloutQuery: Sendable, Hashable {
    /// Unique within the rollout; names the query in status, logs and failure reasons.
    public var name: String
    /// The PromQL expression, as written (placeholders not yet replaced).
    public var prometheus: String
    /// The interval fails when the value is greater than this.
    public var max: Double?
    /// The interval fails when the value is less than this.
    public var min: Double?

    public init(name: String, prometheus: String, max: Double? = nil, min: Double? = nil) {
        self.name = name
        self.prometheus = prometheus
        self.max = max
        self.min = min
    }

    /// ``prometheus`` with `{{map}}` and `{{version}}` replaced.
    public func expression(map: String, version: String) -> String {
        prometheus.replacing("{{map}}", with: map).replacing("{{version}}", with: version)
    }
}
