import Synchronization

/// One thread's counters for one map (see ``MapCounters``): 577 cells, about 4.6 KiB.
///
/// Its owner thread writes it with plain loads and stores; ``MapCounters/snapshot()`` reads it with
/// relaxed loads. The block of the shared slot (threads beyond ``ThreadSlot/owned``) is written with
/// atomic read-modify-writes instead, and is always ``armed``, so that its threads never take the
/// inline path, which assumes an owner.
@usableFromInline
final class CounterBlock: Sendable {
    /// Nonzero: the owner's next operation takes ``MapCounters/sampleSlowly(_:)`` (to be timed, or to
    /// renew its adaptive budget). Set when an operation count crosses a multiple of the sampling
    /// interval, and by ``MapCounters/snapshot()``; the slow path clears it.
    @usableFromInline static let armed = 0
    @usableFromInline static let sampleEpoch = 1
    @usableFromInline static let sampleBudget = 2
    @usableFromInline static let latencySum = 3
    @usableFromInline static let contention = 4
    @usableFromInline static let evictions = 5
    @usableFromInline static let expirations = 6
    @usableFromInline static let reportedFaults = 7
    /// The shared block's stand-in for ``armed`` (which stays set there): an operation is due to be timed.
    @usableFromInline static let sharedDue = 8
    @usableFromInline static let opsBase = 9  // 6 kinds × 4 results
    @usableFromInline static let bucketBase = 33
    @usableFromInline static let cellCount = 33 + 544

    // Declared before the cells, so that they share the first cache line with the armed and ops cells.
    /// Whether this is the shared slot's block, written by several threads.
    @usableFromInline let isShared: Bool
    /// The sampling interval − 1 (a power of two − 1): an operation count whose low bits are all 0 arms the block.
    @usableFromInline let sampleMask: UInt64
    @usableFromInline let cells: InlineArray<577, Atomic<UInt64>>

    @usableFromInline
    init(isShared: Bool, sampleMask: UInt64) {
        self.isShared = isShared
        self.sampleMask = sampleMask
        // Armed from the start: the first operation takes the slow path, which sets the sampling state up.
        cells = InlineArray { $0 == Self.armed ? Atomic<UInt64>(1) : Atomic<UInt64>(0) }
    }

    /// Adds to a cell and returns its new value: a plain load and store when one thread owns the block
    /// (no other thread writes it; readers load atomically), an atomic add in the shared block.
    @inlinable
    @discardableResult
    func add(_ cell: Int, _ amount: UInt64) -> UInt64 {
        if isShared { return cells[cell].wrappingAdd(amount, ordering: .relaxed).newValue }
        let value = cells[cell].load(ordering: .relaxed) &+ amount
        cells[cell].store(value, ordering: .relaxed)
        return value
    }

    /// Counts one operation in `cell`, and arms the block when the count crosses a sampling interval.
    ///
    /// Arming on the ops cell that is written anyway keeps the untimed path to one load and one store:
    /// a separate countdown cost a second load and store, before the operation, on every call.
    @inlinable
    func count(_ cell: Int) {
        if !isShared { return countOwned(cell) }
        if cells[cell].wrappingAdd(1, ordering: .relaxed).newValue & sampleMask == 0 {
            cells[Self.sharedDue].store(1, ordering: .relaxed)
        }
    }

    /// ``count(_:)`` for the owner of a non-shared block, the path every untimed operation takes inline.
    @inlinable
    @inline(__always)
    func countOwned(_ cell: Int) {
        let value = cells[cell].load(ordering: .relaxed) &+ 1
        cells[cell].store(value, ordering: .relaxed)
        if value & sampleMask == 0 { cells[Self.armed].store(1, ordering: .relaxed) }
    }

    @inlinable
    func observe(_ nanoseconds: UInt64) {
        add(Self.bucketBase &+ LatencyHistogram.bucketIndex(nanoseconds), 1)
        add(Self.latencySum, nanoseconds)
    }
}
