import Synchronization

/// What a map's limits ask of every table operation: ttl, `max_entries` and what to do when full.
@usableFromInline
struct EntryPolicy: Sendable {
    /// Nanoseconds an entry lives after its last write; 0 for no ttl.
    @usableFromInline let ttl: UInt64
    /// `Int.max` when unlimited.
    @usableFromInline let maxEntries: Int
    @usableFromInline let evictsLRU: Bool
    /// Whether tables keep per-slot byte sizes (for `estimatedBytes`).
    @usableFromInline let isSized: Bool

    /// The same policy without `max_entries` (for shards, whose engine enforces the global limit).
    @inlinable var unlimited: EntryPolicy { EntryPolicy(ttl: ttl, maxEntries: .max, evictsLRU: evictsLRU, isSized: isSized) }

    @inlinable
    init(ttl: UInt64, maxEntries: Int, evictsLRU: Bool, isSized: Bool) {
        self.ttl = ttl
        self.maxEntries = maxEntries
        self.evictsLRU = evictsLRU
        self.isSized = isSized
    }

    /// A recency list is kept when entries expire (write order) or are evicted (use order).
    @inlinable var isOrdered: Bool { ttl != 0 || evictsLRU }
    @inlinable var isLimited: Bool { maxEntries != Int.max }

    @inlinable
    func deadline(now: UInt64) -> UInt64 { ttl == 0 ? 0 : now &+ ttl }

    func makeTable<Key: Hashable, Value>(hasher: KeyHasher, minimumCapacity: Int) -> FlatTable<Key, Value> {
        FlatTable(minimumCapacity: minimumCapacity, hasher: hasher, isOrdered: isOrdered, isTimed: ttl != 0, isSized: isSized)
    }
}

/// Evictions and expirations that one operation caused, counted after its lock is released.
@usableFromInline
struct TableEvents {
    @usableFromInline var evictions = 0
    @usableFromInline var expirations = 0

    @inlinable
    init() {}

    @inlinable
    func record(into counters: MapCounters?) {
        guard let counters, evictions | expirations != 0 else { return }
        counters.countEvictions(evictions)
        counters.countExpirations(expirations)
    }
}

/// How a write ended.
@usableFromInline
enum WriteOutcome<Value> {
    case applied
    /// At `max_entries` with `on_full: reject`.
    case full
    case removed(Value?)
    case compared(Bool)
}

/// The operations of one table under a map's limits; callers hold whatever lock their strategy needs.
extension FlatTable {
    /// - Parameters:
    ///   - exclusive: the caller may modify the table (remove an expired entry, refresh LRU order).
    ///   - touches: the read counts as a use for LRU order (`get` does, `contains` does not).
    @inlinable
    func policyGet(
        _ key: Key, hash: UInt64, now: UInt64, policy: EntryPolicy, exclusive: Bool, touches: Bool = true, events: inout TableEvents
    ) -> Value? {
        let index = find(key, hash: hash)
        if index < 0 { return nil }
        if policy.ttl != 0 && isExpired(index, now: now) {
            if exclusive {
                remove(at: index)
                events.expirations += 1
            }
            return nil
        }
        if exclusive && touches && policy.evictsLRU { touch(index) }
        return slots[index].value
    }

    /// Inserts or replaces; `false` when the table is full and the policy rejects.
    ///
    /// Deterministic given the table's contents and `now`, which the left-right engine relies on.
    @inlinable
    func policyPut(_ key: Key, hash: UInt64, value: Value, size: Int, now: UInt64, policy: EntryPolicy, events: inout TableEvents)
        -> Bool
    {
        let deadline = policy.deadline(now: now)
        let index = find(key, hash: hash)
        if index >= 0 {
            update(at: index, value: value, deadline: deadline, size: size)
        } else {
            if count >= policy.maxEntries {
                events.expirations += sweep(now: now, budget: 16)
                if count >= policy.maxEntries {
                    guard policy.evictsLRU, policy.maxEntries > 0 else { return false }
                    while count >= policy.maxEntries, head >= 0 {
                        remove(at: Int(head))
                        events.evictions += 1
                    }
                }
            }
            insertNew(key, hash: hash, value: value, deadline: deadline, size: size)
        }
        if policy.ttl != 0 { events.expirations += sweep(now: now, budget: 2) }
        return true
    }

    @inlinable
    func policyDelete(_ key: Key, hash: UInt64, now: UInt64, policy: EntryPolicy, events: inout TableEvents) -> Value? {
        let index = find(key, hash: hash)
        if index < 0 { return nil }
        if policy.ttl != 0 && isExpired(index, now: now) {
            remove(at: index)
            events.expirations += 1
            return nil
        }
        let value = remove(at: index)
        if policy.ttl != 0 { events.expirations += sweep(now: now, budget: 2) }
        return value
    }

    /// Replaces the entry with `new` (nil removes) when `matches` accepts the current value (nil when absent).
    @inlinable
    func policyCompareAndSet(
        _ key: Key, hash: UInt64, now: UInt64, policy: EntryPolicy, events: inout TableEvents,
        matches: (Value?) -> Bool, new: Value?, size: Int
    ) -> WriteOutcome<Value> {
        var index = find(key, hash: hash)
        if index >= 0 && policy.ttl != 0 && isExpired(index, now: now) {
            remove(at: index)
            events.expirations += 1
            index = -1
        }
        let current: Value? = index >= 0 ? slots[index].value : nil
        guard matches(current) else { return .compared(false) }
        if let new {
            guard policyPut(key, hash: hash, value: new, size: size, now: now, policy: policy, events: &events) else { return .full }
        } else if index >= 0 {
            remove(at: index)
        }
        return .compared(true)
    }

    /// Live entries (expired ones left out), oldest first when ordered.
    @inlinable
    func liveEntries(now: UInt64, policy: EntryPolicy, into result: inout [(Key, Value)]) {
        if policy.ttl == 0 {
            forEach { result.append(($0, $1)) }
            return
        }
        let deadlines = deadlines.unsafelyUnwrapped
        var cursor = head
        let links = links.unsafelyUnwrapped
        while cursor >= 0 {
            let index = Int(cursor)
            if deadlines[index] > now { result.append((slots[index].key, slots[index].value)) }
            cursor = links[index].next
        }
    }

    /// Entries with their write time (0 when the map has no ttl), for a schema change's plan.
    @usableFromInline
    func entriesWithWriteTimes(policy: EntryPolicy, into result: inout [(Key, Value, UInt64)]) {
        if policy.ttl == 0 {
            forEach { result.append(($0, $1, 0)) }
            return
        }
        let deadlines = deadlines.unsafelyUnwrapped
        var cursor = head
        let links = links.unsafelyUnwrapped
        while cursor >= 0 {
            let index = Int(cursor)
            result.append((slots[index].key, slots[index].value, deadlines[index] &- policy.ttl))
            cursor = links[index].next
        }
    }
}

extension FlatTable {
    /// Calls `body` with each entry in slots `start..<start + limit` (slot order) and its last write
    /// time (0 without ttl), without copying anything out; returns the slot to go on from, or nil at the
    /// end. Lets a long scan release its lock between chunks (``LiveMap/visitEntries(_:)``).
    @inlinable
    func visitEntries(from start: Int, limit: Int, ttl: UInt64, _ body: (Key, Value, UInt64) -> Void) -> Int? {
        let end = min(start + limit, capacity)
        if start >= end { return nil }
        for index in start..<end where control[index] >= 0x80 {
            body(slots[index].key, slots[index].value, ttl == 0 ? 0 : deadlines.unsafelyUnwrapped[index] &- ttl)
        }
        return end < capacity ? end : nil
    }
}
