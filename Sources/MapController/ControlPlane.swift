public import MapSchema

/// What the HTTP API and the command line ask of a controller.
///
/// The daemon's ``Controller`` implements it; the server's routes are written
/// against this protocol only, so that an embedding service can mount the same
/// routes on its own controller.
public protocol ControlPlane: Sendable {
    /// True once the first reconcile (of the watched directory and of the state restored at start) is done.
    var isReady: Bool { get async }

    /// Applies one or many YAML documents (`POST /v1/apply`).
    ///
    /// - Parameters:
    ///   - yaml: the request body.
    ///   - source: who sent it (`apply:<client>` or a file path).
    ///   - isDryRun: plan only.
    ///   - prune: drop maps that are live but absent from `yaml`.
    /// - Throws: ``ControlPlaneError`` for requests that cannot be planned at all (too large, not UTF-8).
    ///   Invalid documents are not thrown: they appear in the report's plan with their diagnostics.
    func apply(yaml: [UInt8], source: String, isDryRun: Bool, prune: Bool) async throws(ControlPlaneError) -> ApplyReport

    func statuses() async -> [MapStatus]
    func status(of name: String) async throws(ControlPlaneError) -> MapStatus
    func history(of name: String) async throws(ControlPlaneError) -> [HistoryEntry]

    /// Manual rollback to the predecessor, or to `version` from history.
    func rollback(name: String, to version: String?, reason: String?, source: String) async throws(ControlPlaneError) -> MapStatus

    // Entries. Keys arrive as percent-decoded path segments; values travel as JSON bytes.
    func getEntry(map: String, key: String) async throws(ControlPlaneError) -> [UInt8]
    func putEntry(map: String, key: String, json: [UInt8]) async throws(ControlPlaneError)
    func deleteEntry(map: String, key: String) async throws(ControlPlaneError)

    /// Everything `/metrics` exports, read at scrape time.
    func metricsSnapshot() async -> ControllerMetricsSnapshot
}

/// An error the API turns into a status code and a JSON body `{"error": {"code", "message"}}`.
public struct ControlPlaneError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// 400: a bad key, value, body or parameter.
        case badRequest = "bad_request"
        /// 404: no such map, key or version.
        case notFound = "not_found"
        /// 409: refused by the state of things (nothing to roll back to, same version with other content).
        case conflict
        /// 413: the body is over the limit.
        case tooLarge = "too_large"
        /// 422: the documents are invalid (diagnostics attached).
        case invalid
        /// 503: the circuit breaker is open (retryAfter set) or the controller is not ready.
        case unavailable
        /// 500: a failure inside the controller.
        case `internal`
    }

    public var kind: Kind
    /// A stable machine-readable code (`map_not_found`, `key_not_found`, `bad_key`, `breaker_open`, …).
    public var code: String
    public var message: String
    public var diagnostics: [Diagnostic]
    /// For 503 with Retry-After.
    public var retryAfter: Duration?

    public init(_ kind: Kind, code: String, message: String, diagnostics: [Diagnostic] = [], retryAfter: Duration? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.diagnostics = diagnostics
        self.retryAfter = retryAfter
    }

    public var httpStatus: Int {
        switch kind {
        case .badRequest: 400
        case .notFound: 404
        case .conflict: 409
        case .tooLarge: 413
        case .invalid: 422
        case .unavailable: 503
        case .internal: 500
        }
    }

    public var description: String { "\(code): \(message)" }
}

/// One live (or standby) instance's counters, for `/metrics`.
public struct MapMetricsSample: Sendable {
    public var map: String
    public var version: String
    public var strategy: String
    /// "live" or "standby".
    public var role: String
    /// (op, result, count) for every op kind and result, zeros included.
    public var ops: [(op: String, result: String, count: UInt64)]
    /// Cumulative histogram buckets of op latency, in seconds, ascending; the last is +Inf.
    public var latencyBuckets: [(upperBound: Double, cumulativeCount: UInt64)]
    public var latencySumSeconds: Double
    public var latencyCount: UInt64
    public var entries: Int
    public var bytes: Int
    public var contention: UInt64
    public var faults: UInt64
    public var evictions: UInt64
    public var expirations: UInt64
    public var breaker: BreakerState

    public init(
        map: String, version: String, strategy: String, role: String,
        ops: [(op: String, result: String, count: UInt64)],
        latencyBuckets: [(upperBound: Double, cumulativeCount: UInt64)], latencySumSeconds: Double, latencyCount: UInt64,
        entries: Int, bytes: Int, contention: UInt64, faults: UInt64, evictions: UInt64, expirations: UInt64,
        breaker: BreakerState
    ) {
        self.map = map
        self.version = version
        self.strategy = strategy
        self.role = role
        self.ops = ops
        self.latencyBuckets = latencyBuckets
        self.latencySumSeconds = latencySumSeconds
        self.latencyCount = latencyCount
        self.entries = entries
        self.bytes = bytes
        self.contention = contention
        self.faults = faults
        self.evictions = evictions
        self.expirations = expirations
        self.breaker = breaker
    }
}

/// The controller's own counters plus every instance's sample.
public struct ControllerMetricsSnapshot: Sendable {
    public var maps: [MapMetricsSample]
    /// mapctl_rollout_checks_total by (map, version, result ∈ pass|fail|inconclusive).
    public var rolloutChecks: [(map: String, version: String, result: String, count: UInt64)]
    /// mapctl_rollbacks_total by (map, reason); reason is a small set: `failed_checks`, `startup_faults`, `manual`.
    public var rollbacks: [(map: String, reason: String, count: UInt64)]
    /// mapctl_reconcile_total by result ∈ success|error|invalid|unchanged (all exported from the start).
    public var reconciles: [(result: String, count: UInt64)]
    /// mapctl_schema_invalid: files (documents) now invalid.
    public var schemaInvalid: Int

    public init(
        maps: [MapMetricsSample] = [],
        rolloutChecks: [(map: String, version: String, result: String, count: UInt64)] = [],
        rollbacks: [(map: String, reason: String, count: UInt64)] = [],
        reconciles: [(result: String, count: UInt64)] = [],
        schemaInvalid: Int = 0
    ) {
        self.maps = maps
        self.rolloutChecks = rolloutChecks
        self.rollbacks = rollbacks
        self.reconciles = reconciles
        self.schemaInvalid = schemaInvalid
    }
}
