import Foundation
import Logging
import MapController
import Synchronization
import Testing

@testable import MapServer

/// `/readyz` turns 503 `reconcile_stalled` when a reconcile has run past the limit, on an injected clock.
@Suite struct ReconcileStallTests {
    /// Monotonic nanoseconds that move only when the test says so; counts its readings.
    final class ManualNanoseconds: Sendable {
        let value = Atomic<UInt64>(1_000_000_000)
        let readings = Atomic<Int>(0)

        func advance(_ duration: Duration) {
            value.add(UInt64(duration.components.seconds) * 1_000_000_000, ordering: .relaxed)
        }

        func read() -> UInt64 {
            readings.add(1, ordering: .relaxed)
            return value.load(ordering: .relaxed)
        }
    }

    @Test func readinessTurns503WhileAReconcileRunsPastTheLimit() async throws {
        let clock = ManualNanoseconds()
        let progress = ReconcileProgress(now: { clock.read() })
        let plane = TableControlPlane()
        var configuration = MapctlRoutesConfiguration()
        configuration.reconcileProgress = progress
        configuration.maxReconcileDuration = .seconds(30)
        let authorization = APIAuthorization(token: RoutesTests.token, requiresTokenForAll: false)
        try await withAPIServer(controlPlane: plane, authorization: authorization, configuration: configuration) { port in
            #expect(try await RawHTTPClient.request(port: port, method: "GET", path: "/readyz").status == 200)
            let first = progress.begin()
            clock.advance(.seconds(20))
            let second = progress.begin()
            clock.advance(.seconds(9))
            #expect(try await RawHTTPClient.request(port: port, method: "GET", path: "/readyz").status == 200)
            clock.advance(.seconds(2))
            let stalled = try await RawHTTPClient.request(port: port, method: "GET", path: "/readyz")
            #expect(stalled.status == 503)
            #expect(stalled.errorCode == "reconcile_stalled")
            // The oldest reconcile counts: the second alone has run 11 s.
            progress.end(first)
            #expect(try await RawHTTPClient.request(port: port, method: "GET", path: "/readyz").status == 200)
            clock.advance(.seconds(20))
            #expect(try await RawHTTPClient.request(port: port, method: "GET", path: "/readyz").status == 503)
            progress.end(second)
            #expect(try await RawHTTPClient.request(port: port, method: "GET", path: "/readyz").status == 200)
        }
    }

    @Test func applyAndDirectoryReconcileMarkThemselvesInProgressAndClearAfter() async throws {
        let clock = ManualNanoseconds()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("mapctl-stall-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let schemas = root.appendingPathComponent("schemas")
        try FileManager.default.createDirectory(at: schemas, withIntermediateDirectories: true)
        var configuration = Controller.Configuration(stateDirectory: root.appendingPathComponent("state").path)
        configuration.reconcileProgress = ReconcileProgress(now: { clock.read() })
        let controller = try Controller(configuration: configuration, logger: Logger(label: "test"))
        try await controller.start()
        let yaml = "name: docs\nversion: 1.0.0\nkey_type: string\nvalue_type: json\n"
        _ = try await controller.apply(yaml: Array(yaml.utf8), source: "test", isDryRun: false, prune: false)
        #expect(clock.readings.load(ordering: .relaxed) >= 1, "apply marked itself in progress")
        #expect(configuration.reconcileProgress.runningFor == nil, "and cleared the mark")
        let before = clock.readings.load(ordering: .relaxed)
        _ = await controller.reconcileDirectory(schemas.path, prune: false)
        #expect(clock.readings.load(ordering: .relaxed) > before)
        #expect(configuration.reconcileProgress.runningFor == nil)
        await controller.shutdown()
    }
}
