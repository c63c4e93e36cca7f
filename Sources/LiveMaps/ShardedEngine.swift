import Synchronization

/// One lock and one table, padded to keep its lock word off its neighbours' cache lines.
@usableFromInline
final class Shard<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    // @unchecked: `table` is a non-Sendable class, and it is only read or written by a thread that holds
    // `lock` (every access in ShardedEngine is between lock() and unlock()), so no two threads touch it
    // concurrently; the lock's acquire/release orderings make each holder see the previous one's writes.
    @usableFromInline let paddingBefore = InlineArray<8, UInt64>(repeating: 0)
    @usableFromInline let lock = SpinLock()
    @usableFromInline let table: FlatTable<Key, Value>
    @usableFromInline let paddingAfter = InlineArray<8, UInt64>(repeating: 0)

    init(table: FlatTable<Key, Value>) {
        self.table = table
    }
}

/// The `mutex` (one shard) and `sharded` (2^k shards picked by hash bits) strategies.
///
/// `max_entries` is global: a shared count is kept, touched only by inserts and removals of limited maps
/// (not by reads or overwrites), and a new key reserves room in it before it is inserted. With
/// `evict_lru`, room is made by evicting the least recently used entry of the key's own shard
/// (segmented LRU, as Guava's cache does); only when that shard is empty is another shard's evicted.
@usableFromInline
final class ShardedEngine<Key: Hashable & Sendable, Value: Sendable>: MapEngine, @unchecked Sendable {
    // @unchecked: every stored property is immutable, Sendable, or a Shard (see its proof); `total` is atomic.
    @usableFromInline let shards: ContiguousArray<Shard<Key, Value>>
    /// The same shards without reference counting: reading a class reference out of an array retains
    /// and releases it, an atomic write to the shard's header on every operation (measured: sharded
    /// read100 at 1 thread ran at half the speed of mutex). `shards` keeps them alive as long as `self`.
    @usableFromInline let unmanagedShards: UnsafeMutablePointer<Unmanaged<Shard<Key, Value>>>
    @usableFromInline let shardMask: Int
    @usableFromInline let policy: EntryPolicy
    @usableFromInline let counters: MapCounters?
    /// Entries in all shards; maintained only when `policy.isLimited`.
    @usableFromInline let total = Atomic<Int>(0)

    init(shardCount: Int, policy: EntryPolicy, hasher: KeyHasher, minimumCapacity: Int, counters: MapCounters?) {
        var count = 1
        while count < max(1, shardCount) { count <<= 1 }
        self.shardMask = count - 1
        self.policy = policy
        self.counters = counters
        let perShard = minimumCapacity / count
        let shards = ContiguousArray((0..<count).map { _ in
            Shard<Key, Value>(table: policy.makeTable(hasher: hasher, minimumCapacity: perShard))
        })
        self.shards = shards
        unmanagedShards = .allocate(capacity: count)
        for (index, shard) in shards.enumerated() { (unmanagedShards + index).initialize(to: .passUnretained(shard)) }
    }

    deinit {
        unmanagedShards.deallocate()
    }

    /// Calls `body` with the shard for `hash`, without retaining it.
    @inlinable
    func withShard<R>(for hash: UInt64, _ body: (Shard<Key, Value>) -> R) -> R {
        unmanagedShards[Int(truncatingIfNeeded: hash >> 7) & shardMask]._withUnsafeGuaranteedRef(body)
    }

    @inlinable
    func acquire(_ shard: Shard<Key, Value>) {
        if shard.lock.lock() { counters?.countContention() }
    }

    /// Applies the change of a table's count since `before` to `total`.
    @inlinable
    func settle(_ table: FlatTable<Key, Value>, _ before: inout Int) {
        let delta = table.count - before
        if delta != 0 { total.wrappingAdd(delta, ordering: .relaxed) }
        before = table.count
    }

    @inlinable
    func reserve() -> Bool {
        var current = total.load(ordering: .relaxed)
        while current < policy.maxEntries {
            let (exchanged, original) = total.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    @usableFromInline
    enum Room { case ready, full, elsewhere }

    /// With the shard locked and `key` absent: reserves room for one more entry in a limited map.
    @inlinable
    func makeRoom(_ table: FlatTable<Key, Value>, now: UInt64, before: inout Int, events: inout TableEvents) -> Room {
        events.expirations += table.sweep(now: now, budget: 16)
        settle(table, &before)
        while true {
            if reserve() {
                before += 1  // the reservation already counted the entry about to be inserted
                return .ready
            }
            guard policy.evictsLRU, policy.maxEntries > 0 else { return .full }
            guard table.head >= 0 else { return .elsewhere }
            table.remove(at: Int(table.head))
            events.evictions += 1
            settle(table, &before)
        }
    }

    /// Evicts the least recently used entry of the first non-empty shard after `hash`'s.
    @usableFromInline
    func evictElsewhere(after hash: UInt64) {
        let start = Int(truncatingIfNeeded: hash >> 7) & shardMask
        var events = TableEvents()
        for offset in 1...(shardMask + 1) {
            let shard = shards[(start + offset) & shardMask]
            acquire(shard)
            let table = shard.table
            if table.head >= 0 {
                var before = table.count
                table.remove(at: Int(table.head))
                events.evictions += 1
                settle(table, &before)
                shard.lock.unlock()
                break
            }
            shard.lock.unlock()
        }
        events.record(into: counters)
    }

    @inlinable
    func get(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        withShard(for: hash) { shard in
            acquire(shard)
            var events = TableEvents()
            var before = shard.table.count
            let value = shard.table.policyGet(key, hash: hash, now: now, policy: policy, exclusive: true, events: &events)
            if policy.isLimited { settle(shard.table, &before) }
            shard.lock.unlock()
            events.record(into: counters)
            return value
        }
    }

    @inlinable
    func contains(_ key: Key, hash: UInt64, now: UInt64) -> Bool {
        withShard(for: hash) { shard in
            acquire(shard)
            var events = TableEvents()
            var before = shard.table.count
            let found = shard.table.policyGet(key, hash: hash, now: now, policy: policy, exclusive: true, touches: false, events: &events) != nil
            if policy.isLimited { settle(shard.table, &before) }
            shard.lock.unlock()
            events.record(into: counters)
            return found
        }
    }

    @inlinable
    func put(_ key: Key, hash: UInt64, value: Value, size: Int, now: UInt64) -> Bool {
        withShard(for: hash) { shard in
            var events = TableEvents()
            defer { events.record(into: counters) }
            while true {
                acquire(shard)
                let table = shard.table
                if !policy.isLimited {
                    _ = table.policyPut(key, hash: hash, value: value, size: size, now: now, policy: policy, events: &events)
                    shard.lock.unlock()
                    return true
                }
                var before = table.count
                if table.find(key, hash: hash) < 0 {
                    switch makeRoom(table, now: now, before: &before, events: &events) {
                    case .ready: break
                    case .full:
                        shard.lock.unlock()
                        return false
                    case .elsewhere:
                        shard.lock.unlock()
                        evictElsewhere(after: hash)
                        continue
                    }
                }
                _ = table.policyPut(key, hash: hash, value: value, size: size, now: now, policy: policy.unlimited, events: &events)
                settle(table, &before)
                shard.lock.unlock()
                return true
            }
        }
    }

    @inlinable
    func delete(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        withShard(for: hash) { shard in
            acquire(shard)
            var events = TableEvents()
            var before = shard.table.count
            let value = shard.table.policyDelete(key, hash: hash, now: now, policy: policy, events: &events)
            if policy.isLimited { settle(shard.table, &before) }
            shard.lock.unlock()
            events.record(into: counters)
            return value
        }
    }

    @inlinable
    func compareAndSet(
        _ key: Key, hash: UInt64, now: UInt64, matches: @escaping @Sendable (Value?) -> Bool, new: Value?, size: Int
    ) -> WriteOutcome<Value> {
        withShard(for: hash) { shard in
            var events = TableEvents()
            defer { events.record(into: counters) }
            while true {
                acquire(shard)
                let table = shard.table
                var before = table.count
                if policy.isLimited, new != nil {
                    let index = table.find(key, hash: hash)
                    let isLive = index >= 0 && !(policy.ttl != 0 && table.isExpired(index, now: now))
                    let current: Value? = isLive ? table.slots[index].value : nil
                    if !matches(current) {
                        shard.lock.unlock()
                        return .compared(false)
                    }
                    if !isLive {
                        if index >= 0 {
                            table.remove(at: index)
                            events.expirations += 1
                            settle(table, &before)
                        }
                        switch makeRoom(table, now: now, before: &before, events: &events) {
                        case .ready: break
                        case .full:
                            shard.lock.unlock()
                            return .full
                        case .elsewhere:
                            shard.lock.unlock()
                            evictElsewhere(after: hash)
                            continue
                        }
                    }
                }
                let outcome = table.policyCompareAndSet(
                    key, hash: hash, now: now, policy: policy.unlimited, events: &events, matches: matches, new: new, size: size)
                if policy.isLimited { settle(table, &before) }
                shard.lock.unlock()
                return outcome
            }
        }
    }

    /// Locks every shard (in index order, so concurrent snapshots cannot deadlock) for one point in time.
    func withAllShardsLocked<R>(_ body: () -> R) -> R {
        for shard in shards { acquire(shard) }
        defer { for shard in shards.reversed() { shard.lock.unlock() } }
        return body()
    }

    @usableFromInline
    func entries(now: UInt64) -> [(Key, Value)] {
        withAllShardsLocked {
            var result: [(Key, Value)] = []
            result.reserveCapacity(count)
            for shard in shards { shard.table.liveEntries(now: now, policy: policy, into: &result) }
            return result
        }
    }

    @usableFromInline
    func entriesWithWriteTimes() -> [(Key, Value, UInt64)] {
        withAllShardsLocked {
            var result: [(Key, Value, UInt64)] = []
            for shard in shards { shard.table.entriesWithWriteTimes(policy: policy, into: &result) }
            return result
        }
    }

    /// Exact for limited maps (the global count); for unlimited ones a sum of per-shard counts read one
    /// after another, so only approximate while other threads write.
    @inlinable
    var count: Int {
        if policy.isLimited { return total.load(ordering: .relaxed) }
        var sum = 0
        for shard in shards { sum += shard.table.publishedCount.load(ordering: .relaxed) }
        return sum
    }

    @usableFromInline
    var estimatedBytes: Int {
        var sum = MemoryLayout<Shard<Key, Value>>.size * shards.count
        for shard in shards {
            acquire(shard)
            sum += shard.table.estimatedBytes + 64 * 3
            shard.lock.unlock()
        }
        return sum
    }

    @usableFromInline
    func removeExpired(now: UInt64) -> Int {
        var removed = 0
        for shard in shards {
            acquire(shard)
            var before = shard.table.count
            removed += shard.table.removeAllExpired(now: now)
            if policy.isLimited { settle(shard.table, &before) }
            shard.lock.unlock()
        }
        var events = TableEvents()
        events.expirations = removed
        events.record(into: counters)
        return removed
    }
}
