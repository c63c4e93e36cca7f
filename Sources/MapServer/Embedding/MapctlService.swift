public import Fleet
import Foundation
public import Logging
public import MapController
public import ServiceLifecycle

/// An embedded controller as one Service of the app's own `ServiceGroup`.
///
/// An app that keeps its data in governed maps needs the same things the daemon does: the
/// maps restored before they are used, the schema directory watched, the rollout checks run,
/// and the clean-run marker written on the way out (or the next start counts a crash against
/// a version in its window). This Service does all four, so that the app only adds it:
///
/// ```swift
/// let controller = try Controller(configuration: .init(stateDirectory: ".state"), logger: logger)
/// let orders = try controller.map("orders", as: Order.self)   // bind before the service starts
/// let mapctl = MapctlService(controller: controller, configuration: .init(directory: "schemas"), logger: logger)
/// let server = Application(router: router, ...)                // routes that use `orders`
/// let group = ServiceGroup(services: [mapctl, server], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
///
/// Put it before the HTTP server in the group: a `ServiceGroup` shuts its services down in
/// reverse order, so the server stops taking requests before the controller ends its run.
///
/// `run()` does, in order:
/// 1. `Controller.start()`: every map comes back at its last live version;
/// 2. the ``DirectoryWatcher`` (inotify, following a ConfigMap volume's `..data` swap, debounced,
///    resynced periodically), whose first reconcile opens ``readiness``, beside the controller's
///    checks loop (`Controller.run()`: rollout checks, promotions, retries);
/// 3. on graceful shutdown, or when cancelled, `Controller.shutdown()`, which writes the
///    clean-run marker.
public struct MapctlService: Service {
    /// What to watch and how.
    public struct Configuration: Sendable {
        /// The schema directory (a ConfigMap volume, a git work tree, the files the app ships).
        public var directory: String
        /// Drop live maps whose schema file is gone. Off by default: a file deleted by mistake
        /// should not take a map and its data with it.
        public var prune: Bool
        /// Poll the directory at this interval instead of using inotify (for file systems
        /// where inotify sees nothing, such as some network mounts).
        public var pollInterval: Duration?
        /// Reconcile this often even without file events, which also repairs anything the
        /// events missed; nil never.
        public var resyncInterval: Duration?

        public init(
            directory: String,
            prune: Bool = false,
            pollInterval: Duration? = nil,
            resyncInterval: Duration? = .seconds(30)
        ) {
            self.directory = directory
            self.prune = prune
            self.pollInterval = pollInterval
            self.resyncInterval = resyncInterval
        }
    }

    public let configuration: Configuration
    /// Opens when the first reconcile of the directory is done. Pass it to
    /// ``MapctlRoutesConfiguration/readinessGate`` so that `/readyz` waits for it too.
    public let readiness: ReadinessGate
    let controller: any DaemonController
    let logger: Logger
    let onReconcile: @Sendable (ApplyReport, DirectoryWatcher.Trigger) async -> Void
    /// This replica's part in a fleet (SPEC §8), nil alone.
    let fleet: FleetCoordinator?

    /// - Parameters:
    ///   - controller: the app's controller. Bind its typed maps before the group runs: the
    ///     service starts it.
    ///   - configuration: the directory and how to watch it.
    ///   - logger: where the watcher and the service log (the controller logs to its own).
    ///   - readiness: the gate to open after the first reconcile; a new, closed one by default.
    ///   - onReconcile: called after each reconcile of the directory with its report and what
    ///     triggered it, e.g. to count reconciles or to wait for a version in a test.
    public init(
        controller: Controller,
        configuration: Configuration,
        logger: Logger,
        readiness: ReadinessGate = ReadinessGate(),
        fleet: FleetCoordinator? = nil,
        onReconcile: @escaping @Sendable (ApplyReport, DirectoryWatcher.Trigger) async -> Void = { _, _ in }
    ) {
        self.init(
            governing: controller, configuration: configuration, logger: logger, readiness: readiness, fleet: fleet,
            onReconcile: onReconcile)
    }

    /// The same over any ``DaemonController``: the daemon's composition is written against it.
    init(
        governing controller: some DaemonController,
        configuration: Configuration,
        logger: Logger,
        readiness: ReadinessGate = ReadinessGate(),
        fleet: FleetCoordinator? = nil,
        onReconcile: @escaping @Sendable (ApplyReport, DirectoryWatcher.Trigger) async -> Void = { _, _ in }
    ) {
        self.fleet = fleet
        self.controller = controller
        self.configuration = configuration
        self.logger = logger
        self.readiness = readiness
        self.onReconcile = onReconcile
    }

    /// Starts the controller, then watches and checks until graceful shutdown or cancellation,
    /// then shuts the controller down.
    ///
    /// - Throws: ``MapctlServiceError`` when the directory is not a directory;
    ///   `StateStoreError` when the controller cannot restore its state.
    public func run() async throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MapctlServiceError(message: "the schema directory '\(configuration.directory)' is not a directory")
        }
        let controller = self.controller
        if let fleet { await fleet.connect() }
        try await controller.start()
        // A replica that starts after a rollback comes up on the fleet's live version, before its directory.
        if let fleet { await fleet.adoptFleetState() }
        let watcher = makeWatcher()
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await Self.runChecks(of: controller) }
                group.addTask { try await watcher.run() }
                if let fleet {
                    group.addTask { await cancelWhenGracefulShutdown { await fleet.run() } }
                }
            }
        } catch {
            // Still an orderly end (another service failed, or the group was cancelled):
            // only a crash leaves the marker unwritten.
            await controller.shutdown()
            throw error
        }
        await controller.shutdown()
    }

    /// The watcher of ``Configuration/directory``, each of whose reconciles opens ``readiness``.
    func makeWatcher() -> DirectoryWatcher {
        let controller = self.controller
        let directory = configuration.directory
        let prune = configuration.prune
        let readiness = self.readiness
        let logger = self.logger
        let onReconcile = self.onReconcile
        return DirectoryWatcher(
            configuration: DirectoryWatcher.Configuration(
                directory: directory,
                pollInterval: configuration.pollInterval,
                resyncInterval: configuration.resyncInterval
            ),
            logger: logger
        ) { trigger, changedFiles in
            let report = await controller.reconcileDirectory(directory, prune: prune, changedFiles: changedFiles)
            readiness.open()
            Daemon.logReconcile(report, trigger: trigger, logger: logger)
            await onReconcile(report, trigger)
        }
    }

    /// The controller's checks loop until graceful shutdown (or cancellation), which is its normal end.
    static func runChecks(of controller: some DaemonController) async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await controller.run()
            }
        } catch is CancellationError {
            // Cancelled by the graceful shutdown: the normal way out.
        }
    }
}

/// ``MapctlService`` cannot run with what it was given.
public struct MapctlServiceError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
