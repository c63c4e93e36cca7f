import Synchronization

/// The kinds of operation a map counts.
public enum OpKind: String, Sendable, Hashable, CaseIterable {
    case get
    case put
    case delete
    case contains
    case cas
    case iterate

    @inlinable
    var index: Int {
        switch self {
        case .get: 0
        case .put: 1
        case .delete: 2
        case .contains: 3
        case .cas: 4
        case .iterate: 5
        }
    }
}

/// How an operation ended: `miss` is a read of an absent key; `error` is the caller's failure
/// (bad key or value, capacity, injected error); `fault` is the engine's.
public enum OpResult: String, Sendable, Hashable, CaseIterable {
    case ok
    case miss
    case error
    case fault

    @inlinable
    var index: Int {
        switch self {
        case .ok: 0
        case .miss: 1
        case .error: 2
        case .fault: 3
        }
    }
}

/// An operation being counted: the thread's block, found once for both ends, and how its end counts it.
@usableFromInline
struct OpProbe {
    /// ``start`` of an operation that is not timed but must still end out of line (the shared block).
    @usableFromInline static let untimed = UInt64.max

    @usableFromInline let block: Unmanaged<CounterBlock>
    /// 0: not timed, the thread owns the block, the end is inline; ``untimed``: not timed, out of line;
    /// else the clock reading at the start.
    @usableFromInline let start: UInt64

    @inlinable
    init(block: Unmanaged<CounterBlock>, start: UInt64) {
        self.block = block
        self.start = start
    }
}

/// Per-instance counters, cheap enough to leave on in production.
///
/// Each thread counts into a block of its own (``ThreadSlot``: one of 64 slots per process), created for a
/// map on the thread's first operation on it: the hot cells are written with plain loads and stores,
/// never shared between cores, and never an atomic read-modify-write. ``snapshot()`` sums the blocks
/// with relaxed loads. Threads beyond 64 at once share one more block and add atomically. An unused map
/// holds no block at all (about 600 bytes of counters).
///
/// Latency: reading the clock twice costs about as much as a map operation, so about one operation in
/// ``LiveMap/Configuration/latencySampleInterval`` is timed: the one after an operation count (per kind
/// and result) reaches a multiple of the interval. After every ``snapshot()`` (a rollout check, a
/// scrape) each thread also times its next ``adaptiveSamples`` operations, so that a quiet interval still
/// has enough samples for a p99 (a check with `min_ops: 100` at 1 in 32 would see 3). Counts are exact.
///
/// The operation's path, inline: the thread-local slot, the block, one load of its ``CounterBlock/armed``
/// cell before the operation, and one load and store of its ops cell after. Everything else (timing,
/// the adaptive budget, the shared block) is out of line, behind the armed cell.
public final class MapCounters: Sendable {
    /// Operations each thread times after every snapshot, whatever the sampling interval.
    public static let adaptiveSamples: UInt64 = 64

    /// Indexed by ``ThreadSlot/currentPlusOne()``: entry 0 (a thread with no slot yet) stays empty, which
    /// sends that thread to the slow path to claim one; 1...64 the owned slots; 65 the shared one.
    @usableFromInline let blocks: InlineArray<66, Atomic<UInt>>
    /// Incremented by every ``snapshot()``: it renews each thread's adaptive sampling budget.
    @usableFromInline let epoch = Atomic<UInt64>(0)
    @usableFromInline let sampleMask: UInt64

    /// - Parameter latencySampleInterval: time one operation in this many (rounded up to a power of two),
    ///   plus ``adaptiveSamples`` per thread after each snapshot; 1 times all.
    public init(latencySampleInterval: Int = 1) {
        var interval: UInt64 = 1
        while interval < UInt64(max(1, latencySampleInterval)) { interval <<= 1 }
        sampleMask = interval - 1
        blocks = InlineArray { _ in Atomic<UInt>(0) }
    }

    deinit {
        for index in 1...(ThreadSlot.shared + 1) {
            let bits = blocks[index].load(ordering: .acquiring)
            if bits != 0 { Self.block(bits).release() }
        }
    }

    /// The calling thread's block; created on the thread's first operation on this map.
    @inlinable
    func currentBlock() -> Unmanaged<CounterBlock> {
        let bits = blocks[ThreadSlot.currentPlusOne()].load(ordering: .acquiring)
        if bits != 0 { return Self.block(bits) }
        return blockSlowly()
    }

    /// The block that a nonzero entry of ``blocks`` holds.
    @inlinable
    static func block(_ bits: UInt) -> Unmanaged<CounterBlock> {
        Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: bits).unsafelyUnwrapped)
    }

    /// Claims the thread's slot if it has none, and creates its block.
    @usableFromInline
    func blockSlowly() -> Unmanaged<CounterBlock> {
        let index = ThreadSlot.current() + 1
        var bits = blocks[index].load(ordering: .acquiring)
        if bits == 0 {
            let block = CounterBlock(isShared: index == ThreadSlot.shared + 1, sampleMask: sampleMask)
            let fresh = UInt(bitPattern: Unmanaged.passRetained(block).toOpaque())
            let (exchanged, original) = blocks[index].compareExchange(expected: 0, desired: fresh, ordering: .acquiringAndReleasing)
            if exchanged {
                bits = fresh
            } else {
                Self.block(fresh).release()
                bits = original
            }
        }
        return Self.block(bits)
    }

    @inlinable
    func add(_ cell: Int, _ amount: UInt64 = 1) {
        currentBlock()._withUnsafeGuaranteedRef { _ = $0.add(cell, amount) }
    }

    /// Starts counting an operation: finds the thread's block once for both ends and, when the block is
    /// armed, takes ``sampleSlowly(_:)``. Pass the result to ``end(_:_:_:)``.
    @inlinable
    func begin() -> OpProbe {
        let block = currentBlock()
        if block._withUnsafeGuaranteedRef({ $0.cells[CounterBlock.armed].load(ordering: .relaxed) }) == 0 {
            return OpProbe(block: block, start: 0)
        }
        return OpProbe(block: block, start: sampleSlowly(block))
    }

    /// A probe for an operation whose start the caller took itself (0: not timed).
    @inlinable
    func probe(start: UInt64) -> OpProbe {
        let block = currentBlock()
        if start == 0 && block._withUnsafeGuaranteedRef({ $0.isShared }) { return OpProbe(block: block, start: OpProbe.untimed) }
        return OpProbe(block: block, start: start)
    }

    /// An armed block's operation: renews the adaptive budget after a snapshot, spends it, disarms the
    /// block when nothing is left to time, and reads the clock (or returns ``OpProbe/untimed``).
    @usableFromInline
    func sampleSlowly(_ block: Unmanaged<CounterBlock>) -> UInt64 {
        block._withUnsafeGuaranteedRef { block in
            // Plain loads and stores even in the shared block: two threads there may lose a step, which
            // only shifts the sampling; they are still atomic, so not a data race.
            let current = epoch.load(ordering: .relaxed)
            var budget = block.cells[CounterBlock.sampleBudget].load(ordering: .relaxed)
            if block.cells[CounterBlock.sampleEpoch].load(ordering: .relaxed) != current {
                block.cells[CounterBlock.sampleEpoch].store(current, ordering: .relaxed)
                budget = Self.adaptiveSamples
            }
            if budget > 0 {
                // The block stays armed until the budget's last operation.
                block.cells[CounterBlock.sampleBudget].store(budget &- 1, ordering: .relaxed)
                if budget == 1 && !block.isShared { block.cells[CounterBlock.armed].store(0, ordering: .relaxed) }
                return monotonicNanoseconds()
            }
            if block.isShared {
                // Armed for good: every operation comes here, and is timed when an end marked one due.
                if block.cells[CounterBlock.sharedDue].exchange(0, ordering: .relaxed) == 0 { return OpProbe.untimed }
                return monotonicNanoseconds()
            }
            block.cells[CounterBlock.armed].store(0, ordering: .relaxed)
            return monotonicNanoseconds()
        }
    }

    /// Counts the operation that ``begin()`` started and, when it was timed, its latency.
    ///
    /// Inlined, the untimed case is one load and one store to the thread's block (and, once an interval,
    /// a store that arms it); the rest is out of line (``endSlowly(_:_:)``), so that its clock read and
    /// histogram do not keep every call site from inlining this.
    @inlinable
    func end(_ probe: OpProbe, _ op: OpKind, _ result: OpResult) {
        let cell = CounterBlock.opsBase &+ op.index &* 4 &+ result.index
        if probe.start != 0 { return endSlowly(probe, cell) }
        probe.block._withUnsafeGuaranteedRef { $0.countOwned(cell) }
    }

    @usableFromInline
    @inline(never)
    func endSlowly(_ probe: OpProbe, _ cell: Int) {
        probe.block._withUnsafeGuaranteedRef { block in
            if probe.start != OpProbe.untimed { block.observe(monotonicNanoseconds() &- probe.start) }
            block.count(cell)
        }
    }

    /// Counts one operation whose start the caller took itself (0: not timed), and its latency.
    @inlinable
    func finish(_ op: OpKind, _ result: OpResult, start: UInt64) {
        end(probe(start: start), op, result)
    }

    @inlinable
    func countContention() { add(CounterBlock.contention) }

    @inlinable
    func countEvictions(_ count: Int) { if count > 0 { add(CounterBlock.evictions, UInt64(count)) } }

    @inlinable
    func countExpirations(_ count: Int) { if count > 0 { add(CounterBlock.expirations, UInt64(count)) } }

    /// Counts a fault that the embedding service (or the controller) observed outside the map's own operations.
    public func reportFault() { add(CounterBlock.reportedFaults) }

    /// Counts an operation performed on top of the map (for example an injected failure), with its latency.
    public func record(op: OpKind, result: OpResult, nanoseconds: UInt64) {
        currentBlock()._withUnsafeGuaranteedRef { block in
            block.observe(nanoseconds)
            block.count(CounterBlock.opsBase &+ op.index &* 4 &+ result.index)
        }
    }

    /// Monotonic totals since creation, summed over the threads' blocks; renews every thread's
    /// adaptive latency sampling (see the type's documentation).
    ///
    /// - Complexity: O(threads that used the map × 600 cells); cheap enough for once a second.
    public func snapshot() -> CounterSnapshot {
        epoch.wrappingAdd(1, ordering: .relaxed)
        var sums = [UInt64](repeating: 0, count: CounterBlock.cellCount)
        for index in 1...(ThreadSlot.shared + 1) {
            let bits = blocks[index].load(ordering: .acquiring)
            guard bits != 0 else { continue }
            Self.block(bits)._withUnsafeGuaranteedRef { block in
                // The owner's next operation takes the slow path, sees the new epoch and starts timing its
                // next `adaptiveSamples`. Should the owner's own disarming store overwrite this one (a
                // nanosecond's window), the next regularly armed operation sees the epoch instead. The
                // shared block is always armed.
                if !block.isShared { block.cells[CounterBlock.armed].store(1, ordering: .relaxed) }
                for cell in 0..<CounterBlock.cellCount { sums[cell] &+= block.cells[cell].load(ordering: .relaxed) }
            }
        }
        var ops: [OpKind: [OpResult: UInt64]] = [:]
        for kind in OpKind.allCases {
            var row: [OpResult: UInt64] = [:]
            for result in OpResult.allCases {
                row[result] = sums[CounterBlock.opsBase + kind.index * 4 + result.index]
            }
            ops[kind] = row
        }
        let histogram = LatencyHistogram(
            counts: Array(sums[CounterBlock.bucketBase..<(CounterBlock.bucketBase + LatencyHistogram.bucketCount)]),
            sumNanoseconds: sums[CounterBlock.latencySum]
        )
        return CounterSnapshot(
            ops: ops,
            latency: histogram,
            contention: sums[CounterBlock.contention],
            evictions: sums[CounterBlock.evictions],
            expirations: sums[CounterBlock.expirations],
            reportedFaults: sums[CounterBlock.reportedFaults]
        )
    }
}
