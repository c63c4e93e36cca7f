import Synchronization

/// An open-addressing hash table with keys and values stored together in one array.
///
/// Why not `Dictionary`: it keeps keys and values in separate arrays (two dependent cache misses per
/// lookup on a large map) and hashes with SipHash. Here a lookup reads one control byte (the control
/// array is 1/17 of the table and mostly stays in cache) and then one slot holding key and value.
///
/// - Linear probing from `hash × capacity >> 64` (any capacity, not only powers of two, so the table
///   grows by 1.5× and stays dense: about 23 bytes per `UInt64 → Int64` entry at 1M entries).
/// - Control bytes: 0 empty, 1 deleted, `0x80 | 7 hash bits` full, so a probe compares keys only on a
///   tag match (1 in 128 false positives).
/// - Optional per-slot extras, allocated only when the map needs them: a doubly linked recency list
///   (ttl or LRU order), a deadline (ttl), a byte size (byte accounting).
///
/// Not thread-safe: every engine guards its tables with its own protocol. That is also why the stored
/// properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`): those checks cost a
/// thread-local access set insert per property access, about 10 % of a lookup, and the engines' locks
/// already guarantee exclusive access.
@usableFromInline
final class FlatTable<Key: Hashable, Value> {
    @usableFromInline
    struct Slot {
        @usableFromInline var key: Key
        @usableFromInline var value: Value

        @inlinable
        init(key: Key, value: Value) {
            self.key = key
            self.value = value
        }
    }

    @usableFromInline
    struct Link {
        @usableFromInline var previous: Int32
        @usableFromInline var next: Int32

        @inlinable
        init(previous: Int32, next: Int32) {
            self.previous = previous
            self.next = next
        }
    }

    @exclusivity(unchecked) @usableFromInline var control: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) @usableFromInline var slots: UnsafeMutablePointer<Slot>
    @exclusivity(unchecked) @usableFromInline var links: UnsafeMutablePointer<Link>?
    @exclusivity(unchecked) @usableFromInline var deadlines: UnsafeMutablePointer<UInt64>?
    @exclusivity(unchecked) @usableFromInline var sizes: UnsafeMutablePointer<UInt32>?
    @exclusivity(unchecked) @usableFromInline var capacity: Int
    @exclusivity(unchecked) @usableFromInline var growthLimit: Int
    @exclusivity(unchecked) @usableFromInline var count = 0
    @exclusivity(unchecked) @usableFromInline var tombstones = 0
    @exclusivity(unchecked) @usableFromInline var head: Int32 = -1
    @exclusivity(unchecked) @usableFromInline var tail: Int32 = -1
    /// Sum of `sizes` (bytes outside the slots, such as string storage).
    @exclusivity(unchecked) @usableFromInline var payloadBytes = 0
    @usableFromInline let isOrdered: Bool
    @usableFromInline let isTimed: Bool
    @usableFromInline let isSized: Bool
    /// `count`, readable from any thread without the table's lock.
    @usableFromInline let publishedCount = Atomic<Int>(0)
    /// The hash the owning engine uses for this table's keys (needed again when rehashing).
    @usableFromInline let hasher: KeyHasher

    @usableFromInline
    init(minimumCapacity: Int, hasher: KeyHasher, isOrdered: Bool, isTimed: Bool, isSized: Bool) {
        self.hasher = hasher
        self.isOrdered = isOrdered
        self.isTimed = isTimed
        self.isSized = isSized
        let capacity = Self.capacity(forCount: minimumCapacity)
        self.capacity = capacity
        self.growthLimit = Self.growthLimit(capacity)
        // Zero-filled (TableMemory): control bytes all empty, plain-bytes slots initialized.
        control = TableMemory.allocate(UInt8.self, capacity: capacity)
        slots = TableMemory.allocate(Slot.self, capacity: capacity)
        if isOrdered { links = TableMemory.allocate(Link.self, capacity: capacity) }
        if isTimed { deadlines = TableMemory.allocate(UInt64.self, capacity: capacity) }
        if isSized { sizes = TableMemory.allocate(UInt32.self, capacity: capacity) }
    }

    deinit {
        // deinit runs unspecialized: `(slots + index).deinitialize(count: 1)` asked the runtime for the
        // metadata of `Slot` on every entry (freeing a 1M-entry table cost ~340M instructions, most of a
        // rebuild's teardown). Here the layout is read once, and keys and values of plain types are skipped.
        if !_isPOD(Key.self) || !_isPOD(Value.self) {
            let stride = MemoryLayout<Slot>.stride
            let keyOffset = MemoryLayout<Slot>.offset(of: \Slot.key) ?? 0
            let valueOffset = MemoryLayout<Slot>.offset(of: \Slot.value) ?? MemoryLayout<Key>.stride
            let base = UnsafeMutableRawPointer(slots)
            for index in 0..<capacity where control[index] >= 0x80 {
                let slot = base + index &* stride
                (slot + keyOffset).assumingMemoryBound(to: Key.self).deinitialize(count: 1)
                (slot + valueOffset).assumingMemoryBound(to: Value.self).deinitialize(count: 1)
            }
        }
        Self.release(control, slots, links, deadlines, sizes, capacity: capacity)
    }

    @usableFromInline
    static func release(
        _ control: UnsafeMutablePointer<UInt8>, _ slots: UnsafeMutablePointer<Slot>, _ links: UnsafeMutablePointer<Link>?,
        _ deadlines: UnsafeMutablePointer<UInt64>?, _ sizes: UnsafeMutablePointer<UInt32>?, capacity: Int
    ) {
        TableMemory.release(control, capacity: capacity)
        TableMemory.release(slots, capacity: capacity)
        if let links { TableMemory.release(links, capacity: capacity) }
        if let deadlines { TableMemory.release(deadlines, capacity: capacity) }
        if let sizes { TableMemory.release(sizes, capacity: capacity) }
    }

    @inlinable
    static func growthLimit(_ capacity: Int) -> Int { capacity - capacity / 8 }

    @inlinable
    static func capacity(forCount count: Int) -> Int { max(16, count + count / 7 + 2) }

    /// Bytes held: slots, control bytes, extras and payload.
    @usableFromInline
    var estimatedBytes: Int {
        var perSlot = MemoryLayout<Slot>.stride + 1
        if isOrdered { perSlot += MemoryLayout<Link>.stride }
        if isTimed { perSlot += 8 }
        if isSized { perSlot += 4 }
        return capacity * perSlot + payloadBytes
    }

    @inlinable
    func home(_ hash: UInt64) -> Int {
        Int(truncatingIfNeeded: hash.multipliedFullWidth(by: UInt64(truncatingIfNeeded: capacity)).high)
    }

    @inlinable
    static func tag(_ hash: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: hash) | 0x80 }

    /// Whether slots are plain bytes (such as `UInt64 → Int64`): then the slot array, zero-filled when
    /// allocated (``TableMemory``), holds an initialized key in every slot even when empty, and ``find(_:hash:)`` may load
    /// the key before it has looked at the control byte.
    @inlinable
    static var isTrivial: Bool { _isPOD(Slot.self) }

    /// The slot holding `key`, or -1.
    @inlinable
    func find(_ key: Key, hash: UInt64) -> Int {
        let tag = Self.tag(hash)
        var index = home(hash)
        if Self.isTrivial {
            // Both loads are issued at once: the control byte and the slot miss the cache in parallel
            // instead of one after the other (measured: see BENCHMARKS.md, "Live maps").
            while true {
                let candidate = slots[index].key
                let byte = control[index]
                if byte == tag && candidate == key { return index }
                if byte == 0 { return -1 }
                index &+= 1
                if index == capacity { index = 0 }
            }
        }
        while true {
            let byte = control[index]
            if byte == tag && slots[index].key == key { return index }
            if byte == 0 { return -1 }
            index &+= 1
            if index == capacity { index = 0 }
        }
    }

    /// Inserts a key known to be absent; returns its slot.
    ///
    /// Key and value are consumed: a caller that holds its own copy (a bulk carry moving entries out of
    /// a buffer) hands it over without a retain here and a release there.
    @inlinable
    @discardableResult
    func insertNew(_ key: consuming Key, hash: UInt64, value: consuming Value, deadline: UInt64, size: Int) -> Int {
        if count + tombstones >= growthLimit { resize() }
        var index = home(hash)
        while control[index] >= 0x80 {
            index &+= 1
            if index == capacity { index = 0 }
        }
        if control[index] == 1 { tombstones -= 1 }
        control[index] = Self.tag(hash)
        (slots + index).initialize(to: Slot(key: key, value: value))
        if let deadlines { deadlines[index] = deadline }
        if let sizes {
            sizes[index] = UInt32(clamping: size)
            payloadBytes += size
        }
        if isOrdered { linkAtTail(index) }
        count += 1
        publishedCount.store(count, ordering: .relaxed)
        return index
    }

    /// Replaces the value in an occupied slot and, in ordered tables, marks it most recent.
    @inlinable
    func update(at index: Int, value: Value, deadline: UInt64, size: Int) {
        slots[index].value = value
        if let deadlines { deadlines[index] = deadline }
        if let sizes {
            payloadBytes += size - Int(sizes[index])
            sizes[index] = UInt32(clamping: size)
        }
        touch(index)
    }

    /// Marks an occupied slot most recently used.
    @inlinable
    func touch(_ index: Int) {
        guard isOrdered, Int32(truncatingIfNeeded: index) != tail else { return }
        unlink(index)
        linkAtTail(index)
    }

    /// Removes the entry in an occupied slot and returns its value.
    @inlinable
    @discardableResult
    func remove(at index: Int) -> Value {
        let slot = (slots + index).move()
        if isOrdered { unlink(index) }
        if let sizes { payloadBytes -= Int(sizes[index]) }
        let next = index + 1 == capacity ? 0 : index + 1
        if control[next] == 0 {
            // End of a probe run: this slot and the tombstones before it become empty again.
            control[index] = 0
            var previous = index == 0 ? capacity - 1 : index - 1
            while control[previous] == 1 {
                control[previous] = 0
                tombstones -= 1
                previous = previous == 0 ? capacity - 1 : previous - 1
            }
        } else {
            control[index] = 1
            tombstones += 1
        }
        count -= 1
        publishedCount.store(count, ordering: .relaxed)
        return slot.value
    }

    @inlinable
    func isExpired(_ index: Int, now: UInt64) -> Bool {
        guard let deadlines else { return false }
        return deadlines[index] <= now
    }

    @inlinable
    func linkAtTail(_ index: Int) {
        let links = links.unsafelyUnwrapped
        let position = Int32(truncatingIfNeeded: index)
        links[index] = Link(previous: tail, next: -1)
        if tail >= 0 { links[Int(tail)].next = position } else { head = position }
        tail = position
    }

    @inlinable
    func unlink(_ index: Int) {
        let links = links.unsafelyUnwrapped
        let link = links[index]
        if link.previous >= 0 { links[Int(link.previous)].next = link.next } else { head = link.next }
        if link.next >= 0 { links[Int(link.next)].previous = link.previous } else { tail = link.previous }
    }

    /// Rehashes into a table sized for the current count (growing by 1.5× when it is mostly full,
    /// or at the same size when tombstones made it look full).
    @inlinable
    func resize() {
        rehash(to: tombstones > count / 2 ? capacity : max(16, capacity + capacity / 2))
    }

    /// Makes room for `total` entries without growing again (a bulk load reserves once instead of
    /// rehashing ~18 times on the way from 16 slots to its final size).
    @inlinable
    func reserve(_ total: Int) {
        let needed = Self.capacity(forCount: total)
        if needed > capacity { rehash(to: needed) }
    }

    /// Rehashes every entry into a table of `newCapacity` slots (at least the count needs).
    @inlinable
    func rehash(to newCapacity: Int) {
        let oldControl = control
        let oldSlots = slots
        let oldLinks = links
        let oldDeadlines = deadlines
        let oldSizes = sizes
        let oldCapacity = capacity
        let oldHead = head

        capacity = newCapacity
        growthLimit = Self.growthLimit(newCapacity)
        control = TableMemory.allocate(UInt8.self, capacity: newCapacity)
        slots = TableMemory.allocate(Slot.self, capacity: newCapacity)
        links = isOrdered ? TableMemory.allocate(Link.self, capacity: newCapacity) : nil
        deadlines = isTimed ? TableMemory.allocate(UInt64.self, capacity: newCapacity) : nil
        sizes = isSized ? TableMemory.allocate(UInt32.self, capacity: newCapacity) : nil
        head = -1
        tail = -1
        tombstones = 0

        func place(_ old: Int) {
            let key = oldSlots[old].key
            let hash = hasher.hash(key)
            var index = home(hash)
            while control[index] != 0 {
                index &+= 1
                if index == capacity { index = 0 }
            }
            control[index] = Self.tag(hash)
            (slots + index).moveInitialize(from: oldSlots + old, count: 1)
            if let deadlines { deadlines[index] = oldDeadlines.unsafelyUnwrapped[old] }
            if let sizes { sizes[index] = oldSizes.unsafelyUnwrapped[old] }
            if isOrdered { linkAtTail(index) }
        }
        if let oldLinks {
            var cursor = oldHead
            while cursor >= 0 {
                let next = oldLinks[Int(cursor)].next
                place(Int(cursor))
                cursor = next
            }
        } else {
            for old in 0..<oldCapacity where oldControl[old] >= 0x80 { place(old) }
        }
        Self.release(oldControl, oldSlots, oldLinks, oldDeadlines, oldSizes, capacity: oldCapacity)
    }

    /// Calls `body` with every entry: in recency order (oldest first) when ordered, else in slot order.
    @inlinable
    func forEach(_ body: (Key, Value) -> Void) {
        if let links {
            var cursor = head
            while cursor >= 0 {
                let index = Int(cursor)
                body(slots[index].key, slots[index].value)
                cursor = links[index].next
            }
        } else {
            for index in 0..<capacity where control[index] >= 0x80 {
                body(slots[index].key, slots[index].value)
            }
        }
    }

    /// Removes expired entries from the oldest end of the recency list, at most `budget` of them.
    ///
    /// In ttl-only tables the list is in write order, which is expiry order, so this finds every expired
    /// entry; with LRU order it stops at the first live entry and the rest expire lazily on access.
    @inlinable
    func sweep(now: UInt64, budget: Int) -> Int {
        guard isTimed, isOrdered else { return 0 }
        var removed = 0
        while removed < budget, head >= 0, deadlines.unsafelyUnwrapped[Int(head)] <= now {
            remove(at: Int(head))
            removed += 1
        }
        return removed
    }

    /// Removes every expired entry, scanning the whole table.
    @usableFromInline
    func removeAllExpired(now: UInt64) -> Int {
        guard let deadlines else { return 0 }
        var removed = 0
        for index in 0..<capacity where control[index] >= 0x80 && deadlines[index] <= now {
            remove(at: index)
            removed += 1
        }
        return removed
    }
}

/// A seeded hash: a multiply-xorshift mix for 64-bit integer keys (a few cycles instead of
/// SipHash's ~11 ns), `Hasher` seeded per map for every other key type.
@usableFromInline
struct KeyHasher: Sendable {
    @usableFromInline let seed: UInt64

    @inlinable
    init(seed: UInt64) { self.seed = seed }

    @inlinable
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x = (x ^ (x >> 32)) &* 0xD6E8_FEB8_6659_FD93
        x = (x ^ (x >> 32)) &* 0xD6E8_FEB8_6659_FD93
        return x ^ (x >> 32)
    }

    @inlinable
    func hash<Key: Hashable>(_ key: Key) -> UInt64 {
        if Key.self == UInt64.self || Key.self == Int64.self || Key.self == Int.self || Key.self == UInt.self {
            return Self.mix(unsafeBitCast(key, to: UInt64.self) ^ seed)
        }
        if Key.self == UInt32.self || Key.self == Int32.self {
            return Self.mix(UInt64(unsafeBitCast(key, to: UInt32.self)) ^ seed)
        }
        if Key.self == MapKey.self {
            // The daemon's integer keys get the integer mix too (SipHash through `Hasher` was ~10 % of a
            // 1M-entry carry, measured with perf). A map holds one key type, so the two integer cases
            // never meet in one table; they are still told apart.
            switch unsafeBitCast(key, to: MapKey.self) {
            case .int64(let value): return Self.mix(UInt64(bitPattern: value) ^ seed)
            case .uint64(let value): return Self.mix(value ^ seed ^ 0x9E37_79B9_7F4A_7C15)
            case .string, .uuid: break
            }
        }
        var hasher = Hasher()
        hasher.combine(seed)
        hasher.combine(key)
        return UInt64(UInt(bitPattern: hasher.finalize()))
    }
}
