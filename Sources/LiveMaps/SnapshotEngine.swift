import Synchronization

/// The `snapshot` strategy: readers take no lock and never wait; writers copy each change to a second table.
///
/// This is the left-right technique (Ramalhete and Correia, 2015). Two tables hold the same entries.
/// Readers read whichever table `active` names, after announcing themselves in the reader indicator of the
/// current `version` (a striped counter on their own cache line: no cache line is shared by two reading
/// cores, no retain/release of a shared object). The one writer at a time applies a change to the
/// inactive table, publishes it by flipping `active`, waits until no reader can still be in the other
/// table (toggling `version` and draining both indicators), then applies the same change there.
///
/// Why not an atomically swapped immutable table: a full copy per write costs O(n), and safe reclamation
/// of the old table needs the same reader indicators anyway; an `Atomic` reference with ARC would make
/// every reader retain one shared object, which is a shared cache-line write per read.
///
/// Reads see a consistent point in time; ``entries(now:)`` copies one table while holding a reader
/// indicator (writers wait for the copy). Reads do not refresh LRU order, so with `evict_lru` the
/// entry written longest ago is evicted first.
@usableFromInline
final class SnapshotEngine<Key: Hashable & Sendable, Value: Sendable>: MapEngine, @unchecked Sendable {
    // @unchecked: `left` and `right` are non-Sendable tables. A writer (holding `writerLock`) modifies only
    // the table that `active` does not name, and the other one only after waitUntilEmpty() proved that every
    // reader that could have loaded the old `active` has departed (seq-cst arrive/load in readers against
    // seq-cst store/scan in the writer). Readers only read. So a table is never written while read.
    @usableFromInline let left: FlatTable<Key, Value>
    @usableFromInline let right: FlatTable<Key, Value>
    /// `left` and `right` without reference counting for readers (kept alive by the two properties).
    @usableFromInline let unmanagedLeft: Unmanaged<FlatTable<Key, Value>>
    @usableFromInline let unmanagedRight: Unmanaged<FlatTable<Key, Value>>
    @usableFromInline let active = Atomic<Int>(0)
    @usableFromInline let version = Atomic<Int>(0)
    @usableFromInline let indicator0 = ReaderIndicator()
    @usableFromInline let indicator1 = ReaderIndicator()
    @usableFromInline let writerLock = SpinLock()
    @usableFromInline let policy: EntryPolicy
    @usableFromInline let counters: MapCounters?

    init(policy: EntryPolicy, hasher: KeyHasher, minimumCapacity: Int, counters: MapCounters?) {
        self.policy = policy
        self.counters = counters
        left = policy.makeTable(hasher: hasher, minimumCapacity: minimumCapacity)
        right = policy.makeTable(hasher: hasher, minimumCapacity: minimumCapacity)
        unmanagedLeft = .passUnretained(left)
        unmanagedRight = .passUnretained(right)
    }

    @inlinable
    func read<R>(_ body: (FlatTable<Key, Value>) -> R) -> R {
        let stripe = indicator0.currentStripe()
        let currentVersion = version.load(ordering: .sequentiallyConsistent)
        if currentVersion == 0 { indicator0.arrive(stripe) } else { indicator1.arrive(stripe) }
        // Unmanaged: choosing one of two references makes a new one, which Swift retains and releases,
        // an atomic write to the table's header shared by every reading core.
        let table = active.load(ordering: .sequentiallyConsistent) == 0 ? unmanagedLeft : unmanagedRight
        let result = table._withUnsafeGuaranteedRef(body)
        if currentVersion == 0 { indicator0.depart(stripe) } else { indicator1.depart(stripe) }
        return result
    }

    /// Applies `change` to both tables; it must be deterministic (same tables, same `now`, same outcome).
    @inlinable
    func write<R>(_ change: (FlatTable<Key, Value>, inout TableEvents) -> R) -> R {
        if writerLock.lock() { counters?.countContention() }
        var events = TableEvents()
        let front = active.load(ordering: .relaxed)
        let result = (front == 0 ? unmanagedRight : unmanagedLeft)._withUnsafeGuaranteedRef { change($0, &events) }
        active.store(1 - front, ordering: .sequentiallyConsistent)
        let currentVersion = version.load(ordering: .relaxed)
        if currentVersion == 0 {
            indicator1.waitUntilEmpty()
            version.store(1, ordering: .sequentiallyConsistent)
            indicator0.waitUntilEmpty()
        } else {
            indicator0.waitUntilEmpty()
            version.store(0, ordering: .sequentiallyConsistent)
            indicator1.waitUntilEmpty()
        }
        var ignored = TableEvents()
        _ = (front == 0 ? unmanagedLeft : unmanagedRight)._withUnsafeGuaranteedRef { change($0, &ignored) }
        writerLock.unlock()
        events.record(into: counters)
        return result
    }

    @inlinable
    func get(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        var events = TableEvents()
        return read { $0.policyGet(key, hash: hash, now: now, policy: policy, exclusive: false, events: &events) }
    }

    @inlinable
    func contains(_ key: Key, hash: UInt64, now: UInt64) -> Bool {
        var events = TableEvents()
        return read { $0.policyGet(key, hash: hash, now: now, policy: policy, exclusive: false, events: &events) } != nil
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
        read { table in
            var result: [(Key, Value)] = []
            result.reserveCapacity(table.count)
            table.liveEntries(now: now, policy: policy, into: &result)
            return result
        }
    }

    @usableFromInline
    func entriesWithWriteTimes() -> [(Key, Value, UInt64)] {
        read { table in
            var result: [(Key, Value, UInt64)] = []
            table.entriesWithWriteTimes(policy: policy, into: &result)
            return result
        }
    }

    @inlinable
    var count: Int { read { $0.publishedCount.load(ordering: .relaxed) } }

    @usableFromInline
    var estimatedBytes: Int { read { $0.estimatedBytes } * 2 + 2048 }

    @usableFromInline
    func removeExpired(now: UInt64) -> Int {
        let removed = write { table, _ in table.removeAllExpired(now: now) }
        counters?.countExpirations(removed)
        return removed
    }
}
