/// A validated map schema: one YAML document of the schema directory.
///
/// Every field has its default applied, so consumers never look at what the
/// file left out. Values are only made by ``SchemaDecoder``, which checks every
/// rule of the specification; code that builds one by hand (tests, an
/// embedding service) gets the same defaults from ``init(name:version:keyType:valueType:)``.
public struct MapSchema: Sendable, Hashable {
    /// `^[a-z][a-z0-9_]{0,62}$`, unique in a directory.
    public var name: String
    public var version: SemanticVersion
    public var description: String?
    public var keyType: KeyType
    public var valueType: ValueType
    /// Record fields in file order; empty unless `valueType` is `.record`.
    public var fields: [RecordField]
    public var strategy: Strategy
    /// Number of shards (power of two, 1...4096); meaningful for `.sharded` only, 64 by default.
    public var shards: Int
    public var capacity: Capacity?
    /// An entry expires this long after its last write.
    public var ttl: Duration?
    public var batch: BatchPolicy
    public var rollbackWindow: Duration
    public var rollout: RolloutPolicy
    public var circuitBreaker: CircuitBreakerPolicy?
    /// Present only when the caller allowed fault injection while decoding.
    public var faultInjection: FaultInjection?

    public init(
        name: String,
        version: SemanticVersion,
        keyType: KeyType,
        valueType: ValueType,
        fields: [RecordField] = [],
        strategy: Strategy = .sharded,
        shards: Int = 64,
        capacity: Capacity? = nil,
        ttl: Duration? = nil,
        batch: BatchPolicy = BatchPolicy(),
        rollbackWindow: Duration = .seconds(300),
        rollout: RolloutPolicy = RolloutPolicy(),
        circuitBreaker: CircuitBreakerPolicy? = nil,
        faultInjection: FaultInjection? = nil,
        description: String? = nil
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.keyType = keyType
        self.valueType = valueType
        self.fields = fields
        self.strategy = strategy
        self.shards = shards
        self.capacity = capacity
        self.ttl = ttl
        self.batch = batch
        self.rollbackWindow = rollbackWindow
        self.rollout = rollout
        self.circuitBreaker = circuitBreaker
        self.faultInjection = faultInjection
    }
}

/// The type of a map's keys.
public enum KeyType: String, Sendable, Hashable, CaseIterable, Codable {
    case string
    case int64
    case uint64
    case uuid
}

/// A scalar type usable as a value type and as a record field type.
public enum ScalarType: String, Sendable, Hashable, CaseIterable, Codable {
    case string
    case int64
    case uint64
    case double
    case bool
    /// Arbitrary bytes; base64 in JSON.
    case bytes
    /// Any JSON value.
    case json
}

/// The type of a map's values.
public enum ValueType: Sendable, Hashable, CustomStringConvertible {
    case scalar(ScalarType)
    /// A record declared under `fields`; the name is the one the file gave.
    case record(String)
    /// A qualified external type name such as `github.com/ecom/order-core/internal/model.User`.
    /// The daemon stores its values as opaque JSON; an embedding service binds it to a `Codable` type.
    case external(String)

    public var description: String {
        switch self {
        case .scalar(let scalar): scalar.rawValue
        case .record(let name): name
        case .external(let name): name
        }
    }
}

/// One field of a record value type.
public struct RecordField: Sendable, Hashable {
    public var name: String
    public var type: ScalarType
    /// Written with a trailing `?`: the field may be absent or null.
    public var isOptional: Bool

    public init(name: String, type: ScalarType, isOptional: Bool = false) {
        self.name = name
        self.type = type
        self.isOptional = isOptional
    }
}

/// How a live map is made safe for concurrent use.
public enum Strategy: String, Sendable, Hashable, CaseIterable, Codable {
    /// One lock.
    case mutex
    /// Readers share the lock.
    case rwlock
    /// 2^k shards picked by hash bits, one lock each.
    case sharded
    /// Readers take an immutable snapshot without locking; writers copy on write.
    case snapshot
    /// Writes are queued to one writer and applied in batches.
    case serialized
}

/// Limits on a map's size and on its keys and values.
public struct Capacity: Sendable, Hashable {
    public enum OnFull: String, Sendable, Hashable, CaseIterable, Codable {
        /// A write that would add an entry past `maxEntries` is refused (an error).
        case reject
        /// The least recently used entry is evicted to make room.
        case evictLRU = "evict_lru"
    }

    public var maxEntries: Int?
    public var onFull: OnFull
    public var maxKeyBytes: Int?
    public var maxValueBytes: Int?

    public init(maxEntries: Int? = nil, onFull: OnFull = .reject, maxKeyBytes: Int? = nil, maxValueBytes: Int? = nil) {
        self.maxEntries = maxEntries
        self.onFull = onFull
        self.maxKeyBytes = maxKeyBytes
        self.maxValueBytes = maxValueBytes
    }
}

/// Batching of the `serialized` strategy's single writer.
public struct BatchPolicy: Sendable, Hashable {
    public var maxSize: Int
    public var maxDelay: Duration

    public init(maxSize: Int = 256, maxDelay: Duration = .milliseconds(2)) {
        self.maxSize = maxSize
        self.maxDelay = maxDelay
    }
}

/// How a new version is judged during its rollback window.
public struct RolloutPolicy: Sendable, Hashable {
    public enum Standby: String, Sendable, Hashable, CaseIterable, Codable {
        /// The predecessor is kept current by writing to it too: a rollback is a switch.
        case warm
        /// Only the predecessor's schema is kept: a rollback copies the data back.
        case cold
    }

    public var standby: Standby
    public var interval: Duration
    /// Fewer operations than this in an interval make the check inconclusive.
    public var minOps: Int
    /// Consecutive failed checks that trigger the rollback.
    public var failureLimit: Int
    /// errors / ops in the interval; unchecked when nil.
    public var maxErrorRate: Double?
    /// Faults in the interval.
    public var maxFaults: Int
    /// p99 of map operations in the interval; unchecked when nil.
    public var maxP99Latency: Duration?
    /// Queries against a Prometheus server, judged beside the counters each interval (SPEC §8.1).
    public var queries: [RolloutQuery]

    public init(
        standby: Standby = .warm,
        interval: Duration = .seconds(1),
        minOps: Int = 100,
        failureLimit: Int = 3,
        maxErrorRate: Double? = nil,
        maxFaults: Int = 0,
        maxP99Latency: Duration? = nil,
        queries: [RolloutQuery] = []
    ) {
        self.standby = standby
        self.interval = interval
        self.minOps = minOps
        self.failureLimit = failureLimit
        self.maxErrorRate = maxErrorRate
        self.maxFaults = maxFaults
        self.maxP99Latency = maxP99Latency
        self.queries = queries
    }
}

/// Refuses writes for `cooldown` once `openAfterFaults` faults happen within `window`.
public struct CircuitBreakerPolicy: Sendable, Hashable {
    public var openAfterFaults: Int
    public var window: Duration
    public var cooldown: Duration

    public init(openAfterFaults: Int = 5, window: Duration = .seconds(10), cooldown: Duration = .seconds(30)) {
        self.openAfterFaults = openAfterFaults
        self.window = window
        self.cooldown = cooldown
    }
}

/// Deliberate misbehaviour, accepted only when the daemon runs with `--enable-fault-injection`.
public struct FaultInjection: Sendable, Hashable {
    /// Probability that an operation fails with an error (the caller's kind of failure).
    public var errorRate: Double
    /// Probability that an operation fails with a fault (the engine's kind of failure).
    public var faultRate: Double
    /// Added to every operation.
    public var latency: Duration?
    /// The process exits uncleanly after this many operations on the map.
    public var crashAfterOps: Int?

    public init(errorRate: Double = 0, faultRate: Double = 0, latency: Duration? = nil, crashAfterOps: Int? = nil) {
        self.errorRate = errorRate
        self.faultRate = faultRate
        self.latency = latency
        self.crashAfterOps = crashAfterOps
    }
}
