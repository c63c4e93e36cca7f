/// A log-linear latency histogram: 16 equal-width sub-buckets per power of two, exact below 16 ns, up
/// to 2^37 ns (about 137 s; the last bucket also holds everything above).
///
/// Why this shape: a rollout check compares the p99 with `max_p99_latency`, so the estimate must be close
/// to the exact p99 of the measured operations, not a bucket's upper bound (two buckets per octave read
/// a true 1.6 ms as 2.1 ms and failed a 2 ms limit). A sub-bucket is at most 1/16 of its lower bound
/// wide, and ``quantile(_:)`` interpolates inside it and then keeps the result where it is within 4 % of
/// any value the bucket can hold: the estimate is within 4 % of the exact quantile, whatever the
/// distribution (HdrHistogram uses the same log-linear layout).
public struct LatencyHistogram: Sendable, Hashable {
    /// Sub-buckets per power of two (as a shift: 16).
    @inlinable static var subBucketBits: Int { 4 }
    @inlinable static var subBuckets: Int { 16 }
    /// The highest power of two with its own sub-buckets: values from 2^36 ns on share the last octave.
    @inlinable static var topOctave: Int { 36 }

    /// Number of buckets (544); the last one also holds everything above its bound.
    @inlinable public static var bucketCount: Int { 544 }

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

    /// The bucket of a latency: `v` itself below 16 ns, else octave `msb` and the next 4 bits below it.
    @inlinable
    static func bucketIndex(_ nanoseconds: UInt64) -> Int {
        if nanoseconds < UInt64(subBuckets) { return Int(truncatingIfNeeded: nanoseconds) }
        let msb = 63 - nanoseconds.leadingZeroBitCount
        if msb > topOctave { return bucketCount - 1 }
        let sub = Int(truncatingIfNeeded: nanoseconds >> UInt64(msb - subBucketBits)) & (subBuckets - 1)
        return (msb - subBucketBits + 1) &* subBuckets &+ sub
    }

    /// The inclusive lower bound of bucket `index`, in nanoseconds.
    public static func lowerBoundNanoseconds(ofBucket index: Int) -> UInt64 {
        let index = min(max(index, 0), bucketCount - 1)
        if index < subBuckets { return UInt64(index) }
        let msb = index / subBuckets + subBucketBits - 1
        let sub = UInt64(index % subBuckets)
        return (UInt64(subBuckets) + sub) << UInt64(msb - subBucketBits)
    }

    /// The exclusive upper bound of bucket `index`, in nanoseconds.
    public static func upperBoundNanoseconds(ofBucket index: Int) -> UInt64 {
        let index = min(max(index, 0), bucketCount - 1)
        if index < subBuckets { return UInt64(index + 1) }
        let msb = index / subBuckets + subBucketBits - 1
        return lowerBoundNanoseconds(ofBucket: index) + (1 << UInt64(msb - subBucketBits))
    }

    /// The `q`-quantile (0...1) of the observations; zero when empty.
    ///
    /// The exact quantile is the observation of rank ⌈q·n⌉. The estimate finds its bucket, places it by
    /// its rank among the bucket's observations (linear interpolation), then clamps that into
    /// [0.96 × upper, 1.04 × lower] of the bucket: every value in the bucket is within 4 % of a number in
    /// that range (a bucket is at most 1/16 of its lower bound wide), so the estimate is too.
    public func quantile(_ q: Double) -> Duration {
        .nanoseconds(Int64(clamping: quantileNanoseconds(q)))
    }

    /// ``quantile(_:)`` in nanoseconds.
    public func quantileNanoseconds(_ q: Double) -> UInt64 {
        let total = count
        guard total > 0 else { return 0 }
        let rank = max(1, UInt64((Double(total) * min(max(q, 0), 1)).rounded(.up)))
        var before: UInt64 = 0
        var index = counts.count - 1
        for (candidate, bucketCount) in counts.enumerated() where bucketCount > 0 {
            if before &+ bucketCount >= rank {
                index = candidate
                break
            }
            before &+= bucketCount
        }
        let lower = Self.lowerBoundNanoseconds(ofBucket: index)
        if index < Self.subBuckets { return lower }  // exact: one value per bucket
        let upper = Self.upperBoundNanoseconds(ofBucket: index)
        let inBucket = max(counts[index], 1)
        let position = (Double(rank - before) - 0.5) / Double(inBucket)
        let interpolated = Double(lower) + Double(upper - lower) * min(max(position, 0), 1)
        let low = max(Double(lower), 0.96 * Double(upper))
        let high = min(Double(upper), 1.04 * Double(lower))
        return UInt64(min(max(interpolated, low), high).rounded())
    }

    /// The `le` bounds exported to Prometheus, in nanoseconds: two per power of two (48, 64, 96, 128, ...
    /// up to 2^37 ns). Each is a boundary of the fine buckets, so their cumulative counts are exact;
    /// 544 series per map would be too many for a scrape.
    public static let exportedBoundsNanoseconds: [UInt64] = (0..<64).map { index in
        let shifted = index + 1
        return (2 + UInt64(shifted % 2)) << UInt64(shifted / 2 + 4)
    }

    /// Cumulative counts for Prometheus at ``exportedBoundsNanoseconds`` (`le` in seconds); the last
    /// bound's count is the total.
    public var buckets: [(upperBoundSeconds: Double, cumulativeCount: UInt64)] {
        var result: [(upperBoundSeconds: Double, cumulativeCount: UInt64)] = []
        result.reserveCapacity(Self.exportedBoundsNanoseconds.count)
        var cumulative: UInt64 = 0
        var fine = 0
        for (position, bound) in Self.exportedBoundsNanoseconds.enumerated() {
            let isLast = position == Self.exportedBoundsNanoseconds.count - 1
            while fine < counts.count, isLast || Self.upperBoundNanoseconds(ofBucket: fine) <= bound {
                cumulative &+= counts[fine]
                fine += 1
            }
            result.append((Double(bound) / 1e9, cumulative))
        }
        return result
    }

    /// This histogram minus an earlier reading of the same one.
    public func delta(since earlier: LatencyHistogram) -> LatencyHistogram {
        LatencyHistogram(
            counts: zip(counts, earlier.counts).map { $0 &- $1 },
            sumNanoseconds: sumNanoseconds &- earlier.sumNanoseconds
        )
    }
}
