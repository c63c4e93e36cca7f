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

/// An operation being counted: the thread's block, found once for both ends, and its start time (0: not timed).
@usableFromInline
struct OpProbe {
    @usableFromInline let block: Unmanaged<CounterBlock>
    @usableFromInline let exclusive: Bool
    @usableFromInline let start: UInt64

    @inlinable
    init(block: Unmanaged<CounterBlock>, exclusive: Bool, start: UInt64) {
        self.block = block
        self.exclusive = exclusive
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
/// Latency: reading the clock twice costs about as much as a map operation, so one operation in
/// ``LiveMap/Configuration/latencySampleInterval`` is timed; but after every ``snapshot()`` (a rollout
/// check, a scrape) each thread also times its next ``adaptiveSamples`` operations, so that a quiet
/// interval still has enough samples for a p99 (a check with `min_ops: 100` at 1 in 32 would see 3).
/// Counts are exact.
public final class MapCounters: Sendable {
    /// Operations each thread times after every snapshot, whatever the sampling interval.
    public static let adaptiveSamples: UInt64 = 64

    @usableFromInline let blocks: InlineArray<65, Atomic<UInt>>
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
        for slot in 0...ThreadSlot.shared {
            let bits = blocks[slot].load(ordering: .acquiring)
            if bits != 0 { Unmanaged<CounterBlock>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release() }
        }
    }

    /// Calls `body` with the calling thread's block (creating it) and whether the thread owns it alone.
    @inlinable
    func withBlock<R>(_ body: (CounterBlock, Bool) -> R) -> R {
        let (block, exclusive) = currentBlock()
        return block._withUnsafeGuaranteedRef { body($0, exclusive) }
    }

    @usableFromInline
    func makeBlock(_ slot: Int) -> UInt {
        let fresh = UInt(bitPattern: Unmanaged.passRetained(CounterBlock()).toOpaque())
        let (exchanged, original) = blocks[slot].compareExchange(expected: 0, desired: fresh, ordering: .acquiringAndReleasing)
        if exchanged { return fresh }
        Unmanaged<CounterBlock>.fromOpaque(UnsafeRawPointer(bitPattern: fresh)!).release()
        return original
    }

    @inlinable
    func add(_ cell: Int, _ amount: UInt64 = 1) {
        withBlock { block, exclusive in block.add(cell, amount, exclusive: exclusive) }
    }

    /// The calling thread's block (created on its first operation) and whether the thread owns it alone.
    @inlinable
    func currentBlock() -> (block: Unmanaged<CounterBlock>, exclusive: Bool) {
        let slot = ThreadSlot.current()
        var bits = blocks[slot].load(ordering: .acquiring)
        if bits == 0 { bits = makeBlock(slot) }
        return (Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: bits).unsafelyUnwrapped), slot != ThreadSlot.shared)
    }

    /// Starts counting an operation: finds the thread's block once for both ends and decides whether to
    /// time it. Pass the result to ``end(_:_:_:)``.
    ///
    /// The decision costs one load and one store of the block's countdown; only the timed operations
    /// (one in ``sampleMask`` + 1, and the adaptive ones) take ``sampleSlowly(_:)``.
    @inlinable
    func begin() -> OpProbe {
        let (block, exclusive) = currentBlock()
        let countdown = block._withUnsafeGuaranteedRef { $0.cells[CounterBlock.sampleCountdown].load(ordering: .relaxed) }
        if countdown > 1 {
            block._withUnsafeGuaranteedRef { $0.cells[CounterBlock.sampleCountdown].store(countdown &- 1, ordering: .relaxed) }
            return OpProbe(block: block, exclusive: exclusive, start: 0)
        }
        return OpProbe(block: block, exclusive: exclusive, start: sampleSlowly(block))
    }

    /// A timed operation: renews the adaptive budget after a snapshot, sets the next countdown (1 while
    /// budget is left, so that the next operation is timed too) and reads the clock.
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
                block.cells[CounterBlock.sampleBudget].store(budget &- 1, ordering: .relaxed)
                block.cells[CounterBlock.sampleCountdown].store(1, ordering: .relaxed)
            } else {
                block.cells[CounterBlock.sampleCountdown].store(sampleMask &+ 1, ordering: .relaxed)
            }
        }
        return monotonicNanoseconds()
    }

    /// Counts the operation that ``begin()`` started and, when it was timed, its latency.
    ///
    /// Inlined, the untimed case is one add to the thread's block; the timed one is out of line
    /// (``endTimed(_:_:)``), so that its clock read and histogram do not keep every call site from
    /// inlining this (out of line, the whole of it cost about 25 instructions and a call per operation).
    @inlinable
    func end(_ probe: OpProbe, _ op: OpKind, _ result: OpResult) {
        let cell = CounterBlock.opsBase &+ op.index &* 4 &+ result.index
        if probe.start != 0 { return endTimed(probe, cell) }
        probe.block._withUnsafeGuaranteedRef { $0.add(cell, 1, exclusive: probe.exclusive) }
    }

    @usableFromInline
    @inline(never)
    func endTimed(_ probe: OpProbe, _ cell: Int) {
        let elapsed = monotonicNanoseconds() &- probe.start
        probe.block._withUnsafeGuaranteedRef { block in
            block.add(cell, 1, exclusive: probe.exclusive)
            block.observe(elapsed, exclusive: probe.exclusive)
        }
    }

    /// Counts one operation whose start the caller took itself (0: not timed), and its latency.
    @inlinable
    func finish(_ op: OpKind, _ result: OpResult, start: UInt64) {
        let (block, exclusive) = currentBlock()
        end(OpProbe(block: block, exclusive: exclusive, start: start), op, result)
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
        withBlock { block, exclusive in
            block.add(CounterBlock.opsBase &+ op.index &* 4 &+ result.index, 1, exclusive: exclusive)
            block.observe(nanoseconds, exclusive: exclusive)
        }
    }

    /// Monotonic totals since creation, summed over the threads' blocks; renews every thread's
    /// adaptive latency sampling (see the type's documentation).
    ///
    /// - Complexity: O(threads that used the map × 600 cells); cheap enough for once a second.
    public func snapshot() -> CounterSnapshot {
        epoch.wrappingAdd(1, ordering: .relaxed)
        var sums = [UInt64](repeating: 0, count: CounterBlock.cellCount)
        for slot in 0...ThreadSlot.shared {
            let bits = blocks[slot].load(ordering: .acquiring)
            guard bits != 0 else { continue }
            Unmanaged<CounterBlock>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)._withUnsafeGuaranteedRef { block in
                // The thread's next operation takes the slow path, sees the new epoch and starts timing
                // its next `adaptiveSamples`. Should the thread's own countdown store overwrite this one
                // (a nanosecond's window), the next regularly timed operation sees the epoch instead.
                block.cells[CounterBlock.sampleCountdown].store(0, ordering: .relaxed)
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

/// One thread's counters for one map (see ``MapCounters``): 584 cells, about 4.6 KiB.
@usableFromInline
final class CounterBlock: Sendable {
    /// Operations until the next timed one (the owner thread counts it down; ``MapCounters/snapshot()`` zeroes it).
    @usableFromInline static let sampleCountdown = 0
    @usableFromInline static let sampleEpoch = 1
    @usableFromInline static let sampleBudget = 2
    @usableFromInline static let latencySum = 3
    @usableFromInline static let contention = 4
    @usableFromInline static let evictions = 5
    @usableFromInline static let expirations = 6
    @usableFromInline static let reportedFaults = 7
    @usableFromInline static let opsBase = 8  // 6 kinds × 4 results
    @usableFromInline static let bucketBase = 32
    @usableFromInline static let cellCount = 32 + 544

    @usableFromInline let cells: InlineArray<576, Atomic<UInt64>>

    @usableFromInline
    init() { cells = InlineArray { _ in Atomic<UInt64>(0) } }

    /// Adds to a cell: a plain load and store when the calling thread owns the block (no other thread
    /// writes it; readers load atomically), an atomic add in the shared block.
    @inlinable
    func add(_ cell: Int, _ amount: UInt64, exclusive: Bool) {
        if exclusive {
            cells[cell].store(cells[cell].load(ordering: .relaxed) &+ amount, ordering: .relaxed)
        } else {
            cells[cell].wrappingAdd(amount, ordering: .relaxed)
        }
    }

    @inlinable
    func observe(_ nanoseconds: UInt64, exclusive: Bool) {
        add(Self.bucketBase &+ LatencyHistogram.bucketIndex(nanoseconds), 1, exclusive: exclusive)
        add(Self.latencySum, nanoseconds, exclusive: exclusive)
    }
}
/// A reading of ``MapCounters``: totals since creation, or one interval's counts from ``delta(since:)``.
public struct CounterSnapshot: Sendable, Hashable {
    /// Operations by kind and result; every kind and result is present, at 0 when none happened.
    public var ops: [OpKind: [OpResult: UInt64]]
    /// All operations of all kinds and results.
    public var totalOps: UInt64
    /// Operations that ended in `.error`.
    public var errors: UInt64
    /// Operations that ended in `.fault` plus faults reported with ``MapCounters/reportFault()``.
    public var faults: UInt64
    /// Latency of (sampled) operations.
    public var latency: LatencyHistogram
    /// Lock acquisitions that had to wait.
    public var contention: UInt64
    /// Entries evicted to make room (`on_full: evict_lru`).
    public var evictions: UInt64
    /// Entries removed because their ttl passed.
    public var expirations: UInt64
    /// Faults reported from outside the map's operations.
    public var reportedFaults: UInt64

    public init(
        ops: [OpKind: [OpResult: UInt64]],
        latency: LatencyHistogram,
        contention: UInt64,
        evictions: UInt64,
        expirations: UInt64,
        reportedFaults: UInt64
    ) {
        self.ops = ops
        self.latency = latency
        self.contention = contention
        self.evictions = evictions
        self.expirations = expirations
        self.reportedFaults = reportedFaults
        var total: UInt64 = 0
        var errors: UInt64 = 0
        var faults: UInt64 = reportedFaults
        for row in ops.values {
            for (result, count) in row {
                total &+= count
                if result == .error { errors &+= count }
                if result == .fault { faults &+= count }
            }
        }
        self.totalOps = total
        self.errors = errors
        self.faults = faults
    }

    /// The count of `op` operations that ended in `result`.
    public func count(_ op: OpKind, _ result: OpResult) -> UInt64 { ops[op]?[result] ?? 0 }

    /// One interval's counts: this reading minus an earlier one of the same counters.
    public func delta(since earlier: CounterSnapshot) -> CounterSnapshot {
        var ops: [OpKind: [OpResult: UInt64]] = [:]
        for kind in OpKind.allCases {
            var row: [OpResult: UInt64] = [:]
            for result in OpResult.allCases {
                row[result] = count(kind, result) &- earlier.count(kind, result)
            }
            ops[kind] = row
        }
        return CounterSnapshot(
            ops: ops,
            latency: latency.delta(since: earlier.latency),
            contention: contention &- earlier.contention,
            evictions: evictions &- earlier.evictions,
            expirations: expirations &- earlier.expirations,
            reportedFaults: reportedFaults &- earlier.reportedFaults
        )
    }
}
