import MapController

/// `mapctl_map_op_duration_seconds`: `_bucket{le}` (cumulative, +Inf last), `_sum`, `_count` per instance.
///
/// The buckets arrive already counted (a swift-prometheus histogram cannot take them), so they are
/// written here. Every instance has the same bounds: their `le` labels are rendered once and reused.
enum LatencyHistogramText {
    static let bucketName = ExpositionText.Name(MetricsRenderer.Family.latency.name + "_bucket")
    static let sumName = ExpositionText.Name(MetricsRenderer.Family.latency.name + "_sum")
    static let countName = ExpositionText.Name(MetricsRenderer.Family.latency.name + "_count")
    static let infinity = ExpositionText.Labels(["le": "+Inf"])

    static func write(_ maps: [MetricsRenderer.Instance], into text: inout ExpositionText) {
        text.family(MetricsRenderer.Family.latency)
        var bounds: [(upperBound: Double, le: ExpositionText.Labels)] = []
        for map in maps {
            let sample = map.sample
            var sawInfinity = false
            var lastCount: UInt64 = 0
            for (index, bucket) in sample.latencyBuckets.enumerated() {
                // Buckets must be cumulative: a sample that is not (a torn read) is clamped rather than rejected.
                lastCount = max(lastCount, bucket.cumulativeCount)
                let le: ExpositionText.Labels
                if bucket.upperBound.isInfinite {
                    le = infinity
                    sawInfinity = true
                    lastCount = max(lastCount, sample.latencyCount)
                } else {
                    if index == bounds.count {
                        bounds.append((bucket.upperBound, label(bucket.upperBound)))
                    } else if bounds[index].upperBound != bucket.upperBound {
                        bounds[index] = (bucket.upperBound, label(bucket.upperBound))
                    }
                    le = bounds[index].le
                }
                text.sample(bucketName, map.labels, le, value: .count(lastCount))
                if sawInfinity { break }
            }
            let total = max(sample.latencyCount, lastCount)
            if !sawInfinity {
                text.sample(bucketName, map.labels, infinity, value: .count(total))
            }
            text.sample(sumName, map.labels, value: .double(sample.latencySumSeconds))
            text.sample(countName, map.labels, value: .count(sawInfinity ? lastCount : total))
        }
    }

    private static func label(_ bound: Double) -> ExpositionText.Labels {
        ExpositionText.Labels(["le": ExpositionText.format(bound)])
    }
}
