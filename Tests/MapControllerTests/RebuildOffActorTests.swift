import Foundation
import Testing

@testable import MapController

/// A rebuild runs off the controller's actor: the rest of the control plane answers meanwhile.
@Suite("Rebuilds off the actor")
struct RebuildOffActorTests {
    @Test("status of every map, and an apply to another map, complete while a large map is being rebuilt")
    func statusDuringRebuild() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML("big", version: "1.0.0", keyType: "uint64"))
        try await controller.apply(schemaYAML("small", version: "1.0.0"))
        let json = Array("7".utf8)
        for key in 0..<150_000 {
            try controller.writeEntry(map: "big", key: String(key), json: json)
        }
        let rebuild = Task {
            try await controller.apply(schemaYAML("big", version: "1.1.0", keyType: "uint64", extra: "strategy: mutex\n"))
        }
        // Wait for the rebuild to be under way (an event, not a time).
        while await controller.rebuildsInFlight.isEmpty {
            await Task.yield()
        }
        var answeredDuringRebuild = 0
        var appliedDuringRebuild = false
        while await controller.rebuildsInFlight.contains("big") {
            let statuses = await controller.statuses()
            #expect(statuses.count == 2)
            if !appliedDuringRebuild {
                try await controller.apply(schemaYAML("small", version: "1.0.1"))
                appliedDuringRebuild = await controller.rebuildsInFlight.contains("big")
            }
            if await controller.rebuildsInFlight.contains("big") { answeredDuringRebuild += 1 }
        }
        _ = try await rebuild.value
        #expect(answeredDuringRebuild > 0, "no status answered while the rebuild ran")
        #expect(appliedDuringRebuild, "an apply to another map waited for the rebuild")
        #expect(try await controller.status(of: "big").liveVersion == "1.1.0")
        #expect(try await controller.status(of: "small").liveVersion == "1.0.1")
        #expect(try await controller.status(of: "big").entries == 150_000)
    }
}
