public import Hummingbird
public import Prometheus
import Synchronization

/// Counts the API's own requests in `mapctl_http_requests_total{method,route,status}`.
///
/// The series live in a registry owned by the server (never the global
/// `MetricsSystem`, so that many daemons can run in one test process); pass the same
/// registry to the routes' configuration so that `/metrics` emits it.
public struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let counters: HTTPRequestCounters

    public init(registry: PrometheusCollectorRegistry) {
        self.counters = HTTPRequestCounters(registry: registry)
    }

    /// Counting into `counters`, which the entry fast path shares.
    init(counters: HTTPRequestCounters) {
        self.counters = counters
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            counters.count(request.method, route: context.endpointPath, status: response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            counters.count(request.method, route: context.endpointPath, status: error.status.code)
            throw error
        } catch {
            counters.count(request.method, route: context.endpointPath, status: 500)
            throw error
        }
    }
}

/// The series of `mapctl_http_requests_total{method,route,status}`, each handle made once: the registry
/// validates and sorts labels under its lock on every `makeCounter`, which had been a cost of every request.
/// Routes are patterns and methods a short list, so the set stays small.
final class HTTPRequestCounters: Sendable {
    struct Key: Hashable, Sendable {
        var method: String
        var route: String
        var status: Int
    }

    let registry: PrometheusCollectorRegistry
    private let counters = Mutex<[Key: Prometheus.Counter]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func count(_ method: HTTPRequest.Method, route: String?, status: Int) {
        counter(method, route: route, status: status).increment()
    }

    /// The handle of one series, made on first use.
    func counter(_ method: HTTPRequest.Method, route: String?, status: Int) -> Prometheus.Counter {
        let key = Key(method: Self.label(for: method), route: route ?? "unmatched", status: status)
        if let counter = counters.withLock({ $0[key] }) { return counter }
        let descriptor = MetricNameDescriptor(
            namespace: "mapctl",
            metricName: "http_requests",
            unitName: "total",
            helpText: "HTTP requests served, by method, route pattern and status."
        )
        let counter = registry.makeCounter(
            descriptor: descriptor, labels: [("method", key.method), ("route", key.route), ("status", String(status))]
        )
        counters.withLock { $0[key] = counter }
        return counter
    }

    // Any token is a valid method: keep the label set small.
    private static func label(for method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .delete, .patch, .options: method.rawValue
        default: "other"
        }
    }
}
