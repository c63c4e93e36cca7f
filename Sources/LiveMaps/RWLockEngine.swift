import Synchronization

/// The `rwlock` strategy: one table behind a ``StripedRWLock``; readers share it.
///
/// Reads cannot reorder the LRU list under a shared lock, so with `evict_lru` a `get` takes the lock
/// exclusively (use `sharded` for LRU maps with heavy reads). Expired entries found by a shared reader
/// read as absent and are removed by the next write's sweep.
@usableFromInline
final class RWLockEngine<Key: Hashable & Sendable, Value: Sendable>: MapEngine, @unchecked Sendable {
    // @unchecked: `table` (a non-Sendable class) is read only while holding `lock` shared or exclusive,
    // and written only while holding it exclusively; StripedRWLock's seq-cst/acquire/release operations
    // order those accesses (a writer waits until every reader stripe drained, readers wait for the flag).
    @usableFromInline let lock = StripedRWLock()
    @usableFromInline let table: FlatTable<Key, Value>
    @usableFromInline let policy: EntryPolicy
    @usableFromInline let counters: MapCounters?

    init(policy: EntryPolicy, hasher: KeyHasher, minimumCapacity: Int, counters: MapCounters?) {
        self.policy = policy
        self.counters = counters
        self.table = policy.makeTable(hasher: hasher, minimumCapacity: minimumCapacity)
    }

    @inlinable
    func withReadLock<R>(_ body: () -> R) -> R {
        let (stripe, contended) = lock.readLock()
        if contended { counters?.countContention() }
        defer { lock.readUnlock(stripe) }
        return body()
    }

    @inlinable
    func withWriteLock<R>(_ body: () -> R) -> R {
        if lock.writeLock() { counters?.countContention() }
        defer { lock.writeUnlock() }
        return body()
    }

    @inlinable
    func get(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        var events = TableEvents()
        let value: Value?
        if policy.evictsLRU {
            value = withWriteLock {
                table.policyGet(key, hash: hash, now: now, policy: policy, exclusive: true, events: &events)
            }
        } else {
            value = withReadLock {
                table.policyGet(key, hash: hash, now: now, policy: policy, exclusive: false, events: &events)
            }
        }
        events.record(into: counters)
        return value
    }

    @inlinable
    func contains(_ key: Key, hash: UInt64, now: UInt64) -> Bool {
        var events = TableEvents()
        return withReadLock {
            table.policyGet(key, hash: hash, now: now, policy: policy, exclusive: false, touches: false, events: &events) != nil
        }
    }

    @inlinable
    func put(_ key: Key, hash: UInt64, value: Value, size: Int, now: UInt64) -> Bool {
        var events = TableEvents()
        let stored = withWriteLock {
            table.policyPut(key, hash: hash, value: value, size: size, now: now, policy: policy, events: &events)
        }
        events.record(into: counters)
        return stored
    }

    @inlinable
    func delete(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        var events = TableEvents()
        let value = withWriteLock {
            table.policyDelete(key, hash: hash, now: now, policy: policy, events: &events)
        }
        events.record(into: counters)
        return value
    }

    @inlinable
    func compareAndSet(
        _ key: Key, hash: UInt64, now: UInt64, matches: @escaping @Sendable (Value?) -> Bool, new: Value?, size: Int
    ) -> WriteOutcome<Value> {
        var events = TableEvents()
        let outcome = withWriteLock {
            table.policyCompareAndSet(key, hash: hash, now: now, policy: policy, events: &events, matches: matches, new: new, size: size)
        }
        events.record(into: counters)
        return outcome
    }

    @usableFromInline
    func entries(now: UInt64) -> [(Key, Value)] {
        withReadLock {
            var result: [(Key, Value)] = []
            result.reserveCapacity(table.count)
            table.liveEntries(now: now, policy: policy, into: &result)
            return result
        }
    }

    @usableFromInline
    func entriesWithWriteTimes() -> [(Key, Value, UInt64)] {
        withReadLock {
            var result: [(Key, Value, UInt64)] = []
            table.entriesWithWriteTimes(policy: policy, into: &result)
            return result
        }
    }

    @inlinable
    var count: Int { table.publishedCount.load(ordering: .relaxed) }

    @usableFromInline
    var estimatedBytes: Int { withReadLock { table.estimatedBytes + 1024 } }

    @usableFromInline
    func removeExpired(now: UInt64) -> Int {
        let removed = withWriteLock { table.removeAllExpired(now: now) }
        counters?.countExpirations(removed)
        return removed
    }
}
