// Added by the controller engineer (issue 4): the online rebuild's replay reads and removes keys of an
// instance without counting them as user operations and without fault injection, as `load` writes them.

extension LiveMap {
    /// The value for `key`, not counted as an operation.
    @usableFromInline
    func getUncounted(_ key: Key) -> Value? {
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
    func deleteUncounted(_ key: Key) {
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
        for shard in shards {
            acquire(shard)
            shard.table.liveEntries(now: now, policy: policy, into: &result)
            shard.lock.unlock()
        }
        return result
    }
}

extension LiveMap {
    /// See ``DynamicMap/entriesForCopy()``.
    func entriesForCopy() -> [(Key, Value)] {
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
