import Hummingbird
import Logging
import MapController
import MapServer
import ServiceLifecycle

/// The service's parts: the embedded controller with its typed map of orders, the
/// ``MapctlService`` that starts, watches, checks and shuts it down, and the HTTP server with
/// the service's routes and the mapctl control API under `/mapctl` (so that
/// `mapctl --server http://HOST:PORT/mapctl status` works against it).
struct OrderService {
    struct Configuration: Sendable {
        var host = "127.0.0.1"
        var port = 8080
        /// The controller's SQLite state and the API token.
        var stateDirectory = ".order-service-state"
        /// The watched schema directory: edit a file there and the map follows.
        var schemaDirectory = "schemas"
        /// Poll instead of inotify, at this interval.
        var pollInterval: Duration?
        /// Reconcile this often even without file events.
        var resyncInterval: Duration? = .seconds(30)
    }

    let controller: Controller
    let mapctl: MapctlService
    let server: Application<RouterResponder<BasicRequestContext>>

    /// The services in the order a `ServiceGroup` runs them. The group shuts them down in
    /// reverse order: the server stops taking requests, then the controller ends its run.
    var services: [any Service] { [mapctl, server] }

    /// - Parameter onListening: called with the port the server bound (the one picked when 0 was asked for).
    init(configuration: Configuration, logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }) throws {
        controller = try Controller(
            configuration: Controller.Configuration(stateDirectory: configuration.stateDirectory),
            logger: logger
        )
        // Bind the typed map before the controller starts (MapctlService starts it): the schema
        // checks `Order` against its fields when the map is made, and again for every new version.
        let orders = try controller.map("orders", as: Order.self)
        mapctl = MapctlService(
            controller: controller,
            configuration: MapctlService.Configuration(
                directory: configuration.schemaDirectory,
                pollInterval: configuration.pollInterval,
                resyncInterval: configuration.resyncInterval
            ),
            logger: logger
        )

        let router = Router()
        router.add(middleware: JSONErrorMiddleware())
        OrderRoutes(orders: orders).add(to: router)
        let token = try APIToken.loadOrCreate(stateDirectory: configuration.stateDirectory)
        addMapctlRoutes(
            to: router.group("mapctl"),
            controlPlane: controller,
            authorization: APIAuthorization(token: token, listeningOn: configuration.host),
            // `/mapctl/readyz` answers 200 once the schema directory has been reconciled.
            configuration: MapctlRoutesConfiguration(readinessGate: mapctl.readiness)
        )
        let port = configuration.port
        server = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: port)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
