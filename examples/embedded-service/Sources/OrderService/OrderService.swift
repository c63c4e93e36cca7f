import Foundation
import Hummingbird
import Logging
import MapController
import MapServer
import ServiceLifecycle

/// Builds the service: the embedded controller, its own routes over a typed map, and the
/// mapctl control API mounted under `/mapctl` (so `mapctl --server http://HOST:PORT/mapctl status`
/// works against it).
enum OrderService {
    struct Configuration: Sendable {
        var host = "127.0.0.1"
        var port = 8080
        var stateDirectory = ".order-service-state"
        var schemaDirectory = "schemas"
    }

    static func makeApplication(
        configuration: Configuration,
        logger: Logger
    ) async throws -> (some ApplicationProtocol, Controller) {
        let controller = try Controller(
            configuration: Controller.Configuration(stateDirectory: configuration.stateDirectory),
            logger: logger
        )
        // Restore the maps at their last live versions, then bring the shipped schemas in.
        try await controller.start()
        let report = await controller.reconcileDirectory(configuration.schemaDirectory, prune: false)
        for entry in report.plan where entry.action == .invalid {
            logger.error("invalid schema", metadata: ["map": "\(entry.name)", "diagnostics": "\(entry.diagnostics)"])
        }

        let orders = controller.map("orders", as: Order.self)
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())

        router.get("/orders/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            do throws(TypedMapError) {
                guard let order = try orders.get(id) else { return json(["error": "no order \(id)"], status: .notFound) }
                return json(order)
            } catch {
                return json(["error": error.description], status: .badRequest)
            }
        }
        router.put("/orders/:id") { request, context -> Response in
            let id = try context.parameters.require("id")
            var order = try await request.decode(as: Order.self, context: context)
            order.id = id
            do throws(TypedMapError) {
                try orders.put(id, order)
                return json(order, status: .created)
            } catch .breakerOpen(let retryAfter) {
                var response = json(["error": "writes paused by the circuit breaker"], status: .serviceUnavailable)
                response.headers[.retryAfter] = "\(max(1, retryAfter.components.seconds))"
                return response
            } catch {
                // The schema refused the value (e.g. a note over max_value_bytes): the caller's error.
                return json(["error": error.description], status: .badRequest)
            }
        }
        router.get("/orders/count") { _, _ -> Response in
            json(["count": orders.count])
        }

        let token = try APIToken.loadOrCreate(stateDirectory: configuration.stateDirectory)
        addMapctlRoutes(
            to: router.group("mapctl"),
            controlPlane: controller,
            authorization: APIAuthorization(token: token, listeningOn: configuration.host)
        )

        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port)),
            services: [ControllerChecks(controller: controller)],
            logger: logger
        )
        return (app, controller)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        guard let body = try? JSONEncoder().encode(value) else { return Response(status: .internalServerError) }
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}

/// The controller's rollout checks, promotions and breaker, run beside the server.
struct ControllerChecks: Service {
    let controller: Controller

    func run() async throws {
        // `run()` returns when cancelled: graceful shutdown cancels it, then the clean-run marker is written.
        try? await cancelWhenGracefulShutdown {
            try await controller.run()
        }
        await controller.shutdown()
    }
}

@main
struct OrderServiceMain {
    static func main() async throws {
        var logger = Logger(label: "order-service")
        logger.logLevel = .info
        var configuration = OrderService.Configuration()
        if let port = ProcessInfo.processInfo.environment["PORT"].flatMap(Int.init) { configuration.port = port }
        let (app, _) = try await OrderService.makeApplication(configuration: configuration, logger: logger)
        try await app.runService()
    }
}
