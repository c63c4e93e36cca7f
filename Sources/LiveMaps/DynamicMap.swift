import MapSchema
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What ``DynamicMap/load(_:)`` kept and dropped.
public struct LoadReport: Sendable, Hashable {
    /// Entries stored.
    public var loaded: Int
    /// Entries dropped, by reason (`"key_type"`, `"value_type"`, `"max_key_bytes"`, `"max_value_bytes"`, `"max_entries"`).
    public var dropped: [String: Int]

    public init(loaded: Int = 0, dropped: [String: Int] = [:]) {
        self.loaded = loaded
        self.dropped = dropped
    }

    /// All dropped entries.
    public var droppedCount: Int { dropped.values.reduce(0, +) }
}

/// The daemon's map: keys and values as they travel over JSON, checked against a validated schema.
///
/// Keys are parsed per `key_type`; values are checked per `value_type` (scalars, `bytes` as base64
/// strings, `json`, records with optional fields and no unknown fields, external types as any JSON).
/// Bad input is a counted error, never a crash. When the schema carries `fault_injection`,
/// every user operation may sleep, fail with an `injected` error, fail with a `fault`, or end the
/// process uncleanly after `crash_after_ops` operations.
public final class DynamicMap: Sendable {
    /// The schema this instance was built from.
    public let schema: MapSchema
    let map: LiveMap<MapKey, JSONValue>
    let validator: ValueValidator
    let operations = Atomic<Int>(0)

    /// Builds an empty map for a validated schema.
    public init(schema: MapSchema, clock: any MapClock = SystemMapClock()) {
        self.schema = schema
        self.validator = ValueValidator(schema: schema)
        var configuration = LiveMap<MapKey, JSONValue>.Configuration(schema: schema, clock: clock)
        configuration.keyByteCount = { $0.byteCount }
        configuration.valueByteCount = { $0.serializedCount }
        // Memory is counted as it is held (buffers, long strings), while max_value_bytes stays in JSON bytes.
        configuration.valueHeapByteCount = { $0.estimatedHeapBytes }
        configuration.countsPayloadBytes = true
        // The daemon's operations cost microseconds (HTTP); time every one for exact p99s.
        configuration.latencySampleInterval = 1
        self.map = LiveMap(configuration: configuration)
    }

    /// Counters of this instance.
    public var counters: MapCounters { map.counters }
    /// Entries stored (see ``LiveMap/count``).
    public var count: Int { map.count }
    /// Bytes held, including key and value payloads.
    public var estimatedBytes: Int { map.estimatedBytes }

    /// Parses a key from a URL path segment (already percent-decoded); a bad key is counted as an error of `op`.
    public func parseKey(_ text: String, for op: OpKind = .get) throws(MapError) -> MapKey {
        do {
            return try MapKey(parsing: text, as: schema.keyType)
        } catch {
            counters.record(op: op, result: .error, nanoseconds: 0)
            throw error
        }
    }

    func checkKey(_ key: MapKey, for op: OpKind) throws(MapError) {
        guard key.keyType == schema.keyType else {
            counters.record(op: op, result: .error, nanoseconds: 0)
            throw .badKey("expected a \(schema.keyType.rawValue) key, got \(key.keyType.rawValue)")
        }
    }

    /// Applies `fault_injection` before a user operation.
    /// - Returns: the operation's start time, so that injected latency shows in its measured latency.
    func inject(_ op: OpKind) throws(MapError) -> UInt64 {
        let start = monotonicNanoseconds()
        guard let injection = schema.faultInjection else { return start }
        if let limit = injection.crashAfterOps {
            if operations.wrappingAdd(1, ordering: .relaxed).newValue > limit {
                // An unclean exit on purpose: no atexit handlers, no clean-shutdown marker.
                _exit(134)
            }
        }
        if let latency = injection.latency {
            let nanoseconds = latency.nanosecondsClamped
            var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0 { request = remaining }
        }
        if injection.errorRate > 0, Double.random(in: 0..<1) < injection.errorRate {
            counters.record(op: op, result: .error, nanoseconds: monotonicNanoseconds() - start)
            throw .injected()
        }
        if injection.faultRate > 0, Double.random(in: 0..<1) < injection.faultRate {
            counters.record(op: op, result: .fault, nanoseconds: monotonicNanoseconds() - start)
            throw .fault("injected fault (fault_injection.fault_rate)")
        }
        return start
    }

    func checkValue(_ value: JSONValue, for op: OpKind) throws(MapError) -> JSONValue {
        do {
            return try validator.check(value)
        } catch {
            counters.record(op: op, result: .error, nanoseconds: 0)
            throw error
        }
    }

    /// The value for `key`, or nil when absent.
    public func get(_ key: MapKey) throws(MapError) -> JSONValue? {
        try checkKey(key, for: .get)
        let start = try inject(.get)
        return map.get(key, start: start)
    }

    /// Checks and stores a value.
    ///
    /// - Throws: `bad_key`, `bad_value` (type or `max_value_bytes`), `capacity`, or an injected failure.
    public func put(_ key: MapKey, _ value: JSONValue) throws(MapError) {
        try checkKey(key, for: .put)
        let normalized = try checkValue(value, for: .put)
        let start = try inject(.put)
        try map.put(key, normalized, start: start)
    }

    /// Removes `key`; returns whether it was present.
    public func delete(_ key: MapKey) throws(MapError) -> Bool {
        try checkKey(key, for: .delete)
        let start = try inject(.delete)
        return map.delete(key, start: start) != nil
    }

    /// Whether `key` is present.
    public func contains(_ key: MapKey) throws(MapError) -> Bool {
        try checkKey(key, for: .contains)
        let start = try inject(.contains)
        return map.contains(key, start: start)
    }

    /// Atomically replaces `key`'s value with `new` (nil removes) when it currently equals `expected`
    /// (nil: absent); returns whether it did.
    public func compareAndSet(_ key: MapKey, expected: JSONValue?, new: JSONValue?) throws(MapError) -> Bool {
        try checkKey(key, for: .cas)
        let normalizedExpected = try expected.map { value throws(MapError) in try checkValue(value, for: .cas) }
        let normalizedNew = try new.map { value throws(MapError) in try checkValue(value, for: .cas) }
        let start = try inject(.cas)
        return try map.compareAndSet(key, where: { $0 == normalizedExpected }, new: normalizedNew, start: start)
    }

    /// A consistent point-in-time copy of the entries; not counted as a user operation, no fault injection.
    public func snapshot() -> [(MapKey, JSONValue)] { map.entries() }

    /// Removes expired entries now; returns how many.
    @discardableResult
    public func removeExpired() -> Int { map.removeExpired() }

    /// Stores entries carried over from another instance (a rebuild or a rollback copy): not counted as
    /// user operations and never fault-injected. Entries this schema refuses are dropped and reported.
    /// Their ttl starts again at the load.
    public func load(_ entries: some Sequence<(MapKey, JSONValue)>) -> LoadReport {
        var report = LoadReport()
        for (key, value) in entries {
            // One check per entry: the value is normalized once, and the byte limits are checked here.
            let (normalized, reason) = admit(key, value)
            if let reason {
                report.dropped[reason, default: 0] += 1
                continue
            }
            do {
                try map.putUncounted(key, normalized, checkingSizes: false)
                report.loaded += 1
            } catch {
                report.dropped["max_entries", default: 0] += 1
            }
        }
        return report
    }

    /// Why `newSchema` would drop an entry, or nil.
    func dropReason(_ key: MapKey, _ value: JSONValue, under newSchema: MapSchema? = nil, validator: ValueValidator? = nil) -> String? {
        admit(key, value, under: newSchema, validator: validator).reason
    }

    /// The value as `newSchema` (this map's by default) stores it, or why it drops the entry.
    func admit(_ key: MapKey, _ value: JSONValue, under newSchema: MapSchema? = nil, validator: ValueValidator? = nil)
        -> (value: JSONValue, reason: String?)
    {
        let schema = newSchema ?? self.schema
        let validator = validator ?? self.validator
        if key.keyType != schema.keyType { return (value, "key_type") }
        if let limit = schema.capacity?.maxKeyBytes, key.byteCount > limit { return (value, "max_key_bytes") }
        guard let normalized = try? validator.check(value, droppingUnknownFields: true) else { return (value, "value_type") }
        if let limit = schema.capacity?.maxValueBytes, normalized.serializedCount > limit { return (value, "max_value_bytes") }
        return (normalized, nil)
    }

    /// How many stored entries `newSchema`'s limits and types would drop, for the plan: keys or values it
    /// refuses, entries older than a shorter ttl, and entries over `max_entries` (with `reject` the
    /// newest do not fit; with `evict_lru` the oldest are evicted).
    ///
    /// Counted in place, shard by shard, a few hundred slots per lock acquisition (``LiveMap/visitEntries(_:)``):
    /// writers wait for one chunk, never for the whole map, and no entry is copied. While others write,
    /// the count is an estimate (each entry as it was at some moment of the scan).
    public func entriesDropped(by newSchema: MapSchema) -> Int {
        let newValidator = ValueValidator(schema: newSchema)
        let now = map.clock.now()
        let newTTL = newSchema.ttl?.nanosecondsClamped
        let oldTTL = schema.ttl?.nanosecondsClamped
        var dropped = 0
        var kept = 0
        map.visitEntries { key, value, writtenAt in
            if let oldTTL, writtenAt &+ oldTTL <= now {
                return  // already expired here: not an entry any more
            }
            if dropReason(key, value, under: newSchema, validator: newValidator) != nil {
                dropped += 1
            } else if let newTTL, oldTTL != nil, writtenAt &+ newTTL <= now {
                dropped += 1
            } else {
                kept += 1
            }
        }
        if let maxEntries = newSchema.capacity?.maxEntries, kept > maxEntries {
            dropped += kept - maxEntries
        }
        return dropped
    }
}
