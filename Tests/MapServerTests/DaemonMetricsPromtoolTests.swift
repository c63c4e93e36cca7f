import Foundation
import Testing

@testable import MapServer

/// The daemon's whole `/metrics` (controller and HTTP series together), as promtool sees it.
@Suite struct DaemonMetricsPromtoolTests {
    @Test(.enabled(if: Promtool.isInstalled, Promtool.missing))
    func theDaemonsMetricsPassPromtool() async throws {
        let directory = try TemporaryDirectory()
        let state = try TemporaryDirectory()
        try write(schema("users", version: "1.0.0"), to: directory.path + "/users.yaml")
        let daemon = try await RunningDaemon.start(directory: directory.path, stateDirectory: state.path + "/state")
        do {
            _ = try await daemon.waitFor("/v1/maps/users") { $0.status == 200 }
            #expect(try await daemon.request("PUT", "/v1/maps/users/entries/a", body: "1").status == 204)
            let metrics = try await daemon.request("GET", "/metrics")
            #expect(metrics.status == 200)
            let checked = try #require(try Promtool.checkMetrics(metrics.body))
            #expect(checked.status == 0, "promtool: \(checked.output)")
            #expect(checked.output.isEmpty, "promtool: \(checked.output)")
        } catch {
            try? await daemon.stop()
            throw error
        }
        try await daemon.stop()
    }
}
