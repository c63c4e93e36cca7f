import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import OrderService

@Suite("The embedded service")
struct OrderServiceTests {
    func makeConfiguration() throws -> OrderService.Configuration {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("order-service-\(UUID().uuidString)").path
        let schemas = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../schemas").standardized.path
        return OrderService.Configuration(host: "127.0.0.1", port: 0, stateDirectory: state, schemaDirectory: schemas)
    }

    @Test("orders written through the typed map are read back, and the control API reports the map")
    func typedMapAndControlAPI() async throws {
        let configuration = try makeConfiguration()
        defer { try? FileManager.default.removeItem(atPath: configuration.stateDirectory) }
        let (app, _) = try await OrderService.makeApplication(configuration: configuration, logger: Logger(label: "test"))

        try await app.test(.live) { client in
            let order = #"{"id":"ignored","customer":"ada","total_cents":4200,"note":"gift wrap"}"#
            try await client.execute(uri: "/orders/o-1", method: .put, body: ByteBuffer(string: order)) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/orders/o-1", method: .get) { response in
                #expect(response.status == .ok)
                let decoded = try JSONDecoder().decode(Order.self, from: Data(buffer: response.body))
                #expect(decoded == Order(id: "o-1", customer: "ada", totalCents: 4200, note: "gift wrap"))
            }
            try await client.execute(uri: "/orders/o-2", method: .get) { response in
                #expect(response.status == .notFound)
            }
            // The same entry, seen through the mapctl API mounted under /mapctl.
            try await client.execute(uri: "/mapctl/v1/maps/orders/entries/o-1", method: .get) { response in
                #expect(response.status == .ok)
                let value = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(value?["customer"] as? String == "ada")
            }
            try await client.execute(uri: "/mapctl/v1/maps/orders", method: .get) { response in
                #expect(response.status == .ok)
                let status = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(status?["live_version"] as? String == "1.0.0")
                #expect(status?["entries"] as? Int == 1)
            }
        }
    }

    @Test("a value the schema refuses is the caller's error, and nothing is stored")
    func schemaRefusesBadValue() async throws {
        let configuration = try makeConfiguration()
        defer { try? FileManager.default.removeItem(atPath: configuration.stateDirectory) }
        let (app, controller) = try await OrderService.makeApplication(configuration: configuration, logger: Logger(label: "test"))

        try await app.test(.live) { client in
            let huge = String(repeating: "x", count: 5000)  // over max_value_bytes: 4096
            let order = #"{"id":"o-9","customer":"bob","total_cents":1,"note":"\#(huge)"}"#
            try await client.execute(uri: "/orders/o-9", method: .put, body: ByteBuffer(string: order)) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/orders/o-9", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
        let status = try await controller.status(of: "orders")
        #expect(status.entries == 0)
    }
}
