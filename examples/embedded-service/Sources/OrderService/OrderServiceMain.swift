import Foundation
import Logging
import ServiceLifecycle

/// `swift run OrderService`, from the repository's root. `PORT`, `SCHEMAS` and `STATE` override
/// the port (8080), the watched schema directory and the state directory.
@main
struct OrderServiceMain {
    static func main() async throws {
        var logger = Logger(label: "order-service")
        logger.logLevel = .info
        let environment = ProcessInfo.processInfo.environment
        var configuration = OrderService.Configuration(
            stateDirectory: "examples/embedded-service/.order-service-state",
            schemaDirectory: "examples/embedded-service/schemas"
        )
        if let port = environment["PORT"] {
            guard let number = Int(port), (0...65535).contains(number) else {
                logger.critical("PORT must be a number from 0 to 65535", metadata: ["PORT": "\(port)"])
                exit(64)
            }
            configuration.port = number
        }
        if let schemas = environment["SCHEMAS"] { configuration.schemaDirectory = schemas }
        if let state = environment["STATE"] { configuration.stateDirectory = state }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.schemaDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            logger.critical(
                "no schema directory here: run from the repository's root, or set SCHEMAS",
                metadata: ["SCHEMAS": "\(configuration.schemaDirectory)"]
            )
            exit(66)
        }

        let service = try OrderService(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: service.services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
