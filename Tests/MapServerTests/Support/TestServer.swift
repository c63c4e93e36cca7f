import Hummingbird
import Logging
import MapController
import ServiceLifecycle

@testable import MapServer

/// Runs a real Hummingbird server with the mapctl routes on a free loopback port for
/// the duration of `body`, then shuts it down gracefully.
func withAPIServer<Result: Sendable>(
    controlPlane: some ControlPlane,
    authorization: APIAuthorization,
    configuration: MapctlRoutesConfiguration = MapctlRoutesConfiguration(),
    _ body: @Sendable (_ port: Int) async throws -> Result
) async throws -> Result {
    let router = Router()
    router.add(middleware: JSONErrorMiddleware())
    addMapctlRoutes(to: router, controlPlane: controlPlane, authorization: authorization, configuration: configuration)
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    var logger = Logger(label: "test-server")
    logger.logLevel = .warning
    let app = Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        },
        logger: logger
    )
    let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw RawHTTPError(description: "the server did not start") }
        do {
            let result = try await body(port)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

func testLogger(_ label: String = "test") -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .warning
    return logger
}
