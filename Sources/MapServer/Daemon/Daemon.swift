import Fleet
import Hummingbird
public import Logging
import MapController
import NIOCore
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the daemon needs of a controller beyond ``ControlPlane``: restoring state,
/// the checks loop, the clean-run marker, and reconciling the watched directory.
protocol DaemonController: ControlPlane {
    func start() async throws
    func run() async throws
    func shutdown() async
    func reconcileDirectory(_ path: String, prune: Bool) async -> ApplyReport
    func reconcileDirectory(_ path: String, prune: Bool, changedFiles: Set<String>?) async -> ApplyReport
}

extension Controller: DaemonController {}

/// `mapctl watch`: the controller, the directory watcher and the HTTP server as
/// Services of one `ServiceGroup`.
public enum Daemon {
    /// Runs the daemon until SIGTERM or SIGINT, then shuts down gracefully.
    ///
    /// In order: the controller restores its state (before anything is served); the API
    /// token is read or made in `STATE/token`; then the controller's checks loop, the
    /// watcher (whose first reconcile makes the daemon ready) and the HTTP server start
    /// together. On a signal they stop in reverse order and the controller writes its
    /// clean-run marker.
    ///
    /// - Parameters:
    ///   - configuration: what `mapctl watch` was given.
    ///   - logger: where everything logs.
    ///   - onListening: called once with `http://HOST:PORT` when the server accepts
    ///     connections (the port actually bound when 0 was asked for).
    ///   - onRESPListening: called once with `HOST:PORT` right after `onListening` when
    ///     ``DaemonConfiguration/resp`` is set (the RESP listener is bound by then).
    /// - Throws: when another daemon holds the state directory's lock, the controller cannot
    ///   start (state unreadable), the token cannot be made, or the server cannot bind.
    public static func run(
        configuration: DaemonConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (String) -> Void,
        onRESPListening: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws {
        try await run(
            configuration: configuration, logger: logger, onListening: onListening, onRESPListening: onRESPListening,
            onServiceGroup: { _ in })
    }

    /// ``run(configuration:logger:onListening:)`` that hands the service group to
    /// `onServiceGroup` before running it, so that a test can end it gracefully without a signal.
    static func run(
        configuration: DaemonConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (String) -> Void,
        onRESPListening: @escaping @Sendable (String) -> Void = { _ in },
        onServiceGroup: @Sendable (ServiceGroup) async -> Void
    ) async throws {
        // A file size limit (RLIMIT_FSIZE) must fail the write that crosses it (the state store then
        // reports it and nothing is acknowledged), not kill the daemon with SIGXFSZ.
        signal(SIGXFSZ, SIG_IGN)
        SignalService.ignoreUntilHandled()
        // Before anything reads or writes the state: one daemon per state directory.
        let lock = try StateDirectoryLock(stateDirectory: configuration.stateDirectory)
        defer { lock.release() }
        var controllerConfiguration = Controller.Configuration(
            stateDirectory: configuration.stateDirectory,
            allowFaultInjection: configuration.enableFaultInjection,
            maxApplyBytes: configuration.routes.maxApplyBodyBytes,
            maxMemoryBytes: configuration.maxMemoryBytes
        )
        let fleet = try configuration.fleetParts(logger: logger)
        controllerConfiguration.fleet = fleet?.view
        let queryEvaluator = try configuration.makeQueryEvaluator(logger: logger)
        controllerConfiguration.queryEvaluator = queryEvaluator
        let controller = try Controller(configuration: controllerConfiguration, logger: logger)
        var configuration = configuration
        configuration.routes.reconcileProgress = controller.configuration.reconcileProgress
        let coordinator = fleet?.coordinator(controller: controller, logger: logger)
        // Before the controller starts: the fleet's quarantines and who judges must be known to its first reconcile.
        if let coordinator { await coordinator.connect() }
        try await serve(
            controller: controller, configuration: configuration, logger: logger, onListening: onListening,
            onRESPListening: onRESPListening, onServiceGroup: onServiceGroup, fleet: coordinator)
        await queryEvaluator?.shutdown()  // after the controller's checks have stopped (an error return shuts it in deinit)
    }

    static func serve(
        controller: some DaemonController,
        configuration: DaemonConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (String) -> Void,
        onRESPListening: @escaping @Sendable (String) -> Void = { _ in },
        onServiceGroup: @Sendable (ServiceGroup) async -> Void = { _ in },
        fleet: FleetCoordinator? = nil
    ) async throws {
        try await controller.start()
        do {
            let token = try APIToken.loadOrCreate(stateDirectory: configuration.stateDirectory)
            let authorization = APIAuthorization(token: token, listeningOn: configuration.host, allowedHosts: configuration.allowedHosts)
            if authorization.requiresTokenForAll {
                logger.notice(
                    "listening beyond loopback: every endpoint but /healthz and /readyz needs the token",
                    metadata: ["host": "\(configuration.host)"]
                )
            }

            let httpMetrics = PrometheusCollectorRegistry()
            let firstReconcile = ReadinessGate()
            var routes = configuration.routes
            routes.additionalMetrics.append(httpMetrics)
            routes.readinessGate = firstReconcile
            let router = Router()
            let routeTable = MapctlRouteTable()
            router.add(middleware: JSONErrorMiddleware(routes: routeTable))
            let httpCounters = HTTPRequestCounters(registry: httpMetrics)
            router.add(middleware: HTTPMetricsMiddleware(counters: httpCounters))
            addMapctlRoutes(
                to: router, controlPlane: controller, authorization: authorization, configuration: routes, routeTable: routeTable)
            let resp = try await respListener(
                for: controller, configuration: configuration, token: token, metrics: httpMetrics, logger: logger)
            let respAddress = resp?.address

            let host = configuration.host
            let connections = HTTPConnectionGate(maxConnections: configuration.http.effectiveMaxConnections, logger: logger)
            let server = Application(
                router: router,
                server: .mapctl(
                    limits: configuration.http, gate: connections,
                    fastPath: configuration.entryFastPath
                        ? entryFastPath(
                            for: controller, authorization: authorization, maxBodyBytes: routes.maxEntryBodyBytes, counters: httpCounters)
                        : nil),
                configuration: ApplicationConfiguration(address: .hostname(host, port: configuration.port), serverName: "mapctl"),
                onServerRunning: { channel in
                    let port = channel.localAddress?.port ?? configuration.port
                    let shownHost = host.contains(":") ? "[\(host)]" : host
                    onListening("http://\(shownHost):\(port)")
                    if let respAddress { onRESPListening(respAddress) }
                },
                logger: logger
            )

            // The watcher and the checks loop, as an embedding app runs them (MapctlService).
            let mapctl = MapctlService(
                governing: controller,
                configuration: MapctlService.Configuration(
                    directory: configuration.directory,
                    prune: configuration.prune,
                    pollInterval: configuration.pollInterval,
                    resyncInterval: configuration.resyncInterval
                ),
                logger: logger,
                readiness: firstReconcile,
                fleet: fleet
            )

            let directory = configuration.directory
            let prune = configuration.prune
            let signals = SignalService(logger: logger) {
                let report = await controller.reconcileDirectory(directory, prune: prune)
                firstReconcile.open()
                logReconcile(report, trigger: .resync, logger: logger)
            }
            var groupConfiguration = ServiceGroupConfiguration(
                services: [mapctl, server] + (resp.map { [$0.service] } ?? []) + [signals],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
            // A request in flight (a slow scrape, a client that never finishes its body) must not hold
            // SIGTERM up: past this, the rest is cancelled and the clean-run marker is still written.
            groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGracePeriod
            // Past this ServiceLifecycle ends the process (a fatal error): only for a service that ignores
            // cancellation, never for one that is slow under load or saving many maps.
            groupConfiguration.maximumCancellationDuration = .seconds(30)
            let group = ServiceGroup(configuration: groupConfiguration)
            await onServiceGroup(group)
            try await group.run()
        } catch {
            await controller.shutdown()
            throw error
        }
        await controller.shutdown()
        logger.info("shut down cleanly")
    }

    /// The controller logs each change it makes; the watcher adds, at debug level, what
    /// triggered the reconcile, and says once when the first one is done.
    static func logReconcile(_ report: ApplyReport, trigger: DirectoryWatcher.Trigger, logger: Logger) {
        let changed = report.plan.filter { $0.action != .unchanged }
        if !changed.isEmpty {
            logger.debug(
                "directory reconciled",
                metadata: [
                    "trigger": "\(trigger)",
                    "changes": .array(changed.map { .string("\($0.name): \($0.action.rawValue)") }),
                ]
            )
        }
        if case .start = trigger {
            let invalid = report.plan.filter { $0.action == .invalid }.count
            logger.info("first reconcile done", metadata: ["maps": "\(report.plan.count - invalid)", "invalid": "\(invalid)"])
        }
    }
}

/// The daemon could not run.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public var message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
