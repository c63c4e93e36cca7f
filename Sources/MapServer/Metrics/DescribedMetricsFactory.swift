public import Metrics
public import Prometheus

/// A swift-metrics factory whose series land in a `PrometheusCollectorRegistry` with help texts, so that
/// another module can add its own series to `/metrics` with swift-metrics' `Gauge`, `Meter`, `Counter`
/// or `Timer`, and `promtool check metrics` stays clean (swift-prometheus' own factory writes no
/// `# HELP`, which promtool reports).
///
/// Give it the registry that `/metrics` emits (the daemon's, passed in
/// ``MapctlRoutesConfiguration/additionalMetrics``) and a help text for each name:
///
/// ```swift
/// let factory = DescribedMetricsFactory(registry: httpMetrics, help: [
///     "mapctl_fleet_leader": "1 while this replica leads its fleet, else 0.",
/// ])
/// let leader = Gauge(label: "mapctl_fleet_leader", dimensions: [("fleet", name)], factory: factory)
/// leader.record(1)
/// ```
///
/// Make each series once and keep it (a registry copies a family's dictionary for every series added).
/// A name without a help text gets a generic one. Histograms and timers use swift-prometheus' default
/// buckets.
public struct DescribedMetricsFactory: MetricsFactory, Sendable {
    public let registry: PrometheusCollectorRegistry
    /// Help texts by metric name (the swift-metrics label).
    public let help: [String: String]
    private let plain: PrometheusMetricsFactory

    public init(registry: PrometheusCollectorRegistry, help: [String: String]) {
        self.registry = registry
        self.help = help
        self.plain = PrometheusMetricsFactory(registry: registry)
    }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help[label] ?? "\(label), reported through swift-metrics.")
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(
            descriptor: descriptor(label), labels: dimensions,
            buckets: plain.valueHistogramBuckets[label] ?? plain.defaultValueHistogramBuckets)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(
            descriptor: descriptor(label), labels: dimensions,
            buckets: plain.durationHistogramBuckets[label] ?? plain.defaultDurationHistogramBuckets)
    }

    public func destroyCounter(_ handler: any CounterHandler) { plain.destroyCounter(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { plain.destroyFloatingPointCounter(handler) }
    public func destroyRecorder(_ handler: any RecorderHandler) { plain.destroyRecorder(handler) }
    public func destroyMeter(_ handler: any MeterHandler) { plain.destroyMeter(handler) }
    public func destroyTimer(_ handler: any TimerHandler) { plain.destroyTimer(handler) }
}
