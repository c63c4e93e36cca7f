import Synchronization

/// The lock-free read of ``VersionedTable``, and its writer's operations under a map's limits
/// (the same semantics as ``FlatTable``'s in EntryPolicy.swift).
extension VersionedTable {
    /// The value for `key` (nil when absent or expired), read without a lock while the writer may be
    /// changing the table. The caller keeps the table alive (the engine's reader indicator).
    ///
    /// Per group: load its version (acquiring; odd means a change is under way: wait), its control
    /// bytes, and the words of each tag match; then the version again. A changed version throws the
    /// group's reading away and reads it again. Only then are the words turned into a key and value.
    @inlinable
    func lookUp(_ key: Key, hash: UInt64, now: UInt64) -> Value? {
        let pattern = Self.tag(hash) &* Self.lows
        let start = home(hash)
        var group = start &>> 3
        var offset = start & 7
        var backoff = Backoff()
        var isFirst = true
        while true {
            let cell = groups + group
            let version = cell.pointee.version.load(ordering: .acquiring)
            if version & 1 != 0 {
                backoff.wait()
                continue
            }
            // The home slot's words are loaded before the control bytes say where the key is, so that
            // both cache misses are under way at once; usually the key is in its home slot.
            let homeKey: UInt64
            let homeValue: UInt64
            if Self.isTwoWords && !isTimed && isFirst {
                homeKey = slot(start)[0].load(ordering: .relaxed)
                homeValue = slot(start)[1].load(ordering: .relaxed)
            } else {
                homeKey = 0
                homeValue = 0
            }
            let control = cell.pointee.control.load(ordering: .relaxed)
            let mask = Self.from(offset)
            let empties = Self.zeroBytes(control) & mask
            var candidates = Self.beforeEmpty(Self.zeroBytes(control ^ pattern) & mask, empties: empties)
            var torn = false
            while candidates != 0 {
                let index = group &* 8 &+ candidates.trailingZeroBitCount &>> 3
                candidates &= candidates &- 1
                if Self.isTwoWords && !isTimed {
                    let words = slot(index)
                    let candidateKey = isFirst && index == start ? homeKey : words[0].load(ordering: .relaxed)
                    let candidateValue = isFirst && index == start ? homeValue : words[1].load(ordering: .relaxed)
                    atomicMemoryFence(ordering: .acquiring)
                    if cell.pointee.version.load(ordering: .relaxed) != version {
                        torn = true
                        break
                    }
                    if unsafeBitCast(candidateKey, to: Key.self) == key { return unsafeBitCast(candidateValue, to: Value.self) }
                    continue
                }
                switch readSlot(index, key: key, now: now, group: cell, version: version) {
                case .torn: torn = true
                case .other: continue
                case .expired: return nil
                case .found(let value): return value
                }
                break
            }
            if torn {
                backoff.wait()
                continue
            }
            if empties != 0 { return nil }
            isFirst = false
            group &+= 1
            if group &* 8 == capacity { group = 0 }
            offset = 0
        }
    }

    @usableFromInline
    enum SlotRead {
        case torn, other, expired
        case found(Value)
    }

    /// One tag match of ``lookUp(_:hash:now:)`` for any key and value type: the slot's words are
    /// copied, the copy is checked against the group's version, and only a consistent copy is turned
    /// into a key (to compare) and a value (to return); its references are alive until this reader leaves.
    @inlinable
    func readSlot(_ index: Int, key: Key, now: UInt64, group: UnsafeMutablePointer<Group>, version: UInt64) -> SlotRead {
        withUnsafeTemporaryAllocation(byteCount: slotWords &* 8, alignment: 8) { buffer in
            let raw = buffer.baseAddress.unsafelyUnwrapped
            Self.copyWords(slot(index), slotWords, into: raw)
            atomicMemoryFence(ordering: .acquiring)
            if group.pointee.version.load(ordering: .relaxed) != version { return .torn }
            guard raw.load(as: Key.self) == key else { return .other }
            if isTimed && raw.load(fromByteOffset: (Self.keyWords &+ Self.valueWords) &* 8, as: UInt64.self) <= now {
                return .expired  // absent for readers; the writer removes it later
            }
            return .found(raw.load(fromByteOffset: Self.keyWords &* 8, as: Value.self))
        }
    }
}
