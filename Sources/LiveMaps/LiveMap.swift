import MapSchema
import Synchronization

/// A typed, thread-safe, in-memory map for code that embeds the library.
///
/// One of five strategies (``MapSchema/Strategy``) makes it safe under any number of concurrent readers
/// and writers; all of them enforce the same limits: ttl (lazy expiry on access plus a bounded sweep on
/// writes, never a thread or timer per entry), `max_entries` with `reject` or `evict_lru`, and key and
/// value byte limits. Every operation is counted in ``counters``.
///
/// ```swift
/// let users = LiveMap<UInt64, String>(configuration: .init(strategy: .sharded, ttl: .seconds(600)))
/// try users.put(42, "ada")
/// users.get(42)  // "ada"
/// ```
public final class LiveMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// How a map is built: strategy, limits, clock and counters.
    public struct Configuration: Sendable {
        public var strategy: Strategy
        /// Shards of the `sharded` strategy, rounded up to a power of two; ignored by the others.
        public var shards: Int
        /// The most entries the map holds; nil for no limit.
        public var maxEntries: Int?
        /// What a new key does when the map holds `maxEntries`.
        public var onFull: Capacity.OnFull
        /// Keys larger than this (per ``keyByteCount``) are refused with `bad_key`.
        public var maxKeyBytes: Int?
        /// Values larger than this (per ``valueByteCount``) are refused with `bad_value`.
        public var maxValueBytes: Int?
        /// The size of a key against `maxKeyBytes`: by default UTF-8 length for `String`, else its inline size.
        public var keyByteCount: @Sendable (Key) -> Int
        /// The size of a value against `maxValueBytes`: by default UTF-8 length for `String`, else its inline size.
        public var valueByteCount: @Sendable (Value) -> Int
        /// Whether ``LiveMap/estimatedBytes`` adds the byte counts of stored keys and values
        /// (for values with out-of-line storage, such as strings); costs 4 bytes per slot.
        public var countsPayloadBytes: Bool
        /// The bytes a stored value holds outside its slot, for ``LiveMap/estimatedBytes``; nil counts
        /// ``valueByteCount``. Separate because a limit is stated in serialized bytes while memory is not.
        public var valueHeapByteCount: (@Sendable (Value) -> Int)?
        /// An entry expires this long after its last write; nil for never.
        public var ttl: Duration?
        /// Batching of the `serialized` strategy.
        public var batch: BatchPolicy
        /// The clock for ttl; inject a ``ManualMapClock`` in tests.
        public var clock: any MapClock
        /// Counting can be switched off only to measure what it costs.
        public var countersEnabled: Bool
        /// Time about one operation in this many (rounded up to a power of two) for the latency histogram,
        /// plus each thread's next ``MapCounters/adaptiveSamples`` after every counter snapshot; 1 times all.
        public var latencySampleInterval: Int
        /// Entries to make room for up front.
        public var minimumCapacity: Int

        public init(
            strategy: Strategy = .sharded,
            shards: Int = 64,
            maxEntries: Int? = nil,
            onFull: Capacity.OnFull = .reject,
            maxKeyBytes: Int? = nil,
            maxValueBytes: Int? = nil,
            ttl: Duration? = nil,
            batch: BatchPolicy = BatchPolicy(),
            clock: any MapClock = SystemMapClock(),
            countersEnabled: Bool = true,
            latencySampleInterval: Int = 32,
            minimumCapacity: Int = 0
        ) {
            self.strategy = strategy
            self.shards = shards
            self.maxEntries = maxEntries
            self.onFull = onFull
            self.maxKeyBytes = maxKeyBytes
            self.maxValueBytes = maxValueBytes
            self.keyByteCount = { defaultByteCount($0) }
            self.valueByteCount = { defaultByteCount($0) }
            self.countsPayloadBytes = false
            self.valueHeapByteCount = nil
            self.ttl = ttl
            self.batch = batch
            self.clock = clock
            self.countersEnabled = countersEnabled
            self.latencySampleInterval = latencySampleInterval
            self.minimumCapacity = minimumCapacity
        }

        /// The strategy, shards, capacity, ttl and batch policy of a validated schema.
        public init(schema: MapSchema, clock: any MapClock = SystemMapClock()) {
            self.init(
                strategy: schema.strategy,
                shards: schema.strategy == .sharded ? schema.shards : 1,
                maxEntries: schema.capacity?.maxEntries,
                onFull: schema.capacity?.onFull ?? .reject,
                maxKeyBytes: schema.capacity?.maxKeyBytes,
                maxValueBytes: schema.capacity?.maxValueBytes,
                ttl: schema.ttl,
                batch: schema.batch,
                clock: clock
            )
        }
    }

    @usableFromInline
    enum Engine: Sendable {
        case sharded(ShardedEngine<Key, Value>)
        case rwlock(RWLockEngine<Key, Value>)
        case snapshot(SnapshotEngine<Key, Value>)
        case serialized(SerializedEngine<Key, Value>)
    }

    @usableFromInline let engine: Engine

    /// The same engine without reference counting, for the operations. Switching over `engine` retained
    /// and released the engine object on every call: an atomic write to one cache line shared by every
    /// thread (perf: 13 % of a read at one thread, and the reason two threads hardly scaled).
    /// `engine` keeps it alive as long as `self`.
    @usableFromInline
    enum UnretainedEngine: Sendable {
        case sharded(Unmanaged<ShardedEngine<Key, Value>>)
        case rwlock(Unmanaged<RWLockEngine<Key, Value>>)
        case snapshot(Unmanaged<SnapshotEngine<Key, Value>>)
        case serialized(Unmanaged<SerializedEngine<Key, Value>>)
    }

    @usableFromInline let unretained: UnretainedEngine
    /// The clock is the system's: read it directly (calling through the existential retained its box).
    @usableFromInline let usesSystemClock: Bool
    @usableFromInline let hasher: KeyHasher
    @usableFromInline let clock: any MapClock
    @usableFromInline let usesClock: Bool
    @usableFromInline let countsOps: Bool
    @usableFromInline let checksSizes: Bool
    @usableFromInline let maxKeyBytes: Int
    @usableFromInline let maxValueBytes: Int
    @usableFromInline let keyByteCount: @Sendable (Key) -> Int
    @usableFromInline let valueByteCount: @Sendable (Value) -> Int
    @usableFromInline let valueHeapByteCount: (@Sendable (Value) -> Int)?
    @usableFromInline let maxEntries: Int?

    /// This map's counters (ops by kind and result, latency, contention, evictions, expirations, faults).
    public let counters: MapCounters
    /// The configuration the map was built with.
    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
        let counters = MapCounters(latencySampleInterval: configuration.latencySampleInterval)
        self.counters = counters
        self.hasher = KeyHasher(seed: UInt64.random(in: .min ... .max))
        self.clock = configuration.clock
        self.usesClock = configuration.ttl != nil
        self.usesSystemClock = configuration.clock is SystemMapClock
        self.countsOps = configuration.countersEnabled
        self.maxKeyBytes = configuration.maxKeyBytes ?? .max
        self.maxValueBytes = configuration.maxValueBytes ?? .max
        self.checksSizes = configuration.maxKeyBytes != nil || configuration.maxValueBytes != nil || configuration.countsPayloadBytes
        self.keyByteCount = configuration.keyByteCount
        self.valueByteCount = configuration.valueByteCount
        self.valueHeapByteCount = configuration.valueHeapByteCount
        self.maxEntries = configuration.maxEntries
        let policy = EntryPolicy(
            ttl: configuration.ttl.map { max(1, $0.nanosecondsClamped) } ?? 0,
            maxEntries: configuration.maxEntries.map { max(0, $0) } ?? .max,
            evictsLRU: configuration.maxEntries != nil && configuration.onFull == .evictLRU,
            isSized: configuration.countsPayloadBytes
        )
        let engineCounters = configuration.countersEnabled ? counters : nil
        let capacity = configuration.minimumCapacity
        switch configuration.strategy {
        case .mutex:
            engine = .sharded(
                ShardedEngine(shardCount: 1, policy: policy, hasher: hasher, minimumCapacity: capacity, counters: engineCounters))
        case .sharded:
            let shards = min(max(configuration.shards, 1), 4096)
            engine = .sharded(
                ShardedEngine(shardCount: shards, policy: policy, hasher: hasher, minimumCapacity: capacity, counters: engineCounters))
        case .rwlock:
            engine = .rwlock(RWLockEngine(policy: policy, hasher: hasher, minimumCapacity: capacity, counters: engineCounters))
        case .snapshot:
            engine = .snapshot(SnapshotEngine(policy: policy, hasher: hasher, minimumCapacity: capacity, counters: engineCounters))
        case .serialized:
            engine = .serialized(
                SerializedEngine(
                    policy: policy, hasher: hasher, minimumCapacity: capacity, batch: configuration.batch.maxSize,
                    counters: engineCounters))
        }
        switch engine {
        case .sharded(let engine): unretained = .sharded(.passUnretained(engine))
        case .rwlock(let engine): unretained = .rwlock(.passUnretained(engine))
        case .snapshot(let engine): unretained = .snapshot(.passUnretained(engine))
        case .serialized(let engine): unretained = .serialized(.passUnretained(engine))
        }
    }

    /// The strategy this map uses.
    public var strategy: Strategy { configuration.strategy }

    @inlinable
    @inline(__always)
    func now() -> UInt64 {
        guard usesClock else { return 0 }
        return usesSystemClock ? monotonicNanoseconds() : clock.now()
    }

    /// Starts counting an operation (nil when counters are off): the thread's counter block is found
    /// once per operation and passed to ``finishOp(_:_:_:)``.
    @inlinable
    func startOp() -> OpProbe? { countsOps ? counters.begin() : nil }

    /// The same for an operation whose start the caller timed itself (``DynamicMap``; 0: not timed).
    @inlinable
    func startOp(at start: UInt64) -> OpProbe? {
        guard countsOps else { return nil }
        return counters.probe(start: start)
    }

    @inlinable
    func finishOp(_ op: OpKind, _ result: OpResult, _ probe: OpProbe?) {
        if let probe { counters.end(probe, op, result) }
    }

    /// The value for `key`, or nil when absent or expired.
    ///
    /// - Complexity: O(1) expected.
    @inlinable
    public func get(_ key: Key) -> Value? { get(key, probe: startOp()) }

    @inlinable
    func get(_ key: Key, start: UInt64) -> Value? { get(key, probe: startOp(at: start)) }

    @inlinable
    func get(_ key: Key, probe: OpProbe?) -> Value? {
        let hash = hasher.hash(key)
        let value: Value?
        switch unretained {
        case .sharded(let engine): value = engine._withUnsafeGuaranteedRef { $0.get(key, hash: hash, now: now()) }
        case .rwlock(let engine): value = engine._withUnsafeGuaranteedRef { $0.get(key, hash: hash, now: now()) }
        case .snapshot(let engine): value = engine._withUnsafeGuaranteedRef { $0.get(key, hash: hash, now: now()) }
        case .serialized(let engine): value = engine._withUnsafeGuaranteedRef { $0.get(key, hash: hash, now: now()) }
        }
        finishOp(.get, value == nil ? .miss : .ok, probe)
        return value
    }

    /// Whether `key` is present and not expired; does not count as a use for LRU order.
    @inlinable
    public func contains(_ key: Key) -> Bool { contains(key, probe: startOp()) }

    @inlinable
    func contains(_ key: Key, start: UInt64) -> Bool { contains(key, probe: startOp(at: start)) }

    @inlinable
    func contains(_ key: Key, probe: OpProbe?) -> Bool {
        let hash = hasher.hash(key)
        let found: Bool
        switch unretained {
        case .sharded(let engine): found = engine._withUnsafeGuaranteedRef { $0.contains(key, hash: hash, now: now()) }
        case .rwlock(let engine): found = engine._withUnsafeGuaranteedRef { $0.contains(key, hash: hash, now: now()) }
        case .snapshot(let engine): found = engine._withUnsafeGuaranteedRef { $0.contains(key, hash: hash, now: now()) }
        case .serialized(let engine): found = engine._withUnsafeGuaranteedRef { $0.contains(key, hash: hash, now: now()) }
        }
        finishOp(.contains, found ? .ok : .miss, probe)
        return found
    }

    /// Checks the byte limits; returns the entry's size (key + value bytes) for accounting.
    @inlinable
    @inline(__always)
    func checkSizes(_ key: Key, _ value: Value?, op: OpKind, probe: OpProbe?) throws(MapError) -> Int {
        guard checksSizes else { return 0 }
        return try measureSizes(key, value, op: op, probe: probe)
    }

    /// ``checkSizes(_:_:op:probe:)`` for a map with byte limits or payload accounting.
    @inlinable
    func measureSizes(_ key: Key, _ value: Value?, op: OpKind, probe: OpProbe?) throws(MapError) -> Int {
        let keyBytes = keyByteCount(key)
        if keyBytes > maxKeyBytes {
            finishOp(op, .error, probe)
            throw .badKey("key is \(keyBytes) bytes; max_key_bytes is \(maxKeyBytes)")
        }
        guard let value else { return keyBytes }
        let valueBytes = valueByteCount(value)
        if valueBytes > maxValueBytes {
            finishOp(op, .error, probe)
            throw .badValue("value is \(valueBytes) bytes; max_value_bytes is \(maxValueBytes)")
        }
        return keyBytes + (valueHeapByteCount?(value) ?? valueBytes)
    }

    @usableFromInline
    func fullError() -> MapError {
        .capacity("map is full: max_entries is \(maxEntries ?? 0) and on_full is reject")
    }

    /// Inserts or replaces the value for `key`; returns once the write is applied (for `serialized`,
    /// once its batch is applied). The entry's ttl starts again.
    ///
    /// - Throws: `MapError` `bad_key` / `bad_value` over the byte limits, `capacity` when full and rejecting.
    @inlinable
    public func put(_ key: Key, _ value: Value) throws(MapError) { try put(key, value, probe: startOp()) }

    @inlinable
    func put(_ key: Key, _ value: Value, start: UInt64) throws(MapError) { try put(key, value, probe: startOp(at: start)) }

    @inlinable
    func put(_ key: Key, _ value: Value, probe: OpProbe?) throws(MapError) {
        let size = try checkSizes(key, value, op: .put, probe: probe)
        let hash = hasher.hash(key)
        let stored: Bool
        switch unretained {
        case .sharded(let engine):
            stored = engine._withUnsafeGuaranteedRef { $0.put(key, hash: hash, value: value, size: size, now: now()) }
        case .rwlock(let engine): stored = engine._withUnsafeGuaranteedRef { $0.put(key, hash: hash, value: value, size: size, now: now()) }
        case .snapshot(let engine):
            stored = engine._withUnsafeGuaranteedRef { $0.put(key, hash: hash, value: value, size: size, now: now()) }
        case .serialized(let engine):
            stored = engine._withUnsafeGuaranteedRef { $0.put(key, hash: hash, value: value, size: size, now: now()) }
        }
        guard stored else {
            finishOp(.put, .error, probe)
            throw fullError()
        }
        finishOp(.put, .ok, probe)
    }

    /// Removes `key`; returns the value it had, or nil when it was absent or expired.
    @inlinable
    @discardableResult
    public func delete(_ key: Key) -> Value? { delete(key, probe: startOp()) }

    @inlinable
    func delete(_ key: Key, start: UInt64) -> Value? { delete(key, probe: startOp(at: start)) }

    @inlinable
    func delete(_ key: Key, probe: OpProbe?) -> Value? {
        let hash = hasher.hash(key)
        let value: Value?
        switch unretained {
        case .sharded(let engine): value = engine._withUnsafeGuaranteedRef { $0.delete(key, hash: hash, now: now()) }
        case .rwlock(let engine): value = engine._withUnsafeGuaranteedRef { $0.delete(key, hash: hash, now: now()) }
        case .snapshot(let engine): value = engine._withUnsafeGuaranteedRef { $0.delete(key, hash: hash, now: now()) }
        case .serialized(let engine): value = engine._withUnsafeGuaranteedRef { $0.delete(key, hash: hash, now: now()) }
        }
        finishOp(.delete, value == nil ? .miss : .ok, probe)
        return value
    }

    /// Atomically replaces the entry for `key` with `new` (nil removes it) when `matches` accepts its
    /// current value (nil when absent or expired).
    ///
    /// - Returns: whether the entry was replaced.
    /// - Throws: as ``put(_:_:)`` when `new` would be stored.
    @inlinable
    public func compareAndSet(_ key: Key, where matches: @escaping @Sendable (Value?) -> Bool, new: Value?) throws(MapError) -> Bool {
        try compareAndSet(key, where: matches, new: new, probe: startOp())
    }

    @inlinable
    func compareAndSet(
        _ key: Key, where matches: @escaping @Sendable (Value?) -> Bool, new: Value?, start: UInt64
    ) throws(MapError) -> Bool {
        try compareAndSet(key, where: matches, new: new, probe: startOp(at: start))
    }

    @inlinable
    func compareAndSet(
        _ key: Key, where matches: @escaping @Sendable (Value?) -> Bool, new: Value?, probe: OpProbe?
    ) throws(MapError) -> Bool {
        let size = try checkSizes(key, new, op: .cas, probe: probe)
        let hash = hasher.hash(key)
        let outcome: WriteOutcome<Value>
        switch unretained {
        case .sharded(let engine):
            outcome = engine._withUnsafeGuaranteedRef {
                $0.compareAndSet(key, hash: hash, now: now(), matches: matches, new: new, size: size)
            }
        case .rwlock(let engine):
            outcome = engine._withUnsafeGuaranteedRef {
                $0.compareAndSet(key, hash: hash, now: now(), matches: matches, new: new, size: size)
            }
        case .snapshot(let engine):
            outcome = engine._withUnsafeGuaranteedRef {
                $0.compareAndSet(key, hash: hash, now: now(), matches: matches, new: new, size: size)
            }
        case .serialized(let engine):
            outcome = engine._withUnsafeGuaranteedRef {
                $0.compareAndSet(key, hash: hash, now: now(), matches: matches, new: new, size: size)
            }
        }
        switch outcome {
        case .full:
            finishOp(.cas, .error, probe)
            throw fullError()
        case .compared(let swapped):
            finishOp(.cas, swapped ? .ok : .miss, probe)
            return swapped
        case .applied, .removed:
            finishOp(.cas, .ok, probe)
            return true
        }
    }

    /// A consistent point-in-time copy of the live entries, usable while others write.
    ///
    /// `mutex` and `sharded` hold every lock for the copy; `rwlock` and `serialized` hold the shared
    /// lock; `snapshot` copies without blocking readers. Entries come oldest first when the map keeps
    /// a recency order (ttl or LRU), else in table order.
    public func snapshot() -> [(Key, Value)] {
        let probe = startOp()
        let result = entries()
        finishOp(.iterate, .ok, probe)
        return result
    }

    @usableFromInline
    package func entries() -> [(Key, Value)] {
        let now = now()
        switch engine {
        case .sharded(let engine): return engine.entries(now: now)
        case .rwlock(let engine): return engine.entries(now: now)
        case .snapshot(let engine): return engine.entries(now: now)
        case .serialized(let engine): return engine.entries(now: now)
        }
    }

    /// Entries with their last write time on ``Configuration/clock`` (0 without ttl); not counted.
    func entriesWithWriteTimes() -> [(Key, Value, UInt64)] {
        switch engine {
        case .sharded(let engine): engine.entriesWithWriteTimes()
        case .rwlock(let engine): engine.entriesWithWriteTimes()
        case .snapshot(let engine): engine.entriesWithWriteTimes()
        case .serialized(let engine): engine.entriesWithWriteTimes()
        }
    }

    /// Entries stored, including expired ones that no read or sweep has removed yet
    /// (call ``removeExpired()`` first for an exact live count).
    public var count: Int {
        switch engine {
        case .sharded(let engine): engine.count
        case .rwlock(let engine): engine.count
        case .snapshot(let engine): engine.count
        case .serialized(let engine): engine.count
        }
    }

    /// Bytes held by the map's tables (slots, control bytes, recency links, deadlines), plus key and
    /// value payload bytes when ``Configuration/countsPayloadBytes`` is set.
    public var estimatedBytes: Int {
        switch engine {
        case .sharded(let engine): engine.estimatedBytes
        case .rwlock(let engine): engine.estimatedBytes
        case .snapshot(let engine): engine.estimatedBytes
        case .serialized(let engine): engine.estimatedBytes
        }
    }

    /// Removes every expired entry now (normally they go lazily); returns how many were removed.
    @discardableResult
    public func removeExpired() -> Int {
        let now = clock.now()
        switch engine {
        case .sharded(let engine): return engine.removeExpired(now: now)
        case .rwlock(let engine): return engine.removeExpired(now: now)
        case .snapshot(let engine): return engine.removeExpired(now: now)
        case .serialized(let engine): return engine.removeExpired(now: now)
        }
    }
}

extension LiveMap where Value: Equatable {
    /// Atomically replaces the entry for `key` with `new` (nil removes it) when its current value equals
    /// `expected` (nil: the key is absent).
    ///
    /// - Returns: whether the entry was replaced.
    @inlinable
    public func compareAndSet(_ key: Key, expected: Value?, new: Value?) throws(MapError) -> Bool {
        try compareAndSet(key, where: { $0 == expected }, new: new)
    }
}

/// UTF-8 length for strings, else the inline size.
@usableFromInline
func defaultByteCount<T>(_ value: T) -> Int {
    if let text = value as? String { return text.utf8.count }
    if let bytes = value as? [UInt8] { return bytes.count }
    return MemoryLayout<T>.size
}

extension LiveMap {
    /// A put that is not counted as a user operation (for carrying data across a rebuild).
    /// - Parameter checkingSizes: false when the entry is known to fit `max_key_bytes` and `max_value_bytes`.
    package func putUncounted(_ key: Key, _ value: Value, checkingSizes: Bool = true) throws(MapError) {
        var size = 0
        if checksSizes {
            let keyBytes = keyByteCount(key)
            let valueBytes = valueByteCount(value)
            if checkingSizes {
                if keyBytes > maxKeyBytes { throw .badKey("key over max_key_bytes") }
                if valueBytes > maxValueBytes { throw .badValue("value over max_value_bytes") }
            }
            size = keyBytes + (valueHeapByteCount?(value) ?? valueBytes)
        }
        let hash = hasher.hash(key)
        let stored: Bool
        switch engine {
        case .sharded(let engine): stored = engine.put(key, hash: hash, value: value, size: size, now: now())
        case .rwlock(let engine): stored = engine.put(key, hash: hash, value: value, size: size, now: now())
        case .snapshot(let engine): stored = engine.put(key, hash: hash, value: value, size: size, now: now())
        case .serialized(let engine): stored = engine.put(key, hash: hash, value: value, size: size, now: now())
        }
        if !stored { throw fullError() }
    }
}
