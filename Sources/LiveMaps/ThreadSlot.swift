import CThreadSlot
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small number that no other live thread holds: each thread claims one of 64 slots on first use and
/// gives it back when it exits.
///
/// Why not a hash of the thread id (as before): two threads whose ids hash alike share a stripe, and
/// then every operation of both writes the same cache line (a 1-in-16 chance for two threads, and a
/// stable one: the bench's two threads either always collide or never). With a slot of its own a thread
/// writes its counters with plain loads and stores, not atomic read-modify-writes. Threads beyond 64 at
/// once get ``ThreadSlot/shared`` and count with atomic adds.
///
/// The slot is read from a C thread-local (`CThreadSlot`), one load relative to the thread pointer, not
/// from `pthread_getspecific`: that call into libc on every operation cost counted lookups of a 1M-key
/// map 40 % (counters on at 0.58 of off; 0.90 with the thread-local; BENCHMARKS.md, "Live maps"). The
/// pthread key stays, for its destructor: it gives the slot back when the thread exits.
@usableFromInline
package enum ThreadSlot {
    /// Slots a thread can own.
    @usableFromInline static let owned = 64
    /// The slot of threads that could not claim one; shared, so written with atomic adds.
    @usableFromInline static let shared = 64

    /// The process-wide key whose per-thread value is the thread's slot + 1, set when the slot is claimed,
    /// so that its destructor gives the slot back at thread exit.
    static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { value in
            // Runs on the exiting thread: its last counter stores happen before this release, and the
            // next claimer acquires the bit, so it sees them (and ThreadSanitizer sees the order).
            guard let value else { return }
            // Operations that other keys' destructors still run on this thread claim a slot anew.
            mapctl_thread_slot_set(0)
            let slot = Int(bitPattern: value) - 1
            if slot >= 0, slot < ThreadSlot.owned {
                _ = claimed.bitwiseAnd(~(UInt64(1) << UInt64(slot)), ordering: .releasing)
            }
        }
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()

    /// Bit i set: slot i is held by a live thread.
    static let claimed = Atomic<UInt64>(0)

    /// The calling thread's slot + 1, or 0 while it has none (it claims one with ``current()``): for
    /// tables that keep entry 0 empty, so that the hot path needs no test and no subtraction.
    @inlinable
    package static func currentPlusOne() -> Int { mapctl_thread_slot_get() }

    /// The calling thread's slot, claiming one on its first call.
    @inlinable
    package static func current() -> Int {
        let value = mapctl_thread_slot_get()
        if value != 0 { return value &- 1 }
        return claim()
    }

    @usableFromInline
    static func claim() -> Int {
        var bits = claimed.load(ordering: .relaxed)
        var slot = shared
        while bits != .max {
            let free = (~bits).trailingZeroBitCount
            let (exchanged, original) = claimed.compareExchange(
                expected: bits, desired: bits | (UInt64(1) << UInt64(free)), successOrdering: .acquiring, failureOrdering: .relaxed)
            if exchanged {
                slot = free
                break
            }
            bits = original
        }
        // The thread-local answers every later call; the key's value only runs the destructor at exit.
        mapctl_thread_slot_set(slot + 1)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: slot + 1))
        return slot
    }
}
