import MapSchema

// Added by the controller engineer (issue 4): the online rebuild's replay reads and removes keys of an
// instance without counting them as user operations and without fault injection, as `load` writes them.

extension LiveMap {
    /// The value for `key`, not counted as an operation.
    @usableFromInline
    package func getUncounted(_ key: Key) -> Value? {
        let hash = hasher.hash(key)
        switch engine {
        case .sharded(let engine): return engine.get(key, hash: hash, now: now())
        case .rwlock(let engine): return engine.get(key, hash: hash, now: now())
        case .snapshot(let engine): return engine.get(key, hash: hash, now: now())
        case .serialized(let engine): return engine.get(key, hash: hash, now: now())
        }
    }

    /// Removes `key`, not counted as an operation.
    @usableFromInline
    package func deleteUncounted(_ key: Key) {
        let hash = hasher.hash(key)
        switch engine {
        case .sharded(let engine): _ = engine.delete(key, hash: hash, now: now())
        case .rwlock(let engine): _ = engine.delete(key, hash: hash, now: now())
        case .snapshot(let engine): _ = engine.delete(key, hash: hash, now: now())
        case .serialized(let engine): _ = engine.delete(key, hash: hash, now: now())
        }
    }
}

extension ShardedEngine {
    /// Entries copied one shard at a time, each shard under its own lock only: writers to other shards
    /// go on. Each entry is as it was at some moment during the call, not all at one moment.
    func entriesShardByShard(now: UInt64) -> [(Key, Value)] {
        var result: [(Key, Value)] = []
        result.reserveCapacity(count)
        for index in 0...shardMask {
            _ = withLockedTable(index, creating: false) { $0.liveEntries(now: now, policy: policy, into: &result) }
        }
        return result
    }
}

extension LiveMap {
    /// See ``DynamicMap/entriesForCopy()``.
    package func entriesForCopy() -> [(Key, Value)] {
        if case .sharded(let engine) = engine { return engine.entriesShardByShard(now: now()) }
        return entries()
    }
}

extension DynamicMap {
    /// The entries for an online copy that records concurrent writes itself (the controller's rebuild):
    /// `sharded` maps are copied shard by shard, holding one shard lock at a time, so writers wait for
    /// one shard's copy instead of the whole map's; other strategies give ``snapshot()``. Each entry is
    /// as it was at some moment during the call. Not counted, no fault injection.
    public func entriesForCopy() -> [(MapKey, JSONValue)] {
        map.entriesForCopy()
    }

    /// The value for `key` without counting an operation or injecting faults (a rebuild's replay).
    public func peek(_ key: MapKey) -> JSONValue? {
        map.getUncounted(key)
    }

    /// Removes `key` without counting an operation or injecting faults (a rebuild's replay).
    public func discard(_ key: MapKey) {
        map.deleteUncounted(key)
    }
}

// MARK: - Bulk carry (issue 4: rebuild of 1M entries in < 500 ms)

/// One entry on its way from one map to another: its byte size as the source recorded it (-1 when the
/// source keeps none) and the hash under the *target's* seed, filled in by the target.
@usableFromInline
struct CarriedEntry<Key, Value> {
    @usableFromInline var key: Key
    @usableFromInline var value: Value
    @usableFromInline var size: Int
    @usableFromInline var hash: UInt64 = 0

    @inlinable
    init(key: Key, value: Value, size: Int) {
        self.key = key
        self.value = value
        self.size = size
    }
}

/// Carried entries in raw memory that the carry owns: each entry is copied out of the source once (the
/// one retain of its value that the target keeps) and then *moved* into the target's table, never copied
/// again nor released in between. On a 1M-entry map each extra retain or release of a value is a cache
/// miss on its box: measured with `perf`, retain/release were over half of the carry.
///
/// Not shared between threads: one carry owns it from start to end.
final class CarryBuffer<Key, Value> {
    private(set) var base: UnsafeMutablePointer<CarriedEntry<Key, Value>>
    private(set) var capacity: Int
    /// Entries `0..<count` are initialized.
    var count = 0

    init(capacity: Int = 0) {
        self.capacity = max(1, capacity)
        base = .allocate(capacity: self.capacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    /// Makes room for `total` entries; only while empty.
    func reserve(_ total: Int) {
        precondition(count == 0, "reserve an empty buffer only")
        guard total > capacity else { return }
        base.deallocate()
        capacity = total
        base = .allocate(capacity: total)
    }

    func append(_ entry: consuming CarriedEntry<Key, Value>) {
        if count == capacity {
            let grown = UnsafeMutablePointer<CarriedEntry<Key, Value>>.allocate(capacity: capacity * 2)
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
            base = grown
            capacity *= 2
        }
        (base + count).initialize(to: entry)
        count += 1
    }

    func removeAll() {
        base.deinitialize(count: count)
        count = 0
    }
}

extension FlatTable {
    /// Live entries (expired ones left out) with their recorded sizes, oldest first when ordered.
    func appendLiveEntries(now: UInt64, policy: EntryPolicy, into result: CarryBuffer<Key, Value>) {
        let sizes = self.sizes
        func append(_ index: Int) {
            let size = sizes.map { Int($0[index]) } ?? -1
            result.append(CarriedEntry(key: slots[index].key, value: slots[index].value, size: size))
        }
        if let links {
            let deadlines = policy.ttl == 0 ? nil : deadlines
            var cursor = head
            while cursor >= 0 {
                let index = Int(cursor)
                if deadlines.map({ $0[index] > now }) ?? true { append(index) }
                cursor = links[index].next
            }
        } else {
            for index in 0..<capacity where control[index] >= 0x80 { append(index) }
        }
    }

    /// ``policyPut(_:hash:value:size:now:policy:events:)`` for an unlimited table, consuming the
    /// entry: a new key's key and value are moved into their slot.
    @inlinable
    func carryIn(_ entry: consuming CarriedEntry<Key, Value>, now: UInt64, policy: EntryPolicy, events: inout TableEvents) {
        let deadline = policy.deadline(now: now)
        let size = max(0, entry.size)
        let index = find(entry.key, hash: entry.hash)
        if index >= 0 {
            update(at: index, value: entry.value, deadline: deadline, size: size)
        } else {
            insertNew(entry.key, hash: entry.hash, value: entry.value, deadline: deadline, size: size)
        }
        if policy.ttl != 0 { events.expirations += sweep(now: now, budget: 2) }
    }
}

extension ShardedEngine {
    /// Calls `body` with each shard's live entries, copied under that shard's lock alone (writers to
    /// the other shards go on; see ``entriesShardByShard(now:)``). One buffer is reused for all shards,
    /// so the whole map is never copied into one array; `body` may move entries out (setting `count`).
    func forEachShardCopy(now: UInt64, _ body: (CarryBuffer<Key, Value>) -> Void) {
        let buffer = CarryBuffer<Key, Value>(capacity: count / (shardMask + 1) + 1024)
        for index in 0...shardMask {
            buffer.removeAll()
            let copied: Void? = withLockedTable(index, creating: false) { table in
                buffer.reserve(table.count)
                table.appendLiveEntries(now: now, policy: policy, into: buffer)
            }
            if copied != nil { body(buffer) }
        }
        buffer.removeAll()
    }

    /// Grows every shard's table once so that `additional` more entries, spread by hash, fit without a rehash.
    func reserve(additional: Int) {
        let perShard = additional / (shardMask + 1)
        // Shards get perShard ± a few √perShard entries; a shard that gets more grows once more.
        let margin = perShard / 32 + 64
        for index in 0...shardMask {
            _ = withLockedTable(index, creating: true) { table in table.reserve(table.count + perShard + margin) }
        }
    }

    /// Moves the entries of `batch` (target hashes filled in) into an **unlimited** map and empties it:
    /// entries are grouped by shard (a stable counting sort, so each shard receives them in batch order)
    /// and each shard is locked once per batch instead of once per entry. The same table operation as
    /// ``put(_:hash:value:size:now:)`` (insert or replace, ttl deadline, recency order); no
    /// `max_entries` to enforce.
    func storeBatch(_ batch: CarryBuffer<Key, Value>, now: UInt64) {
        precondition(!policy.isLimited, "storeBatch enforces no max_entries")
        let shardCount = shardMask + 1
        let entries = batch.base
        let total = batch.count
        var starts = [Int](repeating: 0, count: shardCount + 1)
        for position in 0..<total { starts[(Int(truncatingIfNeeded: entries[position].hash >> 7) & shardMask) + 1] += 1 }
        for index in 0..<shardCount { starts[index + 1] += starts[index] }
        var next = starts
        var order = [Int32](repeating: 0, count: total)
        for position in 0..<total {
            let shard = Int(truncatingIfNeeded: entries[position].hash >> 7) & shardMask
            order[next[shard]] = Int32(truncatingIfNeeded: position)
            next[shard] += 1
        }
        var events = TableEvents()
        // Every entry is moved out below; the buffer forgets them first so that nothing is released twice.
        batch.count = 0
        for index in 0..<shardCount where starts[index + 1] > starts[index] {
            _ = withLockedTable(index, creating: true) { table in
                for slot in starts[index]..<starts[index + 1] {
                    table.carryIn((entries + Int(order[slot])).move(), now: now, policy: policy, events: &events)
                }
            }
        }
        events.record(into: counters)
    }
}

extension LiveMap {
    /// Copies every live entry of `source` in **without checking it against this map's key and value
    /// limits**: only for a source whose entries are known to fit (see ``DynamicMap/carry(from:)``).
    /// `max_entries` is still enforced. Sizes recorded by the source are reused, so both maps must count
    /// bytes alike (both built by `DynamicMap`, or neither counting payload bytes).
    /// Not counted as operations; ttl starts again now.
    ///
    /// - Returns: entries read from `source`, and those that did not fit (`max_entries` with `reject`).
    package func carryUnchecked(from source: LiveMap) -> (copied: Int, dropped: Int) {
        var copied = 0
        var dropped = 0
        let sourceNow = source.now()
        let storeInBulk: ShardedEngine<Key, Value>?
        if case .sharded(let target) = engine, !target.policy.isLimited {
            target.reserve(additional: source.count)
            storeInBulk = target
        } else {
            storeInBulk = nil
        }
        let sized = configuration.countsPayloadBytes
        func store(_ batch: CarryBuffer<Key, Value>) {
            copied += batch.count
            let entries = batch.base
            if let storeInBulk {
                for index in 0..<batch.count {
                    entries[index].hash = hasher.hash(entries[index].key)
                    if sized, entries[index].size < 0 {
                        entries[index].size =
                            keyByteCount(entries[index].key)
                            + (valueHeapByteCount?(entries[index].value) ?? valueByteCount(entries[index].value))
                    }
                }
                storeInBulk.storeBatch(batch, now: now())
            } else {
                for index in 0..<batch.count {
                    do { try putUncounted(entries[index].key, entries[index].value, checkingSizes: false) } catch { dropped += 1 }
                }
                batch.removeAll()
            }
        }
        if case .sharded(let from) = source.engine {
            from.forEachShardCopy(now: sourceNow) { store($0) }
        } else {
            let entries = source.entries()
            let batch = CarryBuffer<Key, Value>(capacity: entries.count)
            for (key, value) in entries { batch.append(CarriedEntry(key: key, value: value, size: -1)) }
            store(batch)
        }
        return (copied, dropped)
    }
}

extension DynamicMap {
    /// Whether every entry a map of `source`'s schema can hold passes this map's checks **unchanged**:
    /// same key type; no narrowed key or value byte limit; a value type that accepts every stored value
    /// as it is (the same type, a widening to `json`, or a record whose fields all stay, each with its
    /// type or as `json`, and with no new required field). Stored values are already normalized by
    /// their own map's validator, which this relies on. `max_entries` and ttl do not matter here: the
    /// engine enforces them on every insert.
    public func acceptsUnchanged(entriesOf source: MapSchema) -> Bool {
        guard source.keyType == schema.keyType else { return false }
        for change in SchemaCompatibility.changes(from: source, to: schema) {
            if change.kind == .breaking { return false }
            switch change.loss {
            case .maxKeyBytes, .maxValueBytes: return false
            case .maxEntries, .ttl, nil: break
            }
        }
        switch (source.valueType, schema.valueType) {
        case (_, .scalar(.json)):
            return true
        case (.scalar(let before), .scalar(let after)):
            return before == after
        case (.external(let before), .external(let after)):
            return before == after
        case (.record, .record):
            let fields = Dictionary(schema.fields.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            let oldFields = Dictionary(source.fields.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for old in source.fields {
                guard let new = fields[old.name], new.type == old.type || new.type == .json else { return false }
            }
            for new in schema.fields where !new.isOptional {
                guard let old = oldFields[new.name], !old.isOptional else { return false }
            }
            return true
        default:
            return false
        }
    }

    /// Carries every entry of `source` in, as an online copy (shard by shard, see ``entriesForCopy()``).
    ///
    /// When this schema accepts `source`'s entries unchanged (``acceptsUnchanged(entriesOf:)``) they are
    /// not re-checked, capacity is reserved up front, and each source shard is streamed into this map's
    /// tables one shard lock per batch; otherwise every entry goes through ``load(_:)``'s checks.
    ///
    /// - Returns: entries read from `source`, and what was stored and dropped.
    public func carry(from source: DynamicMap) -> (copied: Int, report: LoadReport) {
        guard acceptsUnchanged(entriesOf: source.schema) else {
            let entries = source.entriesForCopy()
            return (entries.count, load(entries))
        }
        let (copied, dropped) = map.carryUnchecked(from: source.map)
        return (copied, LoadReport(loaded: copied - dropped, dropped: dropped == 0 ? [:] : ["max_entries": dropped]))
    }

    /// Stores one entry read from a map whose entries this one accepts unchanged (a rebuild's replay,
    /// after ``acceptsUnchanged(entriesOf:)``), or with the full checks when `unchecked` is false.
    /// - Returns: whether it was stored.
    package func carry(_ key: MapKey, _ value: JSONValue, unchecked: Bool) -> Bool {
        guard unchecked else { return load(CollectionOfOne((key, value))).droppedCount == 0 }
        do {
            try map.putUncounted(key, value, checkingSizes: false)
            return true
        } catch {
            return false
        }
    }
}
