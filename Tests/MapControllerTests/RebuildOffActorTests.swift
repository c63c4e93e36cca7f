import Foundation
import LiveMaps
import Logging
import Rollout
import Synchronization
import Testing

@testable import MapController

/// A rebuild runs off the controller's actor: the rest of the control plane answers meanwhile.
@Suite("Rebuilds off the actor")
struct RebuildOffActorTests {
    /// Holds a rebuild on its thread until released.
    final class RebuildLatch: Sendable {
        let entered = Atomic<Bool>(false)
        private let release = DispatchSemaphore(value: 0)
        func hold(_ name: String) {
            guard name == "big" else { return }
            entered.store(true, ordering: .releasing)
            release.wait()
        }
        func open() { release.signal() }
    }

    @Test("status of every map, and an apply to another map, complete while a map's rebuild is held on its thread")
    func statusDuringRebuild() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let latch = RebuildLatch()
        var configuration = Controller.Configuration(stateDirectory: env.directory, clock: env.clock, mapClock: ManualMapClock())
        configuration.beforeRebuild = { latch.hold($0) }
        let controller = try Controller(configuration: configuration, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await controller.start()
        try await controller.apply(schemaYAML("big", version: "1.0.0", keyType: "uint64"))
        try await controller.apply(schemaYAML("small", version: "1.0.0"))
        for key in 0..<1_000 {
            try controller.writeEntry(map: "big", key: String(key), json: Array("7".utf8))
        }
        let rebuild = Task {
            try await controller.apply(schemaYAML("big", version: "1.1.0", keyType: "uint64", extra: "strategy: mutex\n"))
        }
        // Wait for the rebuild to be on its thread, held (an event, not a time).
        while !latch.entered.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(1)) }
        #expect(await controller.rebuildsInFlight == ["big"])
        // The actor answers while the rebuild is held: before rebuilds ran off it, these calls waited.
        let statuses = await controller.statuses()
        #expect(statuses.count == 2)
        try await controller.apply(schemaYAML("small", version: "1.0.1"))
        #expect(try await controller.status(of: "small").liveVersion == "1.0.1")
        // A change of the map being rebuilt waits for it instead of racing it.
        await #expect(throws: ControlPlaneError.self) {
            _ = try await controller.rollback(name: "big", to: String?.none, reason: String?.none, source: "test")
        }
        #expect(try controller.readEntry(map: "big", key: "7") == Array("7".utf8))
        latch.open()
        _ = try await rebuild.value
        #expect(await controller.rebuildsInFlight.isEmpty)
        #expect(try await controller.status(of: "big").liveVersion == "1.1.0")
        #expect(try await controller.status(of: "big").entries == 1_000)
    }
}
