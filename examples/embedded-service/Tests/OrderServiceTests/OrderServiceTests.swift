import Foundation
import Logging
import MapController
import Synchronization
import Testing

@testable import OrderService

@Suite("The embedded service")
struct OrderServiceTests {
    @Test("orders written through the typed map are read back, and the control API reports the map")
    func typedMapAndControlAPI() async throws {
        let layout = try RunningOrderService.makeLayout()
        defer { try? FileManager.default.removeItem(atPath: layout.root) }
        let service = try await RunningOrderService.start(schemaDirectory: layout.schemas, stateDirectory: layout.state)
        let client = service.client

        // No id in the body: the path names the order.
        let order = #"{"customer":"ada","total_cents":4200,"note":"gift wrap"}"#
        let put = try await client.send("PUT", "/orders/o-1", body: order)
        #expect(put.status == 201, "\(put)")
        let get = try await client.send("GET", "/orders/o-1")
        #expect(get.status == 200)
        #expect(
            try JSONDecoder().decode(Order.self, from: get.body) == Order(id: "o-1", customer: "ada", totalCents: 4200, note: "gift wrap"))

        // The same id in the body is fine; another one is refused.
        let same = try await client.send("PUT", "/orders/o-2", body: #"{"id":"o-2","customer":"bob","total_cents":1}"#)
        #expect(same.status == 201, "\(same)")
        let other = try await client.send("PUT", "/orders/o-3", body: #"{"id":"o-4","customer":"bob","total_cents":1}"#)
        #expect(other.status == 400)
        #expect(other.json?["error"] as? String == "the body's id 'o-4' is not the path's id 'o-3'")
        #expect(try await client.send("GET", "/orders/o-3").status == 404)
        #expect(try await client.send("GET", "/orders/o-4").status == 404)

        // The same entry, seen through the mapctl API mounted under /mapctl.
        let entry = try await client.send("GET", "/mapctl/v1/maps/orders/entries/o-1")
        #expect(entry.status == 200)
        #expect(entry.json?["customer"] as? String == "ada")
        let status = try await service.mapStatus("orders")
        #expect(status["live_version"] as? String == "1.0.0")
        #expect(status["entries"] as? Int == 2)
        try await service.stop()
    }

    @Test("a value the schema refuses is the caller's error, and nothing is stored")
    func schemaRefusesBadValue() async throws {
        let layout = try RunningOrderService.makeLayout()
        defer { try? FileManager.default.removeItem(atPath: layout.root) }
        let service = try await RunningOrderService.start(schemaDirectory: layout.schemas, stateDirectory: layout.state)

        let huge = String(repeating: "x", count: 5000)  // over max_value_bytes: 4096
        let order = #"{"id":"o-9","customer":"bob","total_cents":1,"note":"\#(huge)"}"#
        #expect(try await service.client.send("PUT", "/orders/o-9", body: order).status == 400)
        #expect(try await service.client.send("GET", "/orders/o-9").status == 404)
        #expect(try await service.mapStatus("orders")["entries"] as? Int == 0)
        try await service.stop()
    }

    @Test("a schema file changed while clients write goes live, and no acknowledged write is lost")
    func schemaChangeWhileWriting() async throws {
        let layout = try RunningOrderService.makeLayout()
        defer { try? FileManager.default.removeItem(atPath: layout.root) }
        let service = try await RunningOrderService.start(schemaDirectory: layout.schemas, stateDirectory: layout.state)
        #expect(try await service.mapStatus("orders")["live_version"] as? String == "1.0.0")

        let progress = WriteProgress()
        let writers = Task {
            await withTaskGroup(of: [Order].self) { group in
                for writer in 0..<2 {
                    group.addTask { await Self.write(as: writer, to: service.client, progress: progress) }
                }
                return await group.reduce(into: [Order]()) { $0 += $1 }
            }
        }
        do {
            try await service.waitUntil("writes are acknowledged before the change") { try progress.acknowledged() >= 100 }
            try Self.setVersion(of: layout.schemas + "/orders.yaml", from: "1.0.0", to: "1.1.0")
            try await service.waitUntil("1.1.0 is live") {
                try await service.mapStatus("orders")["live_version"] as? String == "1.1.0"
            }
            let atSwitch = try progress.acknowledged()
            try await service.waitUntil("writes are acknowledged after the change") { try progress.acknowledged() >= atSwitch + 100 }
        } catch {
            progress.stop()
            _ = await writers.value
            try? await service.stop()
            throw error
        }
        progress.stop()
        let acknowledged = await writers.value
        #expect(progress.failures.isEmpty, "\(progress.failures)")

        // Every acknowledged write is there, with the value that was written.
        var lost: [String] = []
        for order in acknowledged {
            let response = try await service.client.send("GET", "/orders/\(order.id)")
            if response.status != 200 || (try? JSONDecoder().decode(Order.self, from: response.body)) != order {
                lost.append("\(order.id): \(response)")
            }
        }
        #expect(lost.isEmpty, "acknowledged writes lost: \(lost.prefix(10))")
        let status = try await service.mapStatus("orders")
        #expect(status["live_version"] as? String == "1.1.0")
        #expect((status["entries"] as? Int ?? 0) >= acknowledged.count)
        try await service.stop()
    }

    @Test("a ConfigMap volume's ..data swap to a new version is followed, and the data stays")
    func configMapSwap() async throws {
        let layout = try RunningOrderService.makeLayout()
        defer { try? FileManager.default.removeItem(atPath: layout.root) }
        // The kubelet's layout: `orders.yaml -> ..data/orders.yaml`, `..data -> ..<timestamp>`.
        let volume = layout.root + "/volume"
        let shipped = try String(contentsOfFile: layout.schemas + "/orders.yaml", encoding: .utf8)
        func writeStamp(_ stamp: String, version: String) throws {
            try FileManager.default.createDirectory(atPath: volume + "/" + stamp, withIntermediateDirectories: true)
            let text = shipped.replacingOccurrences(of: "version: 1.0.0\n", with: "version: \(version)\n")
            try text.write(toFile: volume + "/\(stamp)/orders.yaml", atomically: false, encoding: .utf8)
        }
        try writeStamp("..2026_01_01_00_00_00.1", version: "1.0.0")
        #expect(symlink("..2026_01_01_00_00_00.1", volume + "/..data") == 0)
        #expect(symlink("..data/orders.yaml", volume + "/orders.yaml") == 0)

        let service = try await RunningOrderService.start(schemaDirectory: volume, stateDirectory: layout.state)
        #expect(try await service.mapStatus("orders")["live_version"] as? String == "1.0.0")
        let put = try await service.client.send("PUT", "/orders/o-1", body: #"{"customer":"ada","total_cents":1}"#)
        #expect(put.status == 201, "\(put)")

        // An update: the new files in a new directory, then `..data` swapped to it by a rename.
        try writeStamp("..2026_01_01_00_05_00.2", version: "1.1.0")
        #expect(symlink("..2026_01_01_00_05_00.2", volume + "/..data_tmp") == 0)
        #expect(rename(volume + "/..data_tmp", volume + "/..data") == 0)
        try await service.waitUntil("1.1.0 is live") {
            try await service.mapStatus("orders")["live_version"] as? String == "1.1.0"
        }
        let get = try await service.client.send("GET", "/orders/o-1")
        #expect(get.status == 200, "\(get)")
        try await service.stop()
    }

    @Test("a graceful shutdown writes the clean-run marker; a run that just ends does not")
    func gracefulShutdownEndsTheRunCleanly() async throws {
        let layout = try RunningOrderService.makeLayout()
        defer { try? FileManager.default.removeItem(atPath: layout.root) }
        let unclean = "previous run ended uncleanly"

        let first = try await RunningOrderService.start(schemaDirectory: layout.schemas, stateDirectory: layout.state)
        try await first.stop()

        let afterGraceful = CapturedLogs()
        let second = try await RunningOrderService.start(
            schemaDirectory: layout.schemas, stateDirectory: layout.state, logger: afterGraceful.logger(label: "second"))
        #expect(afterGraceful.messages.contains("controller started"))
        #expect(!afterGraceful.messages.contains(unclean))
        #expect(try await second.mapStatus("orders")["live_version"] as? String == "1.0.0")
        // Cancelling the group (no graceful shutdown) must still not leave a crash behind.
        second.task.cancel()
        _ = try? await second.task.value

        // The check above means something: a controller that starts and never shuts down
        // leaves the marker unwritten, and the next start says so.
        do {
            let controller = try Controller(configuration: .init(stateDirectory: layout.state), logger: Logger(label: "abandoned"))
            try await controller.start()
        }
        let afterAbandoned = CapturedLogs()
        let third = try await RunningOrderService.start(
            schemaDirectory: layout.schemas, stateDirectory: layout.state, logger: afterAbandoned.logger(label: "third"))
        #expect(afterAbandoned.messages.contains(unclean))
        try await third.stop()
    }

    /// One client writing new orders until told to stop; returns those the service acknowledged.
    static func write(as writer: Int, to client: HTTPTestClient, progress: WriteProgress) async -> [Order] {
        var acknowledged: [Order] = []
        var sequence = 0
        while !progress.isStopped {
            let order = Order(id: "w\(writer)-\(sequence)", customer: "client-\(writer)", totalCents: Int64(sequence), note: nil)
            // Half the bodies leave the id out, as the path names the order.
            let body =
                #"{"customer":"\#(order.customer)","total_cents":\#(order.totalCents)"#
                + (sequence.isMultiple(of: 2) ? "}" : #","id":"\#(order.id)"}"#)
            sequence += 1
            do {
                let response = try await client.send("PUT", "/orders/\(order.id)", body: body)
                switch response.status {
                case 201:
                    acknowledged.append(order)
                    progress.acknowledge()
                case 503:
                    continue  // refused for now (breaker): not acknowledged, so not promised
                default:
                    progress.fail("PUT \(order.id): \(response)")
                    return acknowledged
                }
            } catch {
                progress.fail("PUT \(order.id): \(error)")
                return acknowledged
            }
        }
        return acknowledged
    }

    /// Rewrites the schema file with another version as an editor saves: a new file renamed over it.
    static func setVersion(of path: String, from old: String, to new: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard text.contains("version: \(old)\n") else { throw TestFailure("\(path) has no 'version: \(old)'") }
        let changed = text.replacingOccurrences(of: "version: \(old)\n", with: "version: \(new)\n")
        let temporary = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(".orders.yaml.tmp").path
        try changed.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else { throw TestFailure("rename onto \(path) failed: errno \(errno)") }
    }
}

/// What the writers report while they run.
final class WriteProgress: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let count = Atomic<Int>(0)
    private let failureList = Mutex<[String]>([])

    var isStopped: Bool { stopped.load(ordering: .relaxed) }
    var failures: [String] { failureList.withLock { $0 } }

    func stop() { stopped.store(true, ordering: .relaxed) }
    func acknowledge() { count.add(1, ordering: .relaxed) }
    func fail(_ message: String) { failureList.withLock { $0.append(message) } }

    /// Acknowledged writes so far; throws as soon as a writer failed, so that a wait on it ends.
    func acknowledged() throws -> Int {
        if let failure = failures.first { throw TestFailure("a writer failed: \(failure)") }
        return count.load(ordering: .relaxed)
    }
}
