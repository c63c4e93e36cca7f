import Logging
import Prometheus
import ServiceLifecycle

extension Daemon {
    /// The RESP listener of `mapctl watch --resp ADDR`, bound, and the address it listens on; nil
    /// when `--resp` was not given.
    ///
    /// Its command counts join the HTTP API's registry, so that `/metrics` emits them.
    static func respListener(
        for controller: some DaemonController,
        configuration: DaemonConfiguration,
        token: APIToken,
        metrics: PrometheusCollectorRegistry,
        logger: Logger
    ) async throws -> (service: any Service, address: String)? {
        guard var resp = configuration.resp else { return nil }
        // A value is limited as over HTTP.
        resp.limits.maxValueBytes = min(resp.limits.maxValueBytes, configuration.routes.maxEntryBodyBytes)
        guard let backend = controller as? any RESPBackend else {
            throw DaemonError("resp: this controller has no synchronous entry API to serve RESP from")
        }
        let authorization = RESPAuthorization(token: token, listeningOn: resp.host)
        if authorization.requiresToken {
            logger.notice(
                "resp listening beyond loopback: every command needs AUTH with the token first", metadata: ["host": "\(resp.host)"])
        }
        return try await bind(
            backend, resp: resp, authorization: authorization, metrics: RESPCommandMetrics(registry: metrics), logger: logger)
    }

    private static func bind<Backend: RESPBackend>(
        _ backend: Backend, resp: RESPConfiguration, authorization: RESPAuthorization, metrics: RESPCommandMetrics, logger: Logger
    ) async throws -> (service: any Service, address: String) {
        let server = RESPServer(configuration: resp, backend: backend, authorization: authorization, metrics: metrics, logger: logger)
        return (server, try await server.bind())
    }
}
