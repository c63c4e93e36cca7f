import Synchronization

/// One shard's lock and its table, alone on a 64-byte line (the engine allocates them at that stride).
///
/// The table is created by the shard's first write: an unused shard costs this line only, so an empty
/// 64-shard map costs about 4 KiB of shards instead of 64 tables of 16 slots.
@usableFromInline
struct ShardCell: ~Copyable {
    @usableFromInline let lock = SpinLock()
    /// The table as `Unmanaged` bits, 0 until the first write. Stored once, under `lock`, with a
    /// releasing store, and never changed after; lock-free readers (``ShardedEngine/count``) load it
    /// acquiring.
    @usableFromInline let table = Atomic<UInt>(0)

    @usableFromInline
    init() {}
}

/// The `mutex` (one shard) and `sharded` (2^k shards picked by hash bits) strategies.
///
/// `max_entries` is global: a shared count is kept, touched only by inserts and removals of limited maps
/// (not by reads or overwrites), and a new key reserves room in it before it is inserted. With
/// `evict_lru`, room is made by evicting the least recently used entry of the key's own shard
/// (segmented LRU, as Guava's cache does); only when that shard is empty is another shard's evicted.
@usableFromInline
final class ShardedEngine<Key: Hashable & Sendable, Value: Sendable>: MapEngine, @unchecked Sendable {
    // @unchecked: the shard cells hold a lock and an atomic table reference; a table (a non-Sendable
    // class) is only read or written by a thread that holds its shard's lock (every access below and in
    // DynamicMap+Carry is between lock() and unlock()), except `publishedCount`, which is atomic. The
    // lock's acquire/release orderings make each holder see the previous one's writes.
    /// `shardMask + 1` cells at a 64-byte stride: no retain/release of a shard object per operation
    /// (reading a class reference out of an array retains it, an atomic write to a shared header).
    @usableFromInline let cells: UnsafeMutableRawPointer
    @usableFromInline let shardMask: Int
    @usableFromInline let policy: EntryPolicy
    @usableFromInline let hasher: KeyHasher
    @usableFromInline let counters: MapCounters?
    /// Entries in all shards; maintained only when `policy.isLimited`.
    @usableFromInline let total = Atomic<Int>(0)

    @usableFromInline static var cellStride: Int { 64 }

    init(shardCount: Int, policy: EntryPolicy, hasher: KeyHasher, minimumCapacity: Int, counters: MapCounters?) {
        var count = 1
        while count < max(1, shardCount) { count <<= 1 }
        self.shardMask = count - 1
        self.policy = policy
        self.hasher = hasher
        self.counters = counters
        cells = .allocate(byteCount: count * Self.cellStride, alignment: Self.cellStride)
        for index in 0..<count {
            (cells + index * Self.cellStride).bindMemory(to: ShardCell.self, capacity: 1).initialize(to: ShardCell())
        }
        if minimumCapacity > 0 {
            let perShard = minimumCapacity / count
            for index in 0..<count { _ = withLockedTable(index, creating: true, minimumCapacity: perShard) { _ in } }
        }
    }

    deinit {
        for index in 0...shardMask {
            let cell = self.cell(index)
            let bits = cell.pointee.table.load(ordering: .acquiring)
            if bits != 0 { Unmanaged<FlatTable<Key, Value>>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release() }
            cell.deinitialize(count: 1)
        }
        cells.deallocate()
    }

    @inlinable
    func cell(_ index: Int) -> UnsafeMutablePointer<ShardCell> {
        (cells + index &* Self.cellStride).assumingMemoryBound(to: ShardCell.self)
    }

    @inlinable
    func shardIndex(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 7) & shardMask }

    /// The table of a locked cell, or nil before its first write.
    @inlinable
    func table(of cell: UnsafeMutablePointer<ShardCell>) -> Unmanaged<FlatTable<Key, Value>>? {
        let bits = cell.pointee.table.load(ordering: .acquiring)
        if bits == 0 { return nil }
        return Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: bits).unsafelyUnwrapped)
    }

    /// The table of a locked cell, created if needed (inline: every write asks; only a shard's first creates).
    @inlinable
    func makeTable(in cell: UnsafeMutablePointer<ShardCell>, minimumCapacity: Int = 0) -> Unmanaged<FlatTable<Key, Value>> {
        if let existing = table(of: cell) { return existing }
        return createTable(in: cell, minimumCapacity: minimumCapacity)
    }

    @usableFromInline
    func createTable(in cell: UnsafeMutablePointer<ShardCell>, minimumCapacity: Int) -> Unmanaged<FlatTable<Key, Value>> {
        let table = Unmanaged.passRetained(policy.makeTable(hasher: hasher, minimumCapacity: minimumCapacity) as FlatTable<Key, Value>)
        cell.pointee.table.store(UInt(bitPattern: table.toOpaque()), ordering: .releasing)
        return table
    }

    /// Calls `body` with shard `index`'s table under its lock; without `creating`, not at all (nil)
    /// when the shard has no table yet.
    @inlinable
    func withLockedTable<R>(_ index: Int, creating: Bool, minimumCapacity: Int = 0, _ body: (FlatTable<Key, Value>) -> R) -> R? {
        let cell = self.cell(index)
        acquire(cell)
        defer { cell.pointee.lock.unlock() }
        let table = creating ? makeTable(in: cell, minimumCapacity: minimumCapacity) : self.table(of: cell)
        return table?._withUnsafeGuaranteedRef(body)
    }

    @inlinable
    func acquire(_ cell: UnsafeMutablePointer<ShardCell>) {
        if cell.pointee.lock.lock() { counters?.countContention() }
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
        let start = shardIndex(hash)
        var events = TableEvents()
        for offset in 1...(shardMask + 1) {
            let evicted =
                withLockedTable((start + offset) & shardMask, creating: false) { table in
                    guard table.head >= 0 else { return false }
                    var before = table.count
                    table.remove(at: Int(table.head))
                    settle(table, &before)
                    return true
                } ?? false
            if evicted {
                events.evictions += 1
                break
            }
        }
        events.record(into: counters)
    }

    @inlinable
    func get(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        let cell = self.cell(shardIndex(hash))
        acquire(cell)
        guard let table = table(of: cell) else {
            cell.pointee.lock.unlock()
            return nil
        }
        var events = TableEvents()
        let value = table._withUnsafeGuaranteedRef { table in
            var before = table.count
            let value = table.policyGet(key, hash: hash, now: now, policy: policy, exclusive: true, events: &events)
            if policy.isLimited { settle(table, &before) }
            return value
        }
        cell.pointee.lock.unlock()
        events.record(into: counters)
        return value
    }

    @inlinable
    func contains(_ key: Key, hash: UInt64, now: UInt64) -> Bool {
        var events = TableEvents()
        let found =
            withLockedTable(shardIndex(hash), creating: false) { table in
                var before = table.count
                let found =
                    table.policyGet(key, hash: hash, now: now, policy: policy, exclusive: true, touches: false, events: &events) != nil
                if policy.isLimited { settle(table, &before) }
                return found
            } ?? false
        events.record(into: counters)
        return found
    }

    @inlinable
    func put(_ key: Key, hash: UInt64, value: Value, size: Int, now: UInt64) -> Bool {
        let cell = self.cell(shardIndex(hash))
        var events = TableEvents()
        // No `defer` for the events: it compiled to an out-of-line call on every write.
        while true {
            acquire(cell)
            let stored: Bool? = makeTable(in: cell)._withUnsafeGuaranteedRef { table in
                if !policy.isLimited {
                    _ = table.policyPut(key, hash: hash, value: value, size: size, now: now, policy: policy, events: &events)
                    return true
                }
                var before = table.count
                if table.find(key, hash: hash) < 0 {
                    switch makeRoom(table, now: now, before: &before, events: &events) {
                    case .ready: break
                    case .full: return false
                    case .elsewhere: return nil
                    }
                }
                _ = table.policyPut(key, hash: hash, value: value, size: size, now: now, policy: policy.unlimited, events: &events)
                settle(table, &before)
                return true
            }
            cell.pointee.lock.unlock()
            if let stored {
                events.record(into: counters)
                return stored
            }
            evictElsewhere(after: hash)
        }
    }

    @inlinable
    func delete(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        var events = TableEvents()
        let value: Value?? = withLockedTable(shardIndex(hash), creating: false) { table in
            var before = table.count
            let value = table.policyDelete(key, hash: hash, now: now, policy: policy, events: &events)
            if policy.isLimited { settle(table, &before) }
            return value
        }
        events.record(into: counters)
        return value ?? nil
    }

    @inlinable
    func compareAndSet(
        _ key: Key, hash: UInt64, now: UInt64, matches: @escaping @Sendable (Value?) -> Bool, new: Value?, size: Int
    ) -> WriteOutcome<Value> {
        let cell = self.cell(shardIndex(hash))
        var events = TableEvents()
        while true {
            acquire(cell)
            let outcome: WriteOutcome<Value>? = makeTable(in: cell)._withUnsafeGuaranteedRef { table in
                var before = table.count
                if policy.isLimited, new != nil {
                    let index = table.find(key, hash: hash)
                    let isLive = index >= 0 && !(policy.ttl != 0 && table.isExpired(index, now: now))
                    let current: Value? = isLive ? table.slots[index].value : nil
                    if !matches(current) { return .compared(false) }
                    if !isLive {
                        if index >= 0 {
                            table.remove(at: index)
                            events.expirations += 1
                            settle(table, &before)
                        }
                        switch makeRoom(table, now: now, before: &before, events: &events) {
                        case .ready: break
                        case .full: return .full
                        case .elsewhere: return nil
                        }
                    }
                }
                let outcome = table.policyCompareAndSet(
                    key, hash: hash, now: now, policy: policy.unlimited, events: &events, matches: matches, new: new, size: size)
                if policy.isLimited { settle(table, &before) }
                return outcome
            }
            cell.pointee.lock.unlock()
            if let outcome {
                events.record(into: counters)
                return outcome
            }
            evictElsewhere(after: hash)
        }
    }

    /// Locks every shard (in index order, so concurrent snapshots cannot deadlock) for one point in time
    /// and calls `body` with the tables that exist (a shard with no table holds nothing, and while its
    /// lock is held no write can create one).
    func withAllShardsLocked<R>(_ body: ([FlatTable<Key, Value>]) -> R) -> R {
        var tables: [FlatTable<Key, Value>] = []
        for index in 0...shardMask {
            let cell = self.cell(index)
            acquire(cell)
            if let table = table(of: cell) { tables.append(table.takeUnretainedValue()) }
        }
        defer { for index in (0...shardMask).reversed() { cell(index).pointee.lock.unlock() } }
        return body(tables)
    }

    @usableFromInline
    func entries(now: UInt64) -> [(Key, Value)] {
        withAllShardsLocked { tables in
            var result: [(Key, Value)] = []
            result.reserveCapacity(count)
            for table in tables { table.liveEntries(now: now, policy: policy, into: &result) }
            return result
        }
    }

    @usableFromInline
    func entriesWithWriteTimes() -> [(Key, Value, UInt64)] {
        withAllShardsLocked { tables in
            var result: [(Key, Value, UInt64)] = []
            for table in tables { table.entriesWithWriteTimes(policy: policy, into: &result) }
            return result
        }
    }

    /// Exact for limited maps (the global count); for unlimited ones a sum of per-shard counts read one
    /// after another, so only approximate while other threads write.
    @inlinable
    var count: Int {
        if policy.isLimited { return total.load(ordering: .relaxed) }
        var sum = 0
        for index in 0...shardMask {
            if let table = table(of: cell(index)) {
                sum += table._withUnsafeGuaranteedRef { $0.publishedCount.load(ordering: .relaxed) }
            }
        }
        return sum
    }

    @usableFromInline
    var estimatedBytes: Int {
        var sum = Self.cellStride * (shardMask + 1)
        for index in 0...shardMask {
            sum += withLockedTable(index, creating: false) { $0.estimatedBytes + 160 } ?? 0
        }
        return sum
    }

    @usableFromInline
    func removeExpired(now: UInt64) -> Int {
        var removed = 0
        for index in 0...shardMask {
            removed +=
                withLockedTable(index, creating: false) { table in
                    var before = table.count
                    let removed = table.removeAllExpired(now: now)
                    if policy.isLimited { settle(table, &before) }
                    return removed
                } ?? 0
        }
        var events = TableEvents()
        events.expirations = removed
        events.record(into: counters)
        return removed
    }
}
