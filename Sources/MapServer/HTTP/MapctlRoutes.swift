import Foundation
import HTTPTypes
public import Hummingbird
public import MapController
import MapSchema
import NIOCore
public import Prometheus

/// Settings of the mapctl API routes.
public struct MapctlRoutesConfiguration: Sendable {
    /// Largest `POST /v1/apply` body (413 beyond). Default 1 MiB, the schema file limit.
    public var maxApplyBodyBytes: Int
    /// Largest `PUT …/entries/{key}` body (413 beyond). Default 1 MiB.
    public var maxEntryBodyBytes: Int
    /// Largest rollback request body. Default 64 KiB.
    public var maxRollbackBodyBytes: Int
    /// Serve `GET /metrics`. An embedding service with a `/metrics` of its own turns this off
    /// and calls ``MetricsRenderer`` itself.
    public var servesMetrics: Bool
    /// Serve `GET /healthz` and `GET /readyz`.
    public var servesHealth: Bool
    /// Registries whose series `/metrics` emits after the controller's (the server's own HTTP counters).
    public var additionalMetrics: [PrometheusCollectorRegistry]
    /// When set, `/readyz` also waits for this gate (the daemon's first directory reconcile).
    public var readinessGate: ReadinessGate?
    /// When set, `/readyz` answers 503 `reconcile_stalled` while a reconcile has run longer than
    /// ``maxReconcileDuration``, read without waiting for the controller (which that reconcile holds).
    public var reconcileProgress: ReconcileProgress?
    /// How long a reconcile may run before `/readyz` turns 503 (`--max-reconcile`, 30 s).
    public var maxReconcileDuration: Duration = .seconds(30)

    public init(
        maxApplyBodyBytes: Int = 1 << 20,
        maxEntryBodyBytes: Int = 1 << 20,
        maxRollbackBodyBytes: Int = 64 << 10,
        servesMetrics: Bool = true,
        servesHealth: Bool = true,
        additionalMetrics: [PrometheusCollectorRegistry] = [],
        readinessGate: ReadinessGate? = nil
    ) {
        self.maxApplyBodyBytes = maxApplyBodyBytes
        self.maxEntryBodyBytes = maxEntryBodyBytes
        self.maxRollbackBodyBytes = maxRollbackBodyBytes
        self.servesMetrics = servesMetrics
        self.servesHealth = servesHealth
        self.additionalMetrics = additionalMetrics
        self.readinessGate = readinessGate
    }
}

/// Mounts the mapctl HTTP API on a router, backed by any ``ControlPlane``.
///
/// The daemon calls it on its own router; a service that embeds the controller calls it
/// on its Hummingbird router (or a group of it) to serve the same API:
///
/// ```swift
/// let router = Router()
/// addMapctlRoutes(to: router, controlPlane: controller, authorization: APIAuthorization(token: token, listeningOn: "127.0.0.1"))
/// ```
///
/// Every handler answers; none throws. Errors are `{"error": {"code", "message"}}` with a 4xx
/// or 5xx status; a method that a path does not serve gets 405 with `Allow`.
///
/// - Parameters:
///   - router: the router or group to add the routes to.
///   - controlPlane: what the routes call.
///   - authorization: the token policy.
///   - configuration: body limits and optional endpoints.
///   - routeTable: filled with each path and the methods it serves, for a ``JSONErrorMiddleware``
///     that answers methods no route has with 405.
public func addMapctlRoutes<Context: RequestContext>(
    to router: some RouterMethods<Context>,
    controlPlane: some ControlPlane,
    authorization: APIAuthorization,
    configuration: MapctlRoutesConfiguration = MapctlRoutesConfiguration(),
    routeTable: MapctlRouteTable? = nil
) {
    let api = MapctlAPI(controlPlane: controlPlane, authorization: authorization, configuration: configuration)
    var routes: [(RouterPath, [HTTPRequest.Method: @Sendable (Request, Context) async -> Response])] = []

    if configuration.servesHealth {
        routes.append(("/healthz", [.get: { _, _ in api.healthz() }]))
        routes.append(("/readyz", [.get: { _, _ in await api.readyz() }]))
    }
    if configuration.servesMetrics {
        let scrapes = MetricsScrapes(controlPlane: controlPlane, additional: configuration.additionalMetrics)
        routes.append(("/metrics", [.get: { request, _ in await api.metrics(request, scrapes) }]))
    }
    routes.append(("/v1/maps", [.get: { request, _ in await api.listMaps(request) }]))
    routes.append(("/v1/maps/:name", [.get: { request, context in await api.mapStatus(request, name: context.parameters.get("name")) }]))
    routes.append(
        ("/v1/maps/:name/history", [.get: { request, context in await api.history(request, name: context.parameters.get("name")) }])
    )
    routes.append(("/v1/apply", [.post: { request, _ in await api.apply(request) }]))
    routes.append(
        ("/v1/maps/:name/rollback", [.post: { request, context in await api.rollback(request, name: context.parameters.get("name")) }])
    )
    routes.append(
        (
            "/v1/maps/:name/entries/:key",
            [
                .get: { request, context in
                    await api.getEntry(request, name: context.parameters.get("name"), key: context.parameters.get("key"))
                },
                .put: { request, context in
                    await api.putEntry(request, name: context.parameters.get("name"), key: context.parameters.get("key"))
                },
                .delete: { request, context in
                    await api.deleteEntry(request, name: context.parameters.get("name"), key: context.parameters.get("key"))
                },
            ]
        )
    )

    let everyMethod: [HTTPRequest.Method] = [.get, .head, .post, .put, .delete, .patch, .options]
    for (path, handlers) in routes {
        var allowed = handlers.keys.map(\.rawValue)
        if handlers[.get] != nil { allowed.append("HEAD") }
        let allow = allowed.sorted().joined(separator: ", ")
        routeTable?.add(path, allow: allow)
        for method in everyMethod {
            if let handler = handlers[method] {
                router.on(path, method: method) { request, context in await handler(request, context) }
            } else if method == .head, let get = handlers[.get] {
                router.on(path, method: .head) { request, context in await get(request, context).createHeadResponse() }
            } else {
                router.on(path, method: method) { request, _ in
                    var headers = HTTPFields()
                    headers[.allow] = allow
                    return APIResponse.error(
                        .methodNotAllowed,
                        code: "method_not_allowed",
                        message: "\(request.method.rawValue) is not allowed on \(request.uri.path); allowed: \(allow)",
                        headers: headers
                    )
                }
            }
        }
    }
}

/// The handlers, written against ``ControlPlane`` only.
struct MapctlAPI<Plane: ControlPlane>: Sendable {
    let controlPlane: Plane
    let authorization: APIAuthorization
    let configuration: MapctlRoutesConfiguration

    // MARK: Health and metrics

    func healthz() -> Response {
        APIResponse.raw(Array(#"{"status":"ok"}"#.utf8) + [10])
    }

    func readyz() async -> Response {
        if let running = configuration.reconcileProgress?.runningFor, running > configuration.maxReconcileDuration {
            return APIResponse.error(
                .serviceUnavailable, code: "reconcile_stalled",
                message:
                    "a reconcile has run for \(running.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))), "
                    + "over the limit of \(configuration.maxReconcileDuration.formatted(.units(allowed: [.seconds])))")
        }
        if configuration.readinessGate?.isOpen ?? true, await controlPlane.isReady {
            return APIResponse.raw(Array(#"{"status":"ready"}"#.utf8) + [10])
        }
        return APIResponse.error(.serviceUnavailable, code: "not_ready", message: "the first reconcile is not done yet")
    }

    /// One render at a time, off the handlers' threads, shared by concurrent scrapes (``MetricsScrapes``).
    func metrics(_ request: Request, _ scrapes: MetricsScrapes) async -> Response {
        if let denied = checkToken(request, .offLoopback) { return denied }
        return APIResponse.raw(await scrapes.text(), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    // MARK: Maps

    func listMaps(_ request: Request) async -> Response {
        if let denied = checkToken(request, .offLoopback) { return denied }
        let statuses = await controlPlane.statuses()
        return APIResponse.json(MapList(maps: statuses))
    }

    func mapStatus(_ request: Request, name: String?) async -> Response {
        if let denied = checkToken(request, .offLoopback) { return denied }
        return await respond {
            let name = try APIInput.pathSegment(name, what: "map name")
            return APIResponse.json(try await controlPlane.status(of: name))
        }
    }

    func history(_ request: Request, name: String?) async -> Response {
        if let denied = checkToken(request, .offLoopback) { return denied }
        return await respond {
            let name = try APIInput.pathSegment(name, what: "map name")
            let entries = try await controlPlane.history(of: name)
            return APIResponse.json(entries)
        }
    }

    // MARK: Apply and rollback

    func apply(_ request: Request) async -> Response {
        if let denied = checkToken(request, .always) { return denied }
        let isDryRun: Bool
        let prune: Bool
        do {
            isDryRun = try Self.flag(request, "dry_run")
            prune = try Self.flag(request, "prune")
        } catch {
            return APIResponse.error(error)
        }
        let body: ByteBuffer
        switch await Self.collectBody(request, limit: configuration.maxApplyBodyBytes) {
        case .success(let buffer): body = buffer
        case .failure(let response): return response.response
        }
        let client = request.headers[Self.clientHeader] ?? request.headers[.userAgent] ?? "http"
        return await respond {
            let report = try await controlPlane.apply(
                yaml: Array(buffer: body), source: "apply:\(client)", isDryRun: isDryRun, prune: prune)
            if let failure = Self.stateWriteFailure(of: report) { return failure }
            if let failure = Self.totalFailure(of: report) { return failure }
            return APIResponse.json(report)
        }
    }

    func rollback(_ request: Request, name: String?) async -> Response {
        if let denied = checkToken(request, .always) { return denied }
        let body: ByteBuffer
        switch await Self.collectBody(request, limit: configuration.maxRollbackBodyBytes) {
        case .success(let buffer): body = buffer
        case .failure(let response): return response.response
        }
        let client = request.headers[Self.clientHeader] ?? request.headers[.userAgent] ?? "http"
        return await respond {
            let name = try APIInput.pathSegment(name, what: "map name")
            var rollbackRequest = RollbackRequest()
            if body.readableBytes > 0, !body.readableBytesView.allSatisfy({ $0 == 32 || $0 == 10 || $0 == 13 || $0 == 9 }) {
                do {
                    rollbackRequest = try JSONDecoder().decode(RollbackRequest.self, from: Data(buffer: body))
                } catch {
                    throw ControlPlaneError(
                        .badRequest, code: "bad_body",
                        message: "the body must be a JSON object {\"to\": VERSION, \"reason\": TEXT}, both optional")
                }
            }
            let status = try await controlPlane.rollback(
                name: name,
                to: rollbackRequest.to,
                reason: rollbackRequest.reason,
                source: "rollback:\(client)"
            )
            return APIResponse.json(status)
        }
    }

    // MARK: Entries

    func getEntry(_ request: Request, name: String?, key: String?) async -> Response {
        if let denied = checkToken(request, .offLoopback) { return denied }
        return await respond {
            let name = try APIInput.pathSegment(name, what: "map name")
            let key = try APIInput.pathSegment(key, what: "key")
            let value = try await controlPlane.getEntry(map: name, key: key)
            return APIResponse.raw(value)
        }
    }

    func putEntry(_ request: Request, name: String?, key: String?) async -> Response {
        if let denied = checkToken(request, .offLoopback) { return denied }
        let body: ByteBuffer
        switch await Self.collectBody(request, limit: configuration.maxEntryBodyBytes) {
        case .success(let buffer): body = buffer
        case .failure(let response): return response.response
        }
        return await respond {
            let name = try APIInput.pathSegment(name, what: "map name")
            let key = try APIInput.pathSegment(key, what: "key")
            guard body.readableBytes > 0 else { throw APIInput.emptyValue }
            try await controlPlane.putEntry(map: name, key: key, json: Array(buffer: body))
            return APIResponse.noContent()
        }
    }

    func deleteEntry(_ request: Request, name: String?, key: String?) async -> Response {
        if let denied = checkToken(request, .offLoopback) { return denied }
        return await respond {
            let name = try APIInput.pathSegment(name, what: "map name")
            let key = try APIInput.pathSegment(key, what: "key")
            try await controlPlane.deleteEntry(map: name, key: key)
            return APIResponse.noContent()
        }
    }

    // MARK: Helpers

    /// Clients (the CLI) name themselves here; the name goes into history as `apply:NAME`.
    static var clientHeader: HTTPField.Name { HTTPField.Name("X-Mapctl-Client")! }

    /// Runs a handler body; a ``ControlPlaneError`` becomes its status and JSON body.
    private func respond(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as ControlPlaneError {
            return APIResponse.error(error)
        } catch {
            return APIResponse.error(.internalServerError, code: "internal", message: "\(error)")
        }
    }

    /// The `Host` check (loopback only, against DNS rebinding), then the token check.
    private func checkToken(_ request: Request, _ requirement: APIAuthorization.Requirement) -> Response? {
        authorization.denial(of: request.head, requirement)?.response
    }

    /// A 503 when a change could not be written to the state database: it was not applied (live is
    /// untouched), so it is never acknowledged; the report says what else the apply did.
    static func stateWriteFailure(of report: ApplyReport) -> Response? {
        let failed = report.plan.filter { $0.stateError != nil }
        guard let first = failed.first, let reason = first.stateError else { return nil }
        let names = failed.map(\.name).joined(separator: ", ")
        let others = report.plan.count > failed.count ? "; the other documents' outcome is in the report" : ""
        return APIResponse.error(
            .serviceUnavailable,
            code: "state_write_failed",
            message: "not applied: \(names): \(reason)\(others)",
            report: report
        )
    }

    /// A 422 when every document of an apply failed (invalid, or refused) and so nothing was or would be applied.
    static func totalFailure(of report: ApplyReport) -> Response? {
        let failures = report.plan.filter(isFailure)
        guard !failures.isEmpty, failures.count == report.plan.count else { return nil }
        var diagnostics: [Diagnostic] = []
        for entry in failures {
            if entry.diagnostics.isEmpty {
                let message = entry.reason ?? "\(entry.name): \(entry.action.rawValue)"
                diagnostics.append(Diagnostic(file: entry.source ?? "<apply>", line: 0, column: 0, message: message))
            } else {
                diagnostics.append(contentsOf: entry.diagnostics)
            }
        }
        let isInvalid = failures.contains { $0.action == .invalid }
        let first = diagnostics.first.map { ": \($0.message)" } ?? ""
        let noun = failures.count == 1 ? "document" : "documents"
        return APIResponse.error(
            .unprocessableContent,
            code: isInvalid ? "invalid_schema" : "refused",
            message: "\(failures.count) \(noun) \(isInvalid ? "invalid" : "refused"), nothing applied\(first)",
            diagnostics: diagnostics,
            report: report
        )
    }

    /// Only an invalid or refused document failed. A `reason` alone says why something was done
    /// as it was (a downgrade applied as a rollback, a breaking change starting empty), not that
    /// it failed.
    static func isFailure(_ entry: PlanEntry) -> Bool {
        entry.action == .invalid
    }

    static func flag(_ request: Request, _ name: String) throws(ControlPlaneError) -> Bool {
        guard let value = request.uri.queryParameters.get(name) else { return false }
        switch value.lowercased() {
        case "", "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ControlPlaneError(.badRequest, code: "bad_parameter", message: "\(name) must be true or false, not '\(value)'")
        }
    }

    struct BodyFailure: Error {
        let response: Response
    }

    static func collectBody(_ request: Request, limit: Int) async -> Result<ByteBuffer, BodyFailure> {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            return .failure(BodyFailure(response: tooLarge(limit)))
        }
        var request = request
        do {
            return .success(try await request.collectBody(upTo: limit))
        } catch is NIOTooManyBytesError {
            return .failure(BodyFailure(response: tooLarge(limit)))
        } catch {
            return .failure(
                BodyFailure(response: APIResponse.error(.badRequest, code: "bad_body", message: "cannot read the request body: \(error)")))
        }
    }

    static func tooLarge(_ limit: Int) -> Response {
        APIInput.tooLarge(limit).response
    }
}

/// `GET /v1/maps`.
struct MapList: Encodable {
    var maps: [MapStatus]
}

/// `POST /v1/maps/{name}/rollback` body; both fields optional.
struct RollbackRequest: Decodable {
    var to: String?
    var reason: String?
}
