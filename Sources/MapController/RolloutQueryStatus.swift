public import Rollout

/// The last outcome of one of a rollout's `queries` (SPEC §8.1): an element of `"queries"` in the map status.
public struct RolloutQueryStatus: Sendable, Hashable, Codable {
    /// The query's `name`.
    public var name: String
    /// The value Prometheus returned; null when it returned none (or a non-finite one).
    public var value: Double?
    /// `pass`, `fail` or `inconclusive`.
    public var result: String
    /// Why the query has no verdict (no data, a query or transport error); null when it was judged.
    public var error: String?

    public init(name: String, value: Double?, result: String, error: String?) {
        self.name = name
        self.value = value
        self.result = result
        self.error = error
    }

    public init(_ outcome: RolloutQueryOutcome) {
        self.init(
            name: outcome.name, value: outcome.value.flatMap { $0.isFinite ? $0 : nil }, result: outcome.result.label, error: outcome.error)
    }

    enum CodingKeys: String, CodingKey { case name, value, result, error }

    // Every key is always present, null when unknown, like the map status' own fixed fields.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(value, forKey: .value)
        try c.encode(result, forKey: .result)
        try c.encode(error, forKey: .error)
    }
}
