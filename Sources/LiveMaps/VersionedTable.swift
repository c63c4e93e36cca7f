import Synchronization

/// An open-addressing table that one writer changes in place while any number of readers read it
/// without a lock: the table of the `snapshot` strategy (one copy of the entries instead of left-right's two).
///
/// - Slots come in groups of 8. A group is 16 bytes: its 8 control bytes in one word (0 empty,
///   1 deleted, `0x80 | 7 hash bits` full; compared 8 at a time, SWAR) and a version word. A reader
///   loads the group (one cache line with its neighbours), then the slot of a tag match, then the
///   version again: equal and even, the slot was not being written (a seqlock per group, as xsync
///   keeps one per bucket). The writer makes the version odd around every change of a group.
/// - Entries are stored as 64-bit words in `Atomic`s: a reader may load a slot while the writer stores
///   it (the version check throws such a read away), which is only defined behaviour (and only clean
///   under ThreadSanitizer) for atomic loads. A key or value is rebuilt from its words only after the
///   check, so a reader never follows a reference from a half-written slot.
/// - Nothing a reader may still hold is freed in place: a key or value that is overwritten or removed
///   (when not plain bytes) goes to `retiredKeys` / `retiredValues`, and a rehash leaves the old table
///   intact; the owning engine frees both only after every reader that could see them has left
///   (``SnapshotEngine``'s grace period).
/// - Linear probing from `hash × capacity >> 64`, growth by 1.5×, at most 7/8 full, as ``FlatTable``:
///   18 bytes per slot for `UInt64 → Int64` (16 of entry, 2 of group), about 24 per entry at 1M.
///
/// Writer-only state (recency links, sizes, counts, the retired lists) is touched only by the thread
/// holding the engine's writer lock.
@usableFromInline
final class VersionedTable<Key: Hashable, Value> {
    @usableFromInline
    struct Group: ~Copyable {
        @usableFromInline let control = Atomic<UInt64>(0)
        @usableFromInline let version = Atomic<UInt64>(0)

        @inlinable
        init() {}
    }

    @usableFromInline let groups: UnsafeMutablePointer<Group>
    @usableFromInline let words: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let capacity: Int
    @usableFromInline let growthLimit: Int
    @usableFromInline let isOrdered: Bool
    @usableFromInline let isTimed: Bool
    @usableFromInline let isSized: Bool
    @usableFromInline let hasher: KeyHasher
    /// `count`, readable by readers.
    @usableFromInline let publishedCount = Atomic<Int>(0)
    @exclusivity(unchecked) @usableFromInline var links: UnsafeMutablePointer<FlatTable<Key, Value>.Link>?
    @exclusivity(unchecked) @usableFromInline var sizes: UnsafeMutablePointer<UInt32>?
    @exclusivity(unchecked) @usableFromInline var count = 0
    @exclusivity(unchecked) @usableFromInline var tombstones = 0
    @exclusivity(unchecked) @usableFromInline var head: Int32 = -1
    @exclusivity(unchecked) @usableFromInline var tail: Int32 = -1
    @exclusivity(unchecked) @usableFromInline var payloadBytes = 0
    /// Overwritten and removed keys and values, kept alive until the engine's next grace period.
    @exclusivity(unchecked) @usableFromInline var retiredKeys: [Key] = []
    @exclusivity(unchecked) @usableFromInline var retiredValues: [Value] = []
    /// Set when a rehash moved the entries to another table: then `deinit` leaves them alone.
    @exclusivity(unchecked) @usableFromInline var movedOut = false

    @usableFromInline
    convenience init(minimumCapacity: Int, hasher: KeyHasher, isOrdered: Bool, isTimed: Bool, isSized: Bool) {
        self.init(
            capacity: Self.capacity(forCount: minimumCapacity), hasher: hasher, isOrdered: isOrdered, isTimed: isTimed, isSized: isSized)
    }

    /// - Parameter capacity: slots, a multiple of 8, at least 16.
    @usableFromInline
    init(capacity: Int, hasher: KeyHasher, isOrdered: Bool, isTimed: Bool, isSized: Bool) {
        precondition(
            MemoryLayout<Key>.alignment <= 8 && MemoryLayout<Value>.alignment <= 8, "keys and values must be 8-byte aligned at most")
        self.hasher = hasher
        self.isOrdered = isOrdered
        self.isTimed = isTimed
        self.isSized = isSized
        self.capacity = capacity
        growthLimit = capacity - capacity / 8
        groups = TableMemory.allocate(Group.self, capacity: capacity / 8)
        for index in 0..<(capacity / 8) { (groups + index).initialize(to: Group()) }
        // Zero-filled (TableMemory): every word an initialized atomic.
        words = TableMemory.allocate(Atomic<UInt64>.self, capacity: capacity * Self.slotWords(timed: isTimed))
        if isOrdered { links = TableMemory.allocate(FlatTable<Key, Value>.Link.self, capacity: capacity) }
        if isSized { sizes = TableMemory.allocate(UInt32.self, capacity: capacity) }
    }

    deinit {
        // Read once, not per entry (deinit runs unspecialized; see FlatTable's), and no walk at all when
        // neither keys nor values need releasing.
        let keyIsPlain = Self.keyIsPlain
        let valueIsPlain = Self.valueIsPlain
        if !movedOut && !(keyIsPlain && valueIsPlain) {
            for index in 0..<capacity where isFull(index) {
                if !keyIsPlain { _ = moveKey(at: index) }
                if !valueIsPlain { _ = moveValue(at: index) }
            }
        }
        groups.deinitialize(count: capacity / 8)
        TableMemory.release(groups, capacity: capacity / 8)
        TableMemory.release(words, capacity: capacity * slotWords)
        if let links { TableMemory.release(links, capacity: capacity) }
        if let sizes { TableMemory.release(sizes, capacity: capacity) }
    }

    // MARK: - Layout

    /// A multiple of 8, at least 16, with room for `count` below the 7/8 limit.
    @inlinable
    static func capacity(forCount count: Int) -> Int { (max(16, count + count / 7 + 2) + 7) & ~7 }

    @inlinable static var keyWords: Int { (MemoryLayout<Key>.size + 7) / 8 }
    @inlinable static var valueWords: Int { (MemoryLayout<Value>.size + 7) / 8 }
    @inlinable static var keyIsPlain: Bool { _isPOD(Key.self) }
    @inlinable static var valueIsPlain: Bool { _isPOD(Value.self) }
    /// Key and value are each one plain word (`UInt64 → Int64` and the like): the fast paths.
    @inlinable static var isTwoWords: Bool {
        keyIsPlain && valueIsPlain && MemoryLayout<Key>.size == 8 && MemoryLayout<Value>.size == 8
    }

    /// Words per slot: key, value, and the deadline when entries expire.
    @inlinable
    static func slotWords(timed: Bool) -> Int { keyWords + valueWords + (timed ? 1 : 0) }

    @inlinable var slotWords: Int { Self.slotWords(timed: isTimed) }

    @inlinable
    func slot(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt64>> { words + index &* slotWords }

    @inlinable
    func home(_ hash: UInt64) -> Int {
        Int(truncatingIfNeeded: hash.multipliedFullWidth(by: UInt64(truncatingIfNeeded: capacity)).high)
    }

    @inlinable
    static func tag(_ hash: UInt64) -> UInt64 { UInt64(UInt8(truncatingIfNeeded: hash) | 0x80) }

    @inlinable
    func controlByte(_ index: Int) -> UInt64 {
        (groups[index &>> 3].control.load(ordering: .relaxed) &>> UInt64((index & 7) &* 8)) & 0xFF
    }

    @inlinable
    func isFull(_ index: Int) -> Bool { controlByte(index) >= 0x80 }

    // MARK: - SWAR over a group's 8 control bytes

    @inlinable static var lows: UInt64 { 0x0101_0101_0101_0101 }
    @inlinable static var highs: UInt64 { 0x8080_8080_8080_8080 }

    /// The high bit of every byte of `word` that is exactly 0 (no false positives: no carries between bytes).
    @inlinable
    static func zeroBytes(_ word: UInt64) -> UInt64 {
        let low7 = (word & ~highs) &+ ~highs
        return ~(low7 | word | ~highs)
    }

    /// Bytes at or after `offset` (0...7), as high bits.
    @inlinable
    static func from(_ offset: Int) -> UInt64 { highs &<< UInt64(offset &* 8) }

    /// Among candidate bytes, those before the first empty one, and whether an empty one was found.
    @inlinable
    static func beforeEmpty(_ candidates: UInt64, empties: UInt64) -> UInt64 {
        empties == 0 ? candidates : candidates & ((empties & (0 &- empties)) &- 1)
    }

    // MARK: - Words in and out

    /// Copies `count` words from `source` into raw memory (relaxed loads).
    @inlinable
    static func copyWords(_ source: UnsafeMutablePointer<Atomic<UInt64>>, _ count: Int, into raw: UnsafeMutableRawPointer) {
        for word in 0..<count { raw.storeBytes(of: source[word].load(ordering: .relaxed), toByteOffset: word &* 8, as: UInt64.self) }
    }

    @inlinable
    static func storeWords(_ raw: UnsafeRawPointer, _ count: Int, into target: UnsafeMutablePointer<Atomic<UInt64>>) {
        for word in 0..<count { target[word].store(raw.load(fromByteOffset: word &* 8, as: UInt64.self), ordering: .relaxed) }
    }

    /// A copy of the key in `index` (retained when it holds references).
    @inlinable
    func key(at index: Int) -> Key {
        let base = slot(index)
        if Self.keyIsPlain && MemoryLayout<Key>.size == 8 { return unsafeBitCast(base[0].load(ordering: .relaxed), to: Key.self) }
        return withUnsafeTemporaryAllocation(byteCount: Self.keyWords &* 8, alignment: 8) { buffer in
            let raw = buffer.baseAddress.unsafelyUnwrapped
            Self.copyWords(base, Self.keyWords, into: raw)
            return raw.load(as: Key.self)
        }
    }

    /// A copy of the value in `index`.
    @inlinable
    func value(at index: Int) -> Value {
        let base = slot(index) + Self.keyWords
        if Self.valueIsPlain && MemoryLayout<Value>.size == 8 { return unsafeBitCast(base[0].load(ordering: .relaxed), to: Value.self) }
        return withUnsafeTemporaryAllocation(byteCount: Self.valueWords &* 8, alignment: 8) { buffer in
            let raw = buffer.baseAddress.unsafelyUnwrapped
            Self.copyWords(base, Self.valueWords, into: raw)
            return raw.load(as: Value.self)
        }
    }

    @inlinable
    func deadline(at index: Int) -> UInt64 {
        isTimed ? slot(index)[Self.keyWords &+ Self.valueWords].load(ordering: .relaxed) : 0
    }

    /// Takes the table's reference to the key in `index` (the slot's words are left as they are).
    @inlinable
    func moveKey(at index: Int) -> Key {
        withUnsafeTemporaryAllocation(byteCount: Self.keyWords &* 8, alignment: 8) { buffer in
            let raw = buffer.baseAddress.unsafelyUnwrapped
            Self.copyWords(slot(index), Self.keyWords, into: raw)
            return raw.bindMemory(to: Key.self, capacity: 1).move()
        }
    }

    @inlinable
    func moveValue(at index: Int) -> Value {
        withUnsafeTemporaryAllocation(byteCount: Self.valueWords &* 8, alignment: 8) { buffer in
            let raw = buffer.baseAddress.unsafelyUnwrapped
            Self.copyWords(slot(index) + Self.keyWords, Self.valueWords, into: raw)
            return raw.bindMemory(to: Value.self, capacity: 1).move()
        }
    }

    /// Stores a value (and deadline) into `index`'s words; the table owns it from then on.
    @inlinable
    func storeValue(_ value: Value, deadline: UInt64, at index: Int) {
        let base = slot(index) + Self.keyWords
        if Self.valueIsPlain && MemoryLayout<Value>.size == 8 {
            base[0].store(unsafeBitCast(value, to: UInt64.self), ordering: .relaxed)
        } else {
            withUnsafeTemporaryAllocation(byteCount: Self.valueWords &* 8, alignment: 8) { buffer in
                let raw = buffer.baseAddress.unsafelyUnwrapped
                raw.initializeMemory(as: UInt64.self, repeating: 0, count: Self.valueWords)
                raw.initializeMemory(as: Value.self, to: value)
                Self.storeWords(raw, Self.valueWords, into: base)
            }
        }
        if isTimed { base[Self.valueWords].store(deadline, ordering: .relaxed) }
    }

    @inlinable
    func storeKey(_ key: Key, at index: Int) {
        let base = slot(index)
        if Self.keyIsPlain && MemoryLayout<Key>.size == 8 {
            base[0].store(unsafeBitCast(key, to: UInt64.self), ordering: .relaxed)
            return
        }
        withUnsafeTemporaryAllocation(byteCount: Self.keyWords &* 8, alignment: 8) { buffer in
            let raw = buffer.baseAddress.unsafelyUnwrapped
            raw.initializeMemory(as: UInt64.self, repeating: 0, count: Self.keyWords)
            raw.initializeMemory(as: Key.self, to: key)
            Self.storeWords(raw, Self.keyWords, into: base)
        }
    }

    // MARK: - Writer side (the engine's writer lock held)

    /// Makes `index`'s group odd (readers of it retry) for the duration of `change`.
    @inlinable
    func changing<R>(_ index: Int, _ change: () -> R) -> R {
        let group = groups + (index &>> 3)
        let version = group.pointee.version.load(ordering: .relaxed)
        group.pointee.version.store(version &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        let result = change()
        group.pointee.version.store(version &+ 2, ordering: .releasing)
        return result
    }

    @inlinable
    func setControl(_ index: Int, _ byte: UInt64) {
        let group = groups + (index &>> 3)
        let shift = UInt64((index & 7) &* 8)
        let word = group.pointee.control.load(ordering: .relaxed)
        group.pointee.control.store((word & ~(0xFF &<< shift)) | (byte &<< shift), ordering: .relaxed)
    }

    /// The slot holding `key`, or -1 (writer side: no version checks).
    @inlinable
    func find(_ key: Key, hash: UInt64) -> Int {
        let pattern = Self.tag(hash) &* Self.lows
        let start = home(hash)
        var group = start &>> 3
        var offset = start & 7
        while true {
            let control = groups[group].control.load(ordering: .relaxed)
            let mask = Self.from(offset)
            let empties = Self.zeroBytes(control) & mask
            var candidates = Self.beforeEmpty(Self.zeroBytes(control ^ pattern) & mask, empties: empties)
            while candidates != 0 {
                let index = group &* 8 &+ candidates.trailingZeroBitCount &>> 3
                if self.key(at: index) == key { return index }
                candidates &= candidates &- 1
            }
            if empties != 0 { return -1 }
            group &+= 1
            if group &* 8 == capacity { group = 0 }
            offset = 0
        }
    }

    /// Whether an insert must first rehash (the engine does it, then publishes the new table).
    @inlinable
    var isFullForInsert: Bool { count &+ tombstones >= growthLimit }

    /// Inserts a key known to be absent (room checked with ``isFullForInsert``); returns its slot.
    @inlinable
    @discardableResult
    func insertNew(_ key: Key, hash: UInt64, value: Value, deadline: UInt64, size: Int) -> Int {
        var index = home(hash)
        while controlByte(index) >= 0x80 {
            index &+= 1
            if index == capacity { index = 0 }
        }
        if controlByte(index) == 1 { tombstones -= 1 }
        changing(index) {
            storeKey(key, at: index)
            storeValue(value, deadline: deadline, at: index)
            setControl(index, Self.tag(hash))
        }
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
        changing(index) {
            if !Self.valueIsPlain { retiredValues.append(moveValue(at: index)) }
            storeValue(value, deadline: deadline, at: index)
        }
        if let sizes {
            payloadBytes += size - Int(sizes[index])
            sizes[index] = UInt32(clamping: size)
        }
        touch(index)
    }

    @inlinable
    func touch(_ index: Int) {
        guard isOrdered, Int32(truncatingIfNeeded: index) != tail else { return }
        unlink(index)
        linkAtTail(index)
    }

    /// Removes the entry in an occupied slot and returns (a copy of) its value; the table's own
    /// references are retired.
    @inlinable
    @discardableResult
    func remove(at index: Int) -> Value {
        let value = self.value(at: index)
        if isOrdered { unlink(index) }
        if let sizes { payloadBytes -= Int(sizes[index]) }
        let next = index + 1 == capacity ? 0 : index + 1
        changing(index) {
            if !Self.keyIsPlain { retiredKeys.append(moveKey(at: index)) }
            if !Self.valueIsPlain { retiredValues.append(moveValue(at: index)) }
            setControl(index, controlByte(next) == 0 ? 0 : 1)
        }
        if controlByte(index) == 0 {
            // End of a probe run: the tombstones before it become empty too. No reader needs them:
            // a key is only ever found before the first empty slot after its home, and these slots
            // are all after every live key of the run.
            var previous = index == 0 ? capacity - 1 : index - 1
            while controlByte(previous) == 1 {
                setControl(previous, 0)
                tombstones -= 1
                previous = previous == 0 ? capacity - 1 : previous - 1
            }
        } else {
            tombstones += 1
        }
        count -= 1
        publishedCount.store(count, ordering: .relaxed)
        return value
    }

    @inlinable
    func isExpired(_ index: Int, now: UInt64) -> Bool { isTimed && deadline(at: index) <= now }

    @inlinable
    func linkAtTail(_ index: Int) {
        let links = links.unsafelyUnwrapped
        let position = Int32(truncatingIfNeeded: index)
        links[index] = .init(previous: tail, next: -1)
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

    /// The capacity a rehash should move to: 1.5× when mostly full, the same when tombstones made it look full.
    @usableFromInline
    var grownCapacity: Int { tombstones > count / 2 ? capacity : capacity + capacity / 2 }

    /// A new table of `newCapacity` slots holding every entry of this one, moved bit for bit (this table
    /// stays readable as it was and gives up its entries: readers may go on in it until the engine's
    /// grace period ends). The retired lists stay here, freed with this table.
    @inlinable
    func rehashed(to newCapacity: Int) -> VersionedTable {
        let table = VersionedTable(
            capacity: max(16, (newCapacity + 7) & ~7), hasher: hasher, isOrdered: isOrdered, isTimed: isTimed, isSized: isSized)
        let wordsPerSlot = slotWords
        func place(_ old: Int) {
            let hash = hasher.hash(key(at: old))
            var index = table.home(hash)
            while table.controlByte(index) != 0 {
                index &+= 1
                if index == table.capacity { index = 0 }
            }
            table.setControl(index, Self.tag(hash))
            let from = slot(old)
            let to = table.slot(index)
            for word in 0..<wordsPerSlot { to[word].store(from[word].load(ordering: .relaxed), ordering: .relaxed) }
            if let sizes { table.sizes.unsafelyUnwrapped[index] = sizes[old] }
            if isOrdered { table.linkAtTail(index) }
        }
        if let links {
            var cursor = head
            while cursor >= 0 {
                place(Int(cursor))
                cursor = links[Int(cursor)].next
            }
        } else {
            for old in 0..<capacity where isFull(old) { place(old) }
        }
        table.count = count
        table.payloadBytes = payloadBytes
        table.publishedCount.store(count, ordering: .relaxed)
        movedOut = true
        return table
    }

    /// Bytes held: groups, slots, extras and payload.
    @usableFromInline
    var estimatedBytes: Int {
        var perSlot = 2 + slotWords * 8
        if isOrdered { perSlot += MemoryLayout<FlatTable<Key, Value>.Link>.stride }
        if isSized { perSlot += 4 }
        return capacity * perSlot + payloadBytes
    }
}
