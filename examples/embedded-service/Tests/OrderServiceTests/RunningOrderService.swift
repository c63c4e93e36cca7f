import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import OrderService

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The example running in-process as its `main` runs it: one `ServiceGroup` of the
/// ``MapctlService`` and the Hummingbird server, on a free port, over temporary state and a
/// temporary copy of the example's schema directory (which a test may edit).
final class RunningOrderService: Sendable {
    let port: Int
    let schemaDirectory: String
    let stateDirectory: String
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let client: HTTPTestClient

    private init(port: Int, schemaDirectory: String, stateDirectory: String, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.schemaDirectory = schemaDirectory
        self.stateDirectory = stateDirectory
        self.group = group
        self.task = task
        self.client = HTTPTestClient(port: port)
    }

    /// The example's shipped schemas (`examples/embedded-service/schemas`).
    static let shippedSchemas = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("../../schemas").standardized.path

    /// A fresh temporary layout under `root`: `schemas/` (a copy of the shipped ones) and `state/`.
    static func makeLayout() throws -> (root: String, schemas: String, state: String) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("order-service-\(UUID().uuidString)").path
        let schemas = root + "/schemas"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: shippedSchemas, toPath: schemas)
        return (root, schemas, root + "/state")
    }

    /// Starts the service and waits until `/mapctl/readyz` answers 200 (the schema directory reconciled).
    static func start(
        schemaDirectory: String,
        stateDirectory: String,
        logger: Logger = Logger(label: "order-service-test")
    ) async throws -> RunningOrderService {
        let configuration = OrderService.Configuration(
            host: "127.0.0.1",
            port: 0,
            stateDirectory: stateDirectory,
            schemaDirectory: schemaDirectory,
            resyncInterval: nil  // only file events reconcile: a test sees what the watcher did
        )
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let service = try OrderService(configuration: configuration, logger: logger) { continuation.yield($0) }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: service.services, logger: logger)
        )
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await task.value
            throw TestFailure("the service ended before it listened")
        }
        let running = RunningOrderService(
            port: port, schemaDirectory: schemaDirectory, stateDirectory: stateDirectory, group: group, task: task)
        try await running.waitUntil("/mapctl/readyz answers 200") {
            try await running.client.send("GET", "/mapctl/readyz").status == 200
        }
        return running
    }

    /// Ends the group gracefully, as SIGTERM would, and waits for it.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    /// Polls `condition` every 50 ms until it holds; fails after `backstop`, which only a
    /// broken service should ever reach.
    func waitUntil(
        _ what: String,
        backstop: Duration = .seconds(60),
        condition: () async throws -> Bool
    ) async throws {
        let clock = ContinuousClock()
        let giveUp = clock.now + backstop
        while clock.now < giveUp {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("gave up waiting until \(what) after \(backstop)")
    }

    /// The map's status from the control API, `GET /mapctl/v1/maps/NAME`.
    func mapStatus(_ name: String) async throws -> [String: Any] {
        let response = try await client.send("GET", "/mapctl/v1/maps/\(name)")
        guard response.status == 200, let object = response.json else {
            throw TestFailure("status of \(name): \(response)")
        }
        return object
    }
}

/// Real HTTP to the running service, over URLSession.
struct HTTPTestClient: Sendable {
    let port: Int
    let session: URLSession

    init(port: Int) {
        self.port = port
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        configuration.httpMaximumConnectionsPerHost = 4
        session = URLSession(configuration: configuration)
    }

    struct Response: Sendable, CustomStringConvertible {
        var status: Int
        var body: Data
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
        var description: String { "HTTP \(status) \(String(decoding: body, as: UTF8.self))" }
    }

    func send(_ method: String, _ path: String, body: String? = nil) async throws -> Response {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await session.data(for: request)
        return Response(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }
}

/// Log lines kept in memory, to check what the controller said.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    var messages: [String] { lines.withLock { $0 } }

    func logger(label: String) -> Logger {
        Logger(label: label) { label in Handler(label: label, logs: self) }
    }

    fileprivate func append(_ message: String) {
        lines.withLock { $0.append(message) }
    }

    private struct Handler: LogHandler {
        let label: String
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            logs.append(event.message.description)
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
