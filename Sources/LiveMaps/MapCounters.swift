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
/// (bad key or value, capacity, injected error); `fault` is the engine's (SPEC §2).
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

/// Per-instance counters, cheap enough to leave on in production.
///
/// Cells are striped: each thread adds to one of 16 stripes (picked from its thread id), each on its own
/// cache lines, with relaxed atomic adds; ``snapshot()`` sums the stripes. No cell is written by every
/// operation of every thread. Operation latency is sampled (one operation in
/// ``LiveMap/Configuration/latencySampleInterval`` per stripe) because reading the clock twice costs
/// about as much as a map operation; counts are exact.
public final class MapCounters: Sendable {
    @usableFromInline static let stripeCount = 16
    @usableFromInline static let stripeMask = 15
    /// Cells per stripe: 1 KiB, so that hot cells of two stripes never share a cache line.
    @usableFromInline static let stride = 128

    @usableFromInline static let opsBase = 8  // 8 kinds x 4 results = 32 cells
    @usableFromInline static let bucketBase = 40  // LatencyHistogram.bucketCount cells
    @usableFromInline static let latencySum = 104
    @usableFromInline static let latencyCount = 105
    @usableFromInline static let contention = 106
    @usableFromInline static let evictions = 107
    @usableFromInline static let expirations = 108
    @usableFromInline static let reportedFaults = 109
    @usableFromInline static let sampleTick = 110

    @usableFromInline let cells: InlineArray<2048, Atomic<UInt64>>
    @usableFromInline let sampleMask: UInt64

    /// - Parameter latencySampleInterval: time one operation in this many (rounded up to a power of two); 1 times all.
    public init(latencySampleInterval: Int = 1) {
        var interval: UInt64 = 1
        while interval < UInt64(max(1, latencySampleInterval)) { interval <<= 1 }
        sampleMask = interval - 1
        cells = InlineArray { _ in Atomic<UInt64>(0) }
    }

    @inlinable
    func add(_ cell: Int, _ amount: UInt64 = 1) {
        let stripe = currentThreadStripe(mask: Self.stripeMask)
        cells[stripe &* Self.stride &+ cell].wrappingAdd(amount, ordering: .relaxed)
    }

    /// Whether to time the operation about to start; returns its start time, or 0 to skip timing.
    @inlinable
    func sampleStart() -> UInt64 {
        if sampleMask == 0 { return monotonicNanoseconds() }
        let cell = currentThreadStripe(mask: Self.stripeMask) &* Self.stride &+ Self.sampleTick
        return sampleStart(cell: cell)
    }

    @inlinable
    func sampleStart(cell: Int) -> UInt64 {
        // A plain load and store: two threads sharing a stripe may lose a tick, which only shifts
        // the sampling phase; it is still atomic, so not a data race.
        let tick = cells[cell].load(ordering: .relaxed) &+ 1
        cells[cell].store(tick, ordering: .relaxed)
        return tick & sampleMask == 0 ? monotonicNanoseconds() : 0
    }

    /// Counts one operation and, when `start` is non-zero, its latency.
    @inlinable
    func finish(_ op: OpKind, _ result: OpResult, start: UInt64) {
        let base = currentThreadStripe(mask: Self.stripeMask) &* Self.stride
        cells[base &+ Self.opsBase &+ op.index &* 4 &+ result.index].wrappingAdd(1, ordering: .relaxed)
        if start != 0 {
            let elapsed = monotonicNanoseconds() &- start
            observe(elapsed, base: base)
        }
    }

    @inlinable
    func observe(_ nanoseconds: UInt64, base: Int) {
        cells[base &+ Self.bucketBase &+ LatencyHistogram.bucketIndex(nanoseconds)].wrappingAdd(1, ordering: .relaxed)
        cells[base &+ Self.latencySum].wrappingAdd(nanoseconds, ordering: .relaxed)
        cells[base &+ Self.latencyCount].wrappingAdd(1, ordering: .relaxed)
    }

    @inlinable
    func countContention() { add(Self.contention) }

    @inlinable
    func countEvictions(_ count: Int) { if count > 0 { add(Self.evictions, UInt64(count)) } }

    @inlinable
    func countExpirations(_ count: Int) { if count > 0 { add(Self.expirations, UInt64(count)) } }

    /// Counts a fault that the embedding service (or the controller) observed outside the map's own operations.
    public func reportFault() { add(Self.reportedFaults) }

    /// Counts an operation performed on top of the map (for example an injected failure), with its latency.
    public func record(op: OpKind, result: OpResult, nanoseconds: UInt64) {
        let base = currentThreadStripe(mask: Self.stripeMask) &* Self.stride
        cells[base &+ Self.opsBase &+ op.index &* 4 &+ result.index].wrappingAdd(1, ordering: .relaxed)
        observe(nanoseconds, base: base)
    }

    /// Monotonic totals since creation, summed over stripes.
    ///
    /// - Complexity: O(stripes × cells), about 2,000 relaxed loads; cheap enough for once a second.
    public func snapshot() -> CounterSnapshot {
        var sums = [UInt64](repeating: 0, count: Self.stride)
        for stripe in 0..<Self.stripeCount {
            let base = stripe * Self.stride
            for cell in 0..<Self.stride {
                sums[cell] &+= cells[base + cell].load(ordering: .relaxed)
            }
        }
        var ops: [OpKind: [OpResult: UInt64]] = [:]
        for kind in OpKind.allCases {
            var row: [OpResult: UInt64] = [:]
            for result in OpResult.allCases {
                row[result] = sums[Self.opsBase + kind.index * 4 + result.index]
            }
            ops[kind] = row
        }
        let histogram = LatencyHistogram(
            counts: Array(sums[Self.bucketBase..<(Self.bucketBase + LatencyHistogram.bucketCount)]),
            sumNanoseconds: sums[Self.latencySum]
        )
        return CounterSnapshot(
            ops: ops,
            latency: histogram,
            contention: sums[Self.contention],
            evictions: sums[Self.evictions],
            expirations: sums[Self.expirations],
            reportedFaults: sums[Self.reportedFaults]
        )
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

/// A latency histogram with fixed log-scale buckets: two per power of two, from 48 ns to about 100 s.
public struct LatencyHistogram: Sendable, Hashable {
    /// Number of buckets; the last one also holds everything above its bound.
    public static let bucketCount = 64

    /// Observations per bucket (not cumulative).
    public var counts: [UInt64]
    public var sumNanoseconds: UInt64

    public init(counts: [UInt64] = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount), sumNanoseconds: UInt64 = 0) {
        self.counts = counts
        self.sumNanoseconds = sumNanoseconds
    }

    /// Observations in all buckets.
    public var count: UInt64 { counts.reduce(0, &+) }
    /// The sum of all observations.
    public var sum: Duration { .nanoseconds(Int64(clamping: sumNanoseconds)) }

    /// Bucket `i` holds `[lower, upper)` with upper = (3 + i % 2) << (i / 2 + 4) ns: 48, 64, 96, 128, ... ns.
    @inlinable
    static func bucketIndex(_ nanoseconds: UInt64) -> Int {
        if nanoseconds < 32 { return 0 }
        let msb = 63 - nanoseconds.leadingZeroBitCount  // >= 5
        let half = Int(truncatingIfNeeded: nanoseconds >> UInt64(msb - 1)) & 1
        return min((msb - 5) * 2 + half, bucketCount - 1)
    }

    /// The exclusive upper bound of bucket `index`, in nanoseconds.
    public static func upperBoundNanoseconds(ofBucket index: Int) -> UInt64 {
        // Bucket 0: [0, 48); then [48, 64), [64, 96), [96, 128), ...
        let shifted = index + 1
        let octave = shifted / 2
        let half = UInt64(shifted % 2)
        return (2 + half) << UInt64(octave + 4)
    }

    /// The `q`-quantile (0...1), as the upper bound of the bucket that holds it; zero when empty.
    public func quantile(_ q: Double) -> Duration {
        let total = count
        guard total > 0 else { return .zero }
        let rank = UInt64((Double(total) * min(max(q, 0), 1)).rounded(.up))
        var cumulative: UInt64 = 0
        for (index, bucketCount) in counts.enumerated() {
            cumulative &+= bucketCount
            if cumulative >= max(rank, 1) {
                return .nanoseconds(Int64(clamping: Self.upperBoundNanoseconds(ofBucket: index)))
            }
        }
        return .nanoseconds(Int64(clamping: Self.upperBoundNanoseconds(ofBucket: Self.bucketCount - 1)))
    }

    /// Cumulative counts for Prometheus, one per bucket (`le` in seconds); the last bucket's count is the total.
    public var buckets: [(upperBoundSeconds: Double, cumulativeCount: UInt64)] {
        var cumulative: UInt64 = 0
        return counts.enumerated().map { index, bucketCount in
            cumulative &+= bucketCount
            return (Double(Self.upperBoundNanoseconds(ofBucket: index)) / 1e9, cumulative)
        }
    }

    /// This histogram minus an earlier reading of the same one.
    public func delta(since earlier: LatencyHistogram) -> LatencyHistogram {
        LatencyHistogram(
            counts: zip(counts, earlier.counts).map { $0 &- $1 },
            sumNanoseconds: sumNanoseconds &- earlier.sumNanoseconds
        )
    }
}
