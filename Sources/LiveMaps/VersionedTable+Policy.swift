/// The writer's operations on a ``VersionedTable`` under a map's limits: the same semantics as
/// ``FlatTable``'s (EntryPolicy.swift), for the `snapshot` strategy. Callers hold the writer lock and
/// have made room for one insert (``VersionedTable/isFullForInsert``).
extension VersionedTable {
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
        let current: Value? = index >= 0 ? value(at: index) : nil
        guard matches(current) else { return .compared(false) }
        if let new {
            guard policyPut(key, hash: hash, value: new, size: size, now: now, policy: policy, events: &events) else { return .full }
        } else if index >= 0 {
            remove(at: index)
        }
        return .compared(true)
    }

    /// Removes expired entries from the oldest end of the recency list, at most `budget` of them.
    @inlinable
    func sweep(now: UInt64, budget: Int) -> Int {
        guard isTimed, isOrdered else { return 0 }
        var removed = 0
        while removed < budget, head >= 0, deadline(at: Int(head)) <= now {
            remove(at: Int(head))
            removed += 1
        }
        return removed
    }

    @usableFromInline
    func removeAllExpired(now: UInt64) -> Int {
        guard isTimed else { return 0 }
        var removed = 0
        for index in 0..<capacity where isFull(index) && deadline(at: index) <= now {
            remove(at: index)
            removed += 1
        }
        return removed
    }

    /// Calls `body` with every entry and its deadline: in recency order (oldest first) when ordered,
    /// else in slot order.
    @inlinable
    func forEach(_ body: (Key, Value, UInt64) -> Void) {
        if let links {
            var cursor = head
            while cursor >= 0 {
                let index = Int(cursor)
                body(key(at: index), value(at: index), deadline(at: index))
                cursor = links[index].next
            }
        } else {
            for index in 0..<capacity where isFull(index) { body(key(at: index), value(at: index), deadline(at: index)) }
        }
    }

    /// Live entries (expired ones left out), oldest first when ordered.
    @inlinable
    func liveEntries(now: UInt64, policy: EntryPolicy, into result: inout [(Key, Value)]) {
        forEach { key, value, deadline in
            if policy.ttl == 0 || deadline > now { result.append((key, value)) }
        }
    }

    /// Entries with their write time (0 when the map has no ttl).
    @usableFromInline
    func entriesWithWriteTimes(policy: EntryPolicy, into result: inout [(Key, Value, UInt64)]) {
        forEach { key, value, deadline in result.append((key, value, policy.ttl == 0 ? 0 : deadline &- policy.ttl)) }
    }

    /// Calls `body` with each entry in slots `start..<start + limit` and its last write time; returns
    /// the slot to go on from, or nil at the end (``LiveMap/visitEntries(_:)``).
    @inlinable
    func visitEntries(from start: Int, limit: Int, ttl: UInt64, _ body: (Key, Value, UInt64) -> Void) -> Int? {
        let end = min(start + limit, capacity)
        if start >= end { return nil }
        for index in start..<end where isFull(index) {
            body(key(at: index), value(at: index), ttl == 0 ? 0 : deadline(at: index) &- ttl)
        }
        return end < capacity ? end : nil
    }
}
