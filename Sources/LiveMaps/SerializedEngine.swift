import Synchronization

/// One write of the `serialized` strategy, as the writing thread hands it to whichever thread applies it.
@usableFromInline
enum SerializedWrite<Key: Hashable & Sendable, Value: Sendable> {
    case put(Key, hash: UInt64, value: Value, size: Int, now: UInt64)
    case delete(Key, hash: UInt64, now: UInt64)
    case compareAndSet(Key, hash: UInt64, now: UInt64, matches: @Sendable (Value?) -> Bool, new: Value?, size: Int)
}

/// A published write and, once a combiner has applied it, its outcome. It lives on the waiting
/// thread's stack; ``CombiningSlots`` carries its address.
@usableFromInline
struct WriteRequest<Key: Hashable & Sendable, Value: Sendable> {
    @usableFromInline let write: SerializedWrite<Key, Value>
    @usableFromInline var outcome: WriteOutcome<Value> = .applied

    @inlinable
    init(_ write: SerializedWrite<Key, Value>) { self.write = write }
}

/// The `serialized` strategy: writes are applied in batches by one writer at a time.
///
/// There is no dedicated writer thread to start or stop. The writer's role is the table lock's writer
/// lock. A writer that takes it (flat combining) excludes the readers and applies its own write, then up
/// to `batch.max_size` − 1 writes that others published meanwhile; further published writes follow in
/// batches of `batch.max_size`, the readers let in between. A writer that finds the role taken publishes
/// its write in a ``CombiningSlots`` slot (no allocation: the request stays on its stack) and waits until
/// it is applied, taking the role itself if it falls free first. A write returns when it has been
/// applied. A batch is taken as soon as a writer is free, so no write waits for `batch.max_delay` to
/// pass; `max_delay` is an upper bound that this design never needs. Reads share the lock as in `rwlock`.
///
/// Before this design (2026-12-03) a contended write allocated a queue entry and a closure, queued them
/// behind a spin lock and slept in `sched_yield`: at 2 threads `serialized` wrote at 0.20–0.34 of Go's
/// Mutex map (BENCHMARKS.md, "Live maps").
///
/// Linearizable: every write takes effect under the exclusive lock, between its call and its return.
@usableFromInline
final class SerializedEngine<Key: Hashable & Sendable, Value: Sendable>: MapEngine, @unchecked Sendable {
    // @unchecked: reads and the table go through `reads` (see RWLockEngine's proof): writes are applied
    // by the one thread that holds its writer lock, with the readers excluded. A published request is written
    // by its thread before the releasing claim of its slot and read by the combiner after an acquiring
    // load of the slot; the combiner writes its outcome before the releasing store that frees the slot,
    // and the waiter reads it after an acquiring load sees the slot freed. The waiter does not return (so
    // the request's stack frame lives) until then. The rest is immutable.
    @usableFromInline let reads: RWLockEngine<Key, Value>
    @usableFromInline let slots = CombiningSlots()
    @usableFromInline let maxBatch: Int

    init(policy: EntryPolicy, hasher: KeyHasher, minimumCapacity: Int, batch: Int, counters: MapCounters?) {
        reads = RWLockEngine(policy: policy, hasher: hasher, minimumCapacity: minimumCapacity, counters: counters)
        maxBatch = max(1, batch)
    }

    @inlinable
    var policy: EntryPolicy { reads.policy }

    /// Applies `write` and returns its outcome once applied: at once, as the writer, when no other thread
    /// is one; else published for the writer.
    ///
    @inlinable
    func perform(_ write: SerializedWrite<Key, Value>) -> WriteOutcome<Value> {
        guard reads.lock.writerLock.tryLock() else { return publish(write) }
        var events = TableEvents()
        if reads.lock.excludeReaders() { reads.counters?.countContention() }
        let outcome = apply(write, &events)
        if slots.hasPending { applyPublished(limit: maxBatch &- 1, &events) }
        reads.lock.readmitReaders()
        if slots.hasPending { combinePublished() }
        reads.lock.writerLock.unlock()
        events.record(into: reads.counters)
        return outcome
    }

    /// Publishes `write` in the thread's slot and waits until a writer has applied it; becomes the writer
    /// whenever the role is free. Counted as contention: the write waited for another.
    @inlinable
    func publish(_ write: SerializedWrite<Key, Value>) -> WriteOutcome<Value> {
        reads.counters?.countContention()
        var request = WriteRequest(write)
        return withUnsafeMutablePointer(to: &request) { pointer in
            let slot = CombiningSlots.current()
            let address = UInt(bitPattern: pointer)
            var backoff = Backoff()
            // Another thread's request holds the slot: serve it, or wait for its writer.
            while !slots.claim(slot, address) { combineOrWait(&backoff) }
            slots.announce(slot)
            // A combiner serves a published write within a few writes' time: spin longer before yielding.
            backoff = Backoff(spinRounds: 64)
            while slots.holds(slot, address) { combineOrWait(&backoff) }
            return pointer.pointee.outcome
        }
    }

    /// One step of a waiting writer: takes the writer's role and serves the published writes if the role
    /// is free, else backs off.
    @inlinable
    func combineOrWait(_ backoff: inout Backoff) {
        if reads.lock.writerLock.tryLock() {
            combinePublished()
            reads.lock.writerLock.unlock()
        } else {
            backoff.wait()
        }
    }

    /// As the writer (holding the writer lock): applies the published writes, `maxBatch` under each
    /// exclusion of the readers, in a bounded number of passes (a writer that never stops finding work
    /// would never return).
    @inlinable
    func combinePublished() {
        for _ in 0..<4 {
            guard slots.hasPending else { return }
            var events = TableEvents()
            if reads.lock.excludeReaders() { reads.counters?.countContention() }
            applyPublished(limit: maxBatch, &events)
            reads.lock.readmitReaders()
            events.record(into: reads.counters)
        }
    }

    /// Applies up to `limit` published writes and frees their slots; the caller has the table alone.
    @inlinable
    func applyPublished(limit: Int, _ events: inout TableEvents) {
        guard limit > 0 else { return }
        var taken = slots.takePending()
        var applied = 0
        while taken != 0, applied < limit {
            let slot = taken.trailingZeroBitCount
            taken &= taken &- 1
            let request = UnsafeMutablePointer<WriteRequest<Key, Value>>(bitPattern: slots.request(slot)).unsafelyUnwrapped
            request.pointee.outcome = apply(request.pointee.write, &events)
            slots.serve(slot)
            applied &+= 1
        }
        // Past the batch size: left for the next pass (or the next writer).
        if taken != 0 { slots.restore(taken) }
    }

    /// Applies one write to the table; the caller holds the exclusive lock.
    @inlinable
    func apply(_ write: SerializedWrite<Key, Value>, _ events: inout TableEvents) -> WriteOutcome<Value> {
        // Unretained: `reads` holds the table for the engine's life (a strong `let` here cost a retain and
        // a release per write).
        Unmanaged.passUnretained(reads.table)._withUnsafeGuaranteedRef { table in apply(write, to: table, &events) }
    }

    @inlinable
    func apply(_ write: SerializedWrite<Key, Value>, to table: FlatTable<Key, Value>, _ events: inout TableEvents) -> WriteOutcome<Value> {
        switch write {
        case .put(let key, let hash, let value, let size, let now):
            return table.policyPut(key, hash: hash, value: value, size: size, now: now, policy: policy, events: &events) ? .applied : .full
        case .delete(let key, let hash, let now):
            return .removed(table.policyDelete(key, hash: hash, now: now, policy: policy, events: &events))
        case .compareAndSet(let key, let hash, let now, let matches, let new, let size):
            return table.policyCompareAndSet(
                key, hash: hash, now: now, policy: policy, events: &events, matches: matches, new: new, size: size)
        }
    }

    @inlinable
    func get(_ key: Key, hash: UInt64, now: UInt64) -> Value? { reads.get(key, hash: hash, now: now) }

    @inlinable
    func contains(_ key: Key, hash: UInt64, now: UInt64) -> Bool { reads.contains(key, hash: hash, now: now) }

    @inlinable
    func put(_ key: Key, hash: UInt64, value: Value, size: Int, now: UInt64) -> Bool {
        if case .full = perform(.put(key, hash: hash, value: value, size: size, now: now)) { return false }
        return true
    }

    @inlinable
    func delete(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        if case .removed(let value) = perform(.delete(key, hash: hash, now: now)) { return value }
        return nil
    }

    @inlinable
    func compareAndSet(
        _ key: Key, hash: UInt64, now: UInt64, matches: @escaping @Sendable (Value?) -> Bool, new: Value?, size: Int
    ) -> WriteOutcome<Value> {
        perform(.compareAndSet(key, hash: hash, now: now, matches: matches, new: new, size: size))
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
