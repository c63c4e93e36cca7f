import Synchronization

/// One queued write of the `serialized` strategy, completed by whichever thread applies its batch.
@usableFromInline
final class PendingWrite<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    // @unchecked: `outcome` is written once, by the combining thread, before its releasing store of
    // `isDone`; the submitting thread reads it only after an acquiring load of `isDone` returned true.
    // `change` is immutable and @Sendable.
    @usableFromInline let change: @Sendable (FlatTable<Key, Value>, inout TableEvents) -> WriteOutcome<Value>
    @usableFromInline let isDone = Atomic<Bool>(false)
    @usableFromInline var outcome: WriteOutcome<Value> = .applied

    @inlinable
    init(_ change: @escaping @Sendable (FlatTable<Key, Value>, inout TableEvents) -> WriteOutcome<Value>) {
        self.change = change
    }
}

/// The `serialized` strategy: writes are queued and applied in batches by one writer at a time.
///
/// There is no dedicated writer thread to start or stop: writers enqueue and then either wait or, when
/// nobody is applying, become the writer themselves (flat combining) and apply up to `batch.max_size`
/// queued writes under one exclusive acquisition of the table's lock. A write returns when its batch has
/// been applied. A batch is taken as soon as a writer is free, so no write waits for `batch.max_delay`
/// to pass; `max_delay` is an upper bound that this design never needs. Reads share the lock as in `rwlock`.
@usableFromInline
final class SerializedEngine<Key: Hashable & Sendable, Value: Sendable>: MapEngine, @unchecked Sendable {
    // @unchecked: reads and the table go through `reads` (see RWLockEngine's proof): batches are applied
    // under its exclusive lock. `queue` guards itself; `isCombining` is atomic; the rest is immutable.
    @usableFromInline let reads: RWLockEngine<Key, Value>
    @usableFromInline let queue = WriteQueue<Key, Value>()
    @usableFromInline let isCombining = Atomic<Bool>(false)
    @usableFromInline let maxBatch: Int

    init(policy: EntryPolicy, hasher: KeyHasher, minimumCapacity: Int, batch: Int, counters: MapCounters?) {
        reads = RWLockEngine(policy: policy, hasher: hasher, minimumCapacity: minimumCapacity, counters: counters)
        maxBatch = max(1, batch)
    }

    @inlinable
    var policy: EntryPolicy { reads.policy }

    /// Applies `change` at once when no writer is active: the calling thread becomes the writer, applies it
    /// as a batch of one under the exclusive lock, with no queue entry and no allocation, then applies what
    /// others queued meanwhile. Nil when another thread is the writer: the caller queues (``submit(_:)``).
    ///
    /// Linearizable as the queued path is: the write takes effect under the exclusive lock, between the
    /// call and its return; writes queued but not yet applied have not returned, so ordering this one first
    /// is a valid order.
    @inlinable
    func applyAlone<Outcome>(_ change: (FlatTable<Key, Value>, inout TableEvents) -> Outcome) -> Outcome? {
        guard queue.isEmpty,
            isCombining.compareExchange(expected: false, desired: true, successOrdering: .acquiring, failureOrdering: .relaxed)
                .exchanged
        else { return nil }
        var events = TableEvents()
        let outcome = reads.withWriteLock { change(reads.table, &events) }
        events.record(into: reads.counters)
        drainQueue()
        isCombining.store(false, ordering: .releasing)
        return outcome
    }

    /// As the one writer: applies whatever is queued, batch by batch, until the queue is empty.
    @usableFromInline
    func drainQueue() {
        while !queue.isEmpty {
            let batch = queue.take(upTo: maxBatch)
            if batch.isEmpty { return }
            apply(batch)
        }
    }

    /// Queues `change` and returns its outcome once applied.
    @inlinable
    func submit(_ change: @escaping @Sendable (FlatTable<Key, Value>, inout TableEvents) -> WriteOutcome<Value>) -> WriteOutcome<Value> {
        let pending = PendingWrite(change)
        queue.append(pending)
        var backoff = Backoff()
        while !pending.isDone.load(ordering: .acquiring) {
            if isCombining.compareExchange(expected: false, desired: true, successOrdering: .acquiring, failureOrdering: .relaxed)
                .exchanged
            {
                combine(until: pending)
                isCombining.store(false, ordering: .releasing)
            } else {
                backoff.wait()
            }
        }
        return pending.outcome
    }

    /// As the one writer: applies queued batches until `mine` has been applied.
    @usableFromInline
    func combine(until mine: PendingWrite<Key, Value>) {
        while !mine.isDone.load(ordering: .acquiring) {
            let batch = queue.take(upTo: maxBatch)
            if batch.isEmpty { return }
            apply(batch)
        }
    }

    /// Applies one batch under one exclusive acquisition and releases its writers.
    @usableFromInline
    func apply(_ batch: [PendingWrite<Key, Value>]) {
        var events = TableEvents()
        reads.withWriteLock {
            for pending in batch {
                pending.outcome = pending.change(reads.table, &events)
            }
        }
        for pending in batch { pending.isDone.store(true, ordering: .releasing) }
        events.record(into: reads.counters)
    }

    @inlinable
    func get(_ key: Key, hash: UInt64, now: UInt64) -> Value? { reads.get(key, hash: hash, now: now) }

    @inlinable
    func contains(_ key: Key, hash: UInt64, now: UInt64) -> Bool { reads.contains(key, hash: hash, now: now) }

    @inlinable
    func put(_ key: Key, hash: UInt64, value: Value, size: Int, now: UInt64) -> Bool {
        let policy = self.policy
        if let stored = applyAlone({ table, events in
            table.policyPut(key, hash: hash, value: value, size: size, now: now, policy: policy, events: &events)
        }) {
            return stored
        }
        let outcome = submit { table, events in
            table.policyPut(key, hash: hash, value: value, size: size, now: now, policy: policy, events: &events) ? .applied : .full
        }
        if case .full = outcome { return false }
        return true
    }

    @inlinable
    func delete(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        let policy = self.policy
        if let removed = applyAlone({ table, events in table.policyDelete(key, hash: hash, now: now, policy: policy, events: &events) }) {
            return removed
        }
        let outcome = submit { table, events in
            .removed(table.policyDelete(key, hash: hash, now: now, policy: policy, events: &events))
        }
        if case .removed(let value) = outcome { return value }
        return nil
    }

    @inlinable
    func compareAndSet(
        _ key: Key, hash: UInt64, now: UInt64, matches: @escaping @Sendable (Value?) -> Bool, new: Value?, size: Int
    ) -> WriteOutcome<Value> {
        let policy = self.policy
        if let outcome = applyAlone({ table, events in
            table.policyCompareAndSet(key, hash: hash, now: now, policy: policy, events: &events, matches: matches, new: new, size: size)
        }) {
            return outcome
        }
        return submit { table, events in
            table.policyCompareAndSet(key, hash: hash, now: now, policy: policy, events: &events, matches: matches, new: new, size: size)
        }
    }

    @usableFromInline
    func entries(now: UInt64) -> [(Key, Value)] { reads.entries(now: now) }

    @usableFromInline
    func entriesWithWriteTimes() -> [(Key, Value, UInt64)] { reads.entriesWithWriteTimes() }

    @inlinable
    var count: Int { reads.count }

    @usableFromInline
    var estimatedBytes: Int { reads.estimatedBytes }

    @usableFromInline
    func removeExpired(now: UInt64) -> Int { reads.removeExpired(now: now) }
}

/// The queue of pending writes, behind a ``SpinLock``.
///
/// Not `Synchronization.Mutex`: its Linux implementation synchronizes inside the (uninstrumented) standard
/// library, so ThreadSanitizer cannot see it and reports the guarded array as racing.
@usableFromInline
final class WriteQueue<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    // @unchecked: `items` is only touched between lock.lock() and lock.unlock().
    @usableFromInline let lock = SpinLock()
    @usableFromInline var items: [PendingWrite<Key, Value>] = []

    @usableFromInline
    init() {}

    /// Writes queued and not yet taken.
    @usableFromInline let queued = Atomic<Int>(0)

    /// No write is waiting: a relaxed hint (a write queued a moment later finds a writer, or becomes one).
    @inlinable
    var isEmpty: Bool { queued.load(ordering: .relaxed) == 0 }

    @inlinable
    func append(_ item: PendingWrite<Key, Value>) {
        lock.lock()
        items.append(item)
        queued.store(items.count, ordering: .relaxed)
        lock.unlock()
    }

    /// Removes and returns the oldest `limit` items (or all).
    @usableFromInline
    func take(upTo limit: Int) -> [PendingWrite<Key, Value>] {
        lock.lock()
        defer {
            queued.store(items.count, ordering: .relaxed)
            lock.unlock()
        }
        if items.count <= limit {
            defer { items.removeAll(keepingCapacity: true) }
            return items
        }
        defer { items.removeFirst(limit) }
        return Array(items.prefix(limit))
    }
}
