public import Hummingbird
public import Prometheus

/// Counts the API's own requests in `mapctl_http_requests_total{method,route,status}`.
///
/// The series live in a registry owned by the server (never the global
/// `MetricsSystem`, so that many daemons can run in one test process); pass the same
/// registry to the routes' configuration so that `/metrics` emits it.
public struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let registry: PrometheusCollectorRegistry

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
        let descriptor = MetricNameDescriptor(
            namespace: "mapctl",
            metricName: "http_requests",
            unitName: "total",
            helpText: "HTTP requests served, by method, route pattern and status."
        )
        registry.makeCounter(
            descriptor: descriptor,
            labels: [("method", Self.label(for: request.method)), ("route", route ?? "unmatched"), ("status", String(status))]
        ).increment()
    }
}
