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
