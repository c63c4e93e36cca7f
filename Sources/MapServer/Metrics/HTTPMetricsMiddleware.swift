public import Hummingbird
public import Prometheus
import Synchronization

/// Counts the API's own requests in `mapctl_http_requests_total{method,route,status}`.
///
/// The series live in a registry owned by the server (never the global
/// `MetricsSystem`, so that many daemons can run in one test process); pass the same
/// registry to the routes' configuration so that `/metrics` emits it.
public struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let registry: PrometheusCollectorRegistry
    /// Counter handles by (method, route, status), made once each: the registry validates and sorts
    /// labels under its lock on every `makeCounter`, which had been a cost of every request.
    private let counters = HTTPCounterCache()

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            count(request, route: context.endpointPath, status: response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            count(request, route: context.endpointPath, status: error.status.code)
            throw error
        } catch {
            count(request, route: context.endpointPath, status: 500)
            throw error
        }
    }

    // Any token is a valid method: keep the label set small.
    private static func label(for method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .delete, .patch, .options: method.rawValue
        default: "other"
        }
    }

    private func count(_ request: Request, route: String?, status: Int) {
        let key = HTTPCounterCache.Key(method: Self.label(for: request.method), route: route ?? "unmatched", status: status)
        if let counter = counters.counter(for: key) {
            counter.increment()
            return
        }
        let descriptor = MetricNameDescriptor(
            namespace: "mapctl",
            metricName: "http_requests",
            unitName: "total",
            helpText: "HTTP requests served, by method, route pattern and status."
        )
        let counter = registry.makeCounter(
            descriptor: descriptor, labels: [("method", key.method), ("route", key.route), ("status", String(status))]
        )
        counters.store(counter, for: key)
        counter.increment()
    }
}

/// The counters made so far. Routes are patterns and methods a short list, so the set stays small.
final class HTTPCounterCache: Sendable {
    struct Key: Hashable, Sendable {
        var method: String
        var route: String
        var status: Int
    }

    private let counters = Mutex<[Key: Prometheus.Counter]>([:])

    func counter(for key: Key) -> Prometheus.Counter? { counters.withLock { $0[key] } }

    func store(_ counter: Prometheus.Counter, for key: Key) { counters.withLock { $0[key] = counter } }
}
