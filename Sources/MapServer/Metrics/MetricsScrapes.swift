public import MapController
import NIOPosix
public import Prometheus
import Synchronization

/// The `/metrics` page, rendered once for every scrape that arrives while a render runs.
///
/// A render (the controller's snapshot, then the text) runs in a task of its own, not in a request's.
/// A scrape that arrives while one runs waits for that render's text instead of starting another, so
/// any number of concurrent scrapes cost one render at a time, and none of it takes a lock or an actor
/// that `/healthz` needs. The text is written on NIO's blocking-work thread pool, neither on an event
/// loop nor on the cooperative pool where handlers run. A scrape that joins a running render gets values
/// read at most one render before it arrived, which a scraper cannot tell from its own network delay.
///
/// ```swift
/// let scrapes = MetricsScrapes(controlPlane: controller, additional: [httpMetrics])
/// router.get("/metrics") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: await scrapes.text()))) }
/// ```
public final class MetricsScrapes: Sendable {
    private let render: @Sendable () async -> [UInt8]
    private let running = Mutex<Running>(Running())

    private struct Running {
        var generation: UInt64 = 0
        var task: Task<[UInt8], Never>?
    }

    /// Scrapes of what `render` returns.
    public init(render: @escaping @Sendable () async -> [UInt8]) {
        self.render = render
    }

    /// Scrapes of `controlPlane`'s snapshot rendered by ``MetricsRenderer``, then `additional` registries.
    public convenience init(controlPlane: some ControlPlane, additional: [PrometheusCollectorRegistry] = []) {
        self.init {
            let snapshot = await controlPlane.metricsSnapshot()
            return await Self.offThePools {
                LegacyRegistryRenderer.chosen
                    ? LegacyRegistryRenderer().render(snapshot, additional: additional)
                    : MetricsRenderer().render(snapshot, additional: additional)
            }
        }
    }

    /// `work` run on NIO's thread pool for blocking work (here, if that pool is shut down).
    static func offThePools(_ work: @escaping @Sendable () -> [UInt8]) async -> [UInt8] {
        (try? await NIOThreadPool.singleton.runIfActive(work)) ?? work()
    }

    /// The page: the render now running, or a new one.
    public func text() async -> [UInt8] {
        let task = running.withLock { running in
            if let task = running.task { return task }
            running.generation &+= 1
            let generation = running.generation
            // The task clears itself when done; it waits for this lock if it finishes before we leave it.
            let task = Task { [render] in
                let text = await render()
                self.finished(generation)
                return text
            }
            running.task = task
            return task
        }
        return await task.value
    }

    /// Renders in progress or done since the start (for tests: concurrent scrapes share one).
    var renders: UInt64 { running.withLock { $0.generation } }

    private func finished(_ generation: UInt64) {
        running.withLock { running in
            if running.generation == generation { running.task = nil }
        }
    }
}
