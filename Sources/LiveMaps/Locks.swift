import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Backs off while waiting for a lock: spin briefly, then yield the CPU, then sleep in short naps,
/// so that a waiter on an oversubscribed machine does not burn the lock holder's time slice.
@usableFromInline
struct Backoff {
    @usableFromInline var round = 0
    @usableFromInline let spinRounds: Int

    /// - Parameter spinRounds: rounds that spin (up to 64 steps each) before the waiter yields; a
    ///   waiter whose wait is known to be short (a write handed to a combining thread) spins longer.
    @inlinable
    init(spinRounds: Int = 16) { self.spinRounds = spinRounds }

    @inlinable
    mutating func wait() {
        round &+= 1
        if round < spinRounds {
            for _ in 0..<(1 << min(round, 6)) { spinHint() }
        } else if round < spinRounds &+ 48 {
            sched_yield()
        } else {
            usleep(50)
        }
    }
}

/// One step of a spin loop: an atomic load that the optimizer cannot fold away (Swift has no `pause`).
@inlinable
func spinHint() {
    _ = spinWord.load(ordering: .relaxed)
}

/// Never written after initialization; spinning threads only load it, so it stays shared in every cache.
@usableFromInline let spinWord = Atomic<Int>(0)

/// A test-and-test-and-set lock on one atomic word, for the very short critical sections of a hash
/// table operation.
///
/// Why not `Synchronization.Mutex`: on Linux it is a priority-inheritance futex whose handoff halves
/// throughput when two threads share one lock (peers/README.md). Waiters here back off with
/// ``Backoff`` (spin, yield, nap), so the lock stays usable with more threads than cores.
@usableFromInline
struct SpinLock: ~Copyable, Sendable {
    @usableFromInline let state = Atomic<UInt32>(0)

    @inlinable
    init() {}

    /// Acquires the lock; returns whether it had to wait (lock contention).
    @inlinable
    @discardableResult
    func lock() -> Bool {
        if state.compareExchange(expected: 0, desired: 1, successOrdering: .acquiring, failureOrdering: .relaxed).exchanged {
            return false
        }
        lockSlow()
        return true
    }

    /// Acquires the lock if it is free, without waiting.
    @inlinable
    func tryLock() -> Bool {
        state.load(ordering: .relaxed) == 0
            && state.compareExchange(expected: 0, desired: 1, successOrdering: .acquiring, failureOrdering: .relaxed).exchanged
    }

    @usableFromInline
    func lockSlow() {
        var backoff = Backoff()
        while true {
            if state.load(ordering: .relaxed) == 0,
                state.compareExchange(expected: 0, desired: 1, successOrdering: .acquiring, failureOrdering: .relaxed).exchanged
            {
                return
            }
            backoff.wait()
        }
    }

    @inlinable
    func unlock() {
        state.store(0, ordering: .releasing)
    }
}

/// Per-thread-striped reader counts, each on its own 128-byte line, so that readers on different
/// cores never write the same cache line. Used by ``StripedRWLock`` and by the left-right snapshot engine.
@usableFromInline
struct ReaderIndicator: ~Copyable, Sendable {
    @usableFromInline static let stripes = 8
    @usableFromInline static let spacing = 16  // 16 × 8 bytes = 128 bytes

    /// Stripe i is cell (i + 1) × spacing: the first 128 bytes are left empty, so that stripe 0 shares no
    /// line with what precedes the indicator. Without them, stripe 0 shared a line with `StripedRWLock`'s
    /// writer flag and with `SnapshotEngine`'s current table and version, which every reader loads, and
    /// which a reader of a slot ≡ 0 mod 8 then wrote on every read: with one of two readers there,
    /// read100 at 2 threads ran at 0.77–0.93 of the padded layout (BENCHMARKS.md, "Live maps").
    @usableFromInline let cells: InlineArray<144, Atomic<Int>>

    @inlinable
    init() {
        cells = InlineArray { _ in Atomic<Int>(0) }
    }

    /// The cell of the calling thread's stripe: from its ``ThreadSlot``, so that up to 8 threads never share one
    /// (a hash of the thread id made two threads share a stripe one time in eight, for good).
    @inlinable
    func currentStripe() -> Int { Self.cell(ThreadSlot.current() & (Self.stripes - 1)) }

    /// The cell of stripe `stripe` (0 ..< ``stripes``); see ``cells``.
    @inlinable
    static func cell(_ stripe: Int) -> Int { (stripe &+ 1) &* spacing }

    /// Announces a reader; sequentially consistent so that a writer's later scan sees it.
    @inlinable
    func arrive(_ stripe: Int) { cells[stripe].wrappingAdd(1, ordering: .sequentiallyConsistent) }

    @inlinable
    func depart(_ stripe: Int) { cells[stripe].wrappingSubtract(1, ordering: .releasing) }

    /// Whether no reader is inside: the eight stripes loaded in one pass, without a branch per stripe.
    @inlinable
    var isEmpty: Bool {
        var readers = 0
        for stripe in 0..<Self.stripes { readers |= cells[Self.cell(stripe)].load(ordering: .sequentiallyConsistent) }
        return readers == 0
    }

    /// Waits until every reader that arrived before the call has departed; returns whether it waited.
    ///
    /// Checks every stripe once inline, and waits out of line. The loop with its backoff, inline and run
    /// on every write, cost about 80 instructions per write (callgrind, `rwlock` and `serialized`, write90).
    @inlinable
    @discardableResult
    func waitUntilEmpty() -> Bool {
        if isEmpty { return false }
        return waitForReaders()
    }

    @usableFromInline
    @inline(never)
    func waitForReaders() -> Bool {
        var waited = false
        for stripe in 0..<Self.stripes {
            var backoff = Backoff()
            while cells[Self.cell(stripe)].load(ordering: .sequentiallyConsistent) != 0 {
                waited = true
                backoff.wait()
            }
        }
        return waited
    }
}

/// A writer-preferring reader-writer lock whose readers write only their own stripe.
///
/// Why not `pthread_rwlock`: glibc's default prefers readers and collapses under two threads with any
/// writes (peers/README.md); and a single reader count would bounce one cache line between cores on
/// every read. Readers announce themselves in a striped ``ReaderIndicator`` and then check the writer
/// flag (Dekker-style, both sequentially consistent); a writer takes the writer lock, raises the flag
/// and waits for the indicator to drain. A reader that finds the flag raised steps back and enters
/// through the writer lock, which keeps writers from starving readers.
@usableFromInline
struct StripedRWLock: ~Copyable, Sendable {
    @usableFromInline let writerLock = SpinLock()
    @usableFromInline let writerFlag = Atomic<Int>(0)
    @usableFromInline let readers = ReaderIndicator()

    @inlinable
    init() {}

    /// Enters as a reader; returns the stripe to pass to ``readUnlock(_:)`` and whether it waited.
    @inlinable
    func readLock() -> (stripe: Int, contended: Bool) {
        let stripe = readers.currentStripe()
        readers.arrive(stripe)
        if writerFlag.load(ordering: .sequentiallyConsistent) == 0 { return (stripe, false) }
        readers.depart(stripe)
        // Slow path: queue behind the writers; while holding the writer lock no writer can raise the flag.
        writerLock.lock()
        readers.arrive(stripe)
        writerLock.unlock()
        return (stripe, true)
    }

    @inlinable
    func readUnlock(_ stripe: Int) { readers.depart(stripe) }

    /// Enters as the only writer; returns whether it waited.
    @inlinable
    func writeLock() -> Bool {
        let contended = writerLock.lock()
        return excludeReaders() || contended
    }

    @inlinable
    func writeUnlock() {
        readmitReaders()
        writerLock.unlock()
    }

    /// For the holder of `writerLock`: raises the writer flag and waits until the readers have left, after
    /// which it has the table alone; returns whether it waited. ``readmitReaders()`` ends it.
    @inlinable
    func excludeReaders() -> Bool {
        writerFlag.store(1, ordering: .sequentiallyConsistent)
        return readers.waitUntilEmpty()
    }

    /// For the holder of `writerLock`: lets readers in again (and keeps `writerLock`).
    @inlinable
    func readmitReaders() { writerFlag.store(0, ordering: .releasing) }
}
