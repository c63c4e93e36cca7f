import Synchronization

/// The `snapshot` strategy: readers take no lock and never wait for a writer; one writer at a time
/// changes the one table in place.
///
/// Readers announce themselves in a reader indicator (a striped counter on their own cache line), load
/// the current ``VersionedTable`` and read it optimistically: a per-group version (seqlock) tells them
/// when a slot they read was being written, and they read that group again. The writer never frees
/// what a reader may hold: overwritten and removed keys and values (when they hold references) and a
/// table replaced by a rehash are kept until a grace period has passed, that is until every reader
/// that arrived before has left (the two indicators and the `version` toggle of left-right,
/// Ramalhete and Correia 2015, used here only to reclaim memory). Plain-bytes entries such as
/// `UInt64 → Int64` need a grace period only at a rehash; others once per ``retireLimit`` retirements.
///
/// Before (until 2026-12): left-right with two full tables, every write applied to both and waiting
/// for readers to drain: twice the memory (48.9 bytes per entry at 1M) and a reader drain per write.
///
/// Reads see each key at one point in time; ``entries(now:)`` copies the table under the writer lock
/// (writers wait, readers do not). Reads do not refresh LRU order, so with `evict_lru` the entry written
/// longest ago is evicted first.
@usableFromInline
final class SnapshotEngine<Key: Hashable & Sendable, Value: Sendable>: MapEngine, @unchecked Sendable {
    // @unchecked: the table is a non-Sendable class. Readers only call `lookUp` and read
    // `publishedCount`, which use atomic loads only (every word a writer may store while they read is an
    // `Atomic`); everything else of a table (links, sizes, counts, retired lists) is touched only with
    // `writerLock` held. A table's memory and the references it held are freed only after
    // `synchronize()` proved that every reader that could have loaded them has left (seq-cst arrive and
    // load in readers against seq-cst toggle and scans in the writer).
    /// The current table as `Unmanaged` bits, owned (+1) by the engine; replaced only by a rehash.
    @usableFromInline let current = Atomic<UInt>(0)
    @usableFromInline let version = Atomic<Int>(0)
    @usableFromInline let indicator0 = ReaderIndicator()
    @usableFromInline let indicator1 = ReaderIndicator()
    @usableFromInline let writerLock = SpinLock()
    @usableFromInline let policy: EntryPolicy
    @usableFromInline let counters: MapCounters?

    /// Retired keys and values that trigger a grace period (only for types that hold references).
    @usableFromInline static var retireLimit: Int { 64 }

    init(policy: EntryPolicy, hasher: KeyHasher, minimumCapacity: Int, counters: MapCounters?) {
        self.policy = policy
        self.counters = counters
        let table = VersionedTable<Key, Value>(
            minimumCapacity: minimumCapacity, hasher: hasher, isOrdered: policy.isOrdered, isTimed: policy.ttl != 0,
            isSized: policy.isSized)
        current.store(UInt(bitPattern: Unmanaged.passRetained(table).toOpaque()), ordering: .releasing)
    }

    deinit {
        Unmanaged<VersionedTable<Key, Value>>.fromOpaque(UnsafeRawPointer(bitPattern: current.load(ordering: .acquiring))!).release()
    }

    @inlinable
    var table: Unmanaged<VersionedTable<Key, Value>> {
        Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: current.load(ordering: .sequentiallyConsistent)).unsafelyUnwrapped)
    }

    /// Runs `body` as a reader: nothing it sees in the table is freed until it returns.
    @inlinable
    func read<R>(_ body: (VersionedTable<Key, Value>) -> R) -> R {
        let stripe = indicator0.currentStripe()
        let currentVersion = version.load(ordering: .sequentiallyConsistent)
        if currentVersion == 0 { indicator0.arrive(stripe) } else { indicator1.arrive(stripe) }
        let result = table._withUnsafeGuaranteedRef(body)
        if currentVersion == 0 { indicator0.depart(stripe) } else { indicator1.depart(stripe) }
        return result
    }

    /// Waits until every reader that arrived before the call has left (writer lock held).
    @usableFromInline
    func synchronize() {
        if version.load(ordering: .relaxed) == 0 {
            indicator1.waitUntilEmpty()
            version.store(1, ordering: .sequentiallyConsistent)
            indicator0.waitUntilEmpty()
        } else {
            indicator0.waitUntilEmpty()
            version.store(0, ordering: .sequentiallyConsistent)
            indicator1.waitUntilEmpty()
        }
    }

    /// Replaces the table by a rehashed copy, publishes it, and frees the old one once no reader can be in it.
    @inlinable
    func grow() {
        let old = table
        let new = old._withUnsafeGuaranteedRef { $0.rehashed(to: $0.grownCapacity) }
        current.store(UInt(bitPattern: Unmanaged.passRetained(new).toOpaque()), ordering: .sequentiallyConsistent)
        synchronize()
        old.release()
    }

    /// Applies `change` to the table under the writer lock, with room for one insert.
    @inlinable
    func write<R>(_ change: (VersionedTable<Key, Value>, inout TableEvents) -> R) -> R {
        if writerLock.lock() { counters?.countContention() }
        var events = TableEvents()
        if table._withUnsafeGuaranteedRef({ $0.isFullForInsert }) { grow() }
        let result = table._withUnsafeGuaranteedRef { table in
            let result = change(table, &events)
            if table.retiredKeys.count + table.retiredValues.count >= Self.retireLimit {
                synchronize()
                table.retiredKeys.removeAll(keepingCapacity: true)
                table.retiredValues.removeAll(keepingCapacity: true)
            }
            return result
        }
        writerLock.unlock()
        events.record(into: counters)
        return result
    }

    /// Runs `body` with the table under the writer lock (writers wait, readers go on).
    @inlinable
    func withWriterLock<R>(_ body: (VersionedTable<Key, Value>) -> R) -> R {
        if writerLock.lock() { counters?.countContention() }
        defer { writerLock.unlock() }
        return table._withUnsafeGuaranteedRef(body)
    }

    @inlinable
    func get(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        read { $0.lookUp(key, hash: hash, now: now) }
    }

    @inlinable
    func contains(_ key: Key, hash: UInt64, now: UInt64) -> Bool {
        read { $0.lookUp(key, hash: hash, now: now) } != nil
    }

    @inlinable
    func put(_ key: Key, hash: UInt64, value: Value, size: Int, now: UInt64) -> Bool {
        write { table, events in
            table.policyPut(key, hash: hash, value: value, size: size, now: now, policy: policy, events: &events)
        }
    }

    @inlinable
    func delete(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        write { table, events in
            table.policyDelete(key, hash: hash, now: now, policy: policy, events: &events)
        }
    }

    @inlinable
    func compareAndSet(
        _ key: Key, hash: UInt64, now: UInt64, matches: @escaping @Sendable (Value?) -> Bool, new: Value?, size: Int
    ) -> WriteOutcome<Value> {
        write { table, events in
            table.policyCompareAndSet(key, hash: hash, now: now, policy: policy, events: &events, matches: matches, new: new, size: size)
        }
    }

    @usableFromInline
    func entries(now: UInt64) -> [(Key, Value)] {
        withWriterLock { table in
            var result: [(Key, Value)] = []
            result.reserveCapacity(table.count)
            table.liveEntries(now: now, policy: policy, into: &result)
            return result
        }
    }

    @usableFromInline
    func entriesWithWriteTimes() -> [(Key, Value, UInt64)] {
        withWriterLock { table in
            var result: [(Key, Value, UInt64)] = []
            table.entriesWithWriteTimes(policy: policy, into: &result)
            return result
        }
    }

    @inlinable
    var count: Int { read { $0.publishedCount.load(ordering: .relaxed) } }

    @usableFromInline
    var estimatedBytes: Int { withWriterLock { $0.estimatedBytes } + 2048 }

    @usableFromInline
    func removeExpired(now: UInt64) -> Int {
        let removed = write { table, _ in table.removeAllExpired(now: now) }
        counters?.countExpirations(removed)
        return removed
    }
}
