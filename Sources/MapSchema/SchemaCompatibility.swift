/// How a change between two versions of a map affects the data it holds.
public enum ChangeKind: String, Sendable, Hashable, Comparable, Codable {
    /// Every stored entry carries across as it is.
    case compatible
    /// Entries may be dropped (the plan counts them with ``SchemaChange/loss``).
    case lossy
    /// Stored entries cannot carry across: the new instance starts empty, and a new major version is required.
    case breaking

    private var rank: Int {
        switch self {
        case .compatible: 0
        case .lossy: 1
        case .breaking: 2
        }
    }

    public static func < (lhs: ChangeKind, rhs: ChangeKind) -> Bool { lhs.rank < rhs.rank }
}

/// One classified difference between two schemas of the same map.
public struct SchemaChange: Sendable, Hashable, CustomStringConvertible {
    /// The schema path that changed: `ttl`, `capacity.max_entries`, `fields.age`, `key_type`.
    public var field: String
    public var kind: ChangeKind
    /// For people: `ttl 10m → 5m: entries older than 5m will expire`.
    public var summary: String
    /// For a lossy change: the new limit, which the controller checks stored entries against.
    public var loss: Loss?

    /// A limit that stored entries may exceed after the change.
    public enum Loss: Sendable, Hashable {
        /// Entries beyond this many are dropped (least recently used first, or refused).
        case maxEntries(Int)
        /// Entries whose value is larger are dropped.
        case maxValueBytes(Int)
        /// Entries whose key is larger are dropped.
        case maxKeyBytes(Int)
        /// Entries last written longer ago than this expire.
        case ttl(Duration)
    }

    public init(field: String, kind: ChangeKind, summary: String, loss: Loss? = nil) {
        self.field = field
        self.kind = kind
        self.summary = summary
        self.loss = loss
    }

    public var description: String { "\(kind.rawValue): \(summary)" }
}

/// Classifies changes between versions, as schema registries do.
public enum SchemaCompatibility {
    /// Every difference between `old` and `new` that matters to the live map.
    ///
    /// - Returns: The changes in schema order; empty when nothing but the version or description changed.
    public static func changes(from old: MapSchema, to new: MapSchema) -> [SchemaChange] {
        var changes: [SchemaChange] = []
        func add(_ field: String, _ kind: ChangeKind, _ summary: String, _ loss: SchemaChange.Loss? = nil) {
            changes.append(SchemaChange(field: field, kind: kind, summary: summary, loss: loss))
        }

        if old.keyType != new.keyType {
            add("key_type", .breaking, "key_type \(old.keyType.rawValue) → \(new.keyType.rawValue): stored keys cannot be converted")
        }
        compareValueTypes(old, new, add: add)

        if old.strategy != new.strategy {
            add("strategy", .compatible, "strategy \(old.strategy.rawValue) → \(new.strategy.rawValue)")
        }
        if new.strategy == .sharded, old.strategy == .sharded, old.shards != new.shards {
            add("shards", .compatible, "shards \(old.shards) → \(new.shards)")
        }
        compareCapacity(old.capacity, new.capacity, add: add)

        switch (old.ttl, new.ttl) {
        case (nil, let ttl?):
            add("ttl", .lossy, "ttl set to \(GoDuration.format(ttl)): entries older than \(GoDuration.format(ttl)) will expire", .ttl(ttl))
        case (let before?, let after?) where after < before:
            add(
                "ttl", .lossy,
                "ttl \(GoDuration.format(before)) → \(GoDuration.format(after)): entries older than \(GoDuration.format(after)) will expire",
                .ttl(after)
            )
        case (let before?, let after?) where after > before:
            add("ttl", .compatible, "ttl \(GoDuration.format(before)) → \(GoDuration.format(after))")
        case (let before?, nil):
            add("ttl", .compatible, "ttl \(GoDuration.format(before)) removed: entries no longer expire")
        default:
            break
        }

        if new.strategy == .serialized, old.strategy == .serialized, old.batch != new.batch {
            add(
                "batch", .compatible,
                "batch \(old.batch.maxSize)/\(GoDuration.format(old.batch.maxDelay)) → \(new.batch.maxSize)/\(GoDuration.format(new.batch.maxDelay))"
            )
        }
        if old.rollbackWindow != new.rollbackWindow {
            add(
                "rollback_window", .compatible,
                "rollback_window \(GoDuration.format(old.rollbackWindow)) → \(GoDuration.format(new.rollbackWindow))")
        }
        if old.rollout != new.rollout { add("rollout", .compatible, "rollout policy changed") }
        if old.circuitBreaker != new.circuitBreaker {
            let summary =
                switch (old.circuitBreaker, new.circuitBreaker) {
                case (nil, _): "circuit breaker added"
                case (_, nil): "circuit breaker removed"
                default: "circuit breaker changed"
                }
            add("circuit_breaker", .compatible, summary)
        }
        if old.faultInjection != new.faultInjection { add("fault_injection", .compatible, "fault injection changed") }
        return changes
    }

    /// The most severe kind among `changes`; nil when there are none.
    public static func overallKind(_ changes: [SchemaChange]) -> ChangeKind? {
        changes.map(\.kind).max()
    }

    /// A breaking change is refused unless the major version goes up.
    ///
    /// - Returns: The message to show when the change is refused, or nil.
    public static func refusal(from old: MapSchema, to new: MapSchema, changes: [SchemaChange]) -> String? {
        guard overallKind(changes) == .breaking, new.version.major <= old.version.major else { return nil }
        let reasons = changes.filter { $0.kind == .breaking }.map(\.summary).joined(separator: "; ")
        return "breaking change needs a new major version (\(old.version) → \(new.version)): \(reasons)"
    }

    private static func compareValueTypes(_ old: MapSchema, _ new: MapSchema, add: (String, ChangeKind, String, SchemaChange.Loss?) -> Void)
    {
        switch (old.valueType, new.valueType) {
        case (let before, .scalar(.json)) where before != .scalar(.json):
            add("value_type", .compatible, "value_type \(before) → json: values are kept as JSON", nil)
        case (.scalar(let before), .scalar(let after)) where before != after:
            add("value_type", .breaking, "value_type \(before.rawValue) → \(after.rawValue): stored values cannot be converted", nil)
        case (.external(let before), .external(let after)) where before != after:
            add("value_type", .breaking, "value_type \(before) → \(after): a different external type", nil)
        case (.record(let before), .record(let after)):
            if before != after { add("value_type", .compatible, "record \(before) renamed to \(after)", nil) }
            compareFields(old.fields, new.fields, add: add)
        case (let before, let after) where before != after:
            add("value_type", .breaking, "value_type \(before) → \(after): stored values cannot be converted", nil)
        default:
            break
        }
    }

    private static func compareFields(
        _ old: [RecordField], _ new: [RecordField], add: (String, ChangeKind, String, SchemaChange.Loss?) -> Void
    ) {
        let oldByName = Dictionary(old.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let newByName = Dictionary(new.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for field in old where newByName[field.name] == nil {
            add("fields.\(field.name)", .compatible, "field \(field.name) removed: stored values lose it", nil)
        }
        for field in new {
            let path = "fields.\(field.name)"
            guard let before = oldByName[field.name] else {
                if field.isOptional {
                    add(path, .compatible, "optional field \(field.name) added", nil)
                } else {
                    add(path, .breaking, "required field \(field.name) added: stored values do not have it", nil)
                }
                continue
            }
            if before.type != field.type {
                if field.type == .json {
                    add(path, .compatible, "field \(field.name) \(before.type.rawValue) → json", nil)
                } else {
                    add(
                        path, .breaking,
                        "field \(field.name) \(before.type.rawValue) → \(field.type.rawValue): stored values cannot be converted", nil)
                }
            }
            if before.isOptional && !field.isOptional {
                add(path, .breaking, "field \(field.name) made required: stored values may not have it", nil)
            } else if !before.isOptional && field.isOptional {
                add(path, .compatible, "field \(field.name) made optional", nil)
            }
        }
    }

    private static func compareCapacity(_ old: Capacity?, _ new: Capacity?, add: (String, ChangeKind, String, SchemaChange.Loss?) -> Void) {
        let before = old ?? Capacity()
        let after = new ?? Capacity()
        func limit(_ path: String, _ old: Int?, _ new: Int?, what: String, loss: (Int) -> SchemaChange.Loss) {
            switch (old, new) {
            case (nil, let value?):
                add(path, .lossy, "\(path) set to \(value): \(what)", loss(value))
            case (let previous?, let value?) where value < previous:
                add(path, .lossy, "\(path) \(previous) → \(value): \(what)", loss(value))
            case (let previous?, let value?) where value > previous:
                add(path, .compatible, "\(path) \(previous) → \(value)", nil)
            case (let previous?, nil):
                add(path, .compatible, "\(path) \(previous) removed", nil)
            default:
                break
            }
        }
        limit(
            "capacity.max_entries", before.maxEntries, after.maxEntries, what: "entries beyond the limit will be dropped",
            loss: { .maxEntries($0) })
        limit(
            "capacity.max_key_bytes", before.maxKeyBytes, after.maxKeyBytes, what: "entries with longer keys will be dropped",
            loss: { .maxKeyBytes($0) })
        limit(
            "capacity.max_value_bytes", before.maxValueBytes, after.maxValueBytes, what: "entries with larger values will be dropped",
            loss: { .maxValueBytes($0) }
        )
        if before.onFull != after.onFull {
            add("capacity.on_full", .compatible, "capacity.on_full \(before.onFull.rawValue) → \(after.onFull.rawValue)", nil)
        }
    }
}
