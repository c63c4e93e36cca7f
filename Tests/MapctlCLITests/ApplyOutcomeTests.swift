import Foundation
import TestServers
import Testing

/// What `POST /v1/apply` and `mapctl apply` say about documents that were applied with a reason
/// attached (a downgrade, a breaking change with a major bump): applied, 200, exit 0; and about
/// documents that were not: 422, exit 1.
@Suite("mapctl apply: the answer says what happened", .heavy)
struct ApplyOutcomeTests {
    @Test func aDowngradeAndABreakingChangeWithAMajorBumpAreAnsweredAsApplied() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let v1 = try session.layout.writeWorkFile("v1.yaml", Fixture.schema("orders", version: "1.0.0"))
        let v11 = try session.layout.writeWorkFile("v11.yaml", Fixture.schema("orders", version: "1.1.0", extra: "description: next"))
        let v2 = try session.layout.writeWorkFile("v2.yaml", Fixture.schema("orders", version: "2.0.0", valueType: "string"))
        let v3 = try session.layout.writeWorkFile("v3.yaml", Fixture.schema("orders", version: "2.1.0", valueType: "int64"))
        #expect(try await session.mapctl(["apply", "-f", v1]).exitCode == 0)
        #expect(try await session.mapctl(["apply", "-f", v11]).exitCode == 0)

        let downgrade = try await session.mapctl(["apply", "-f", v1, "-o", "json"])
        #expect(downgrade.exitCode == 0, "\(downgrade)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(downgrade.stdout.utf8)) as? [String: Any], "\(downgrade)")
        let entry = try #require((report["plan"] as? [[String: Any]])?.first)
        #expect(entry["downgrade"] as? Bool == true)
        #expect(report["error"] == nil, "a 200 with the report, not an error: \(report)")
        #expect(try await session.status("orders")["live_version"] as? String == "1.0.0")

        let breaking = try await session.mapctl(["apply", "-f", v2])
        #expect(breaking.exitCode == 0, "\(breaking)")
        #expect(try await session.status("orders")["live_version"] as? String == "2.0.0")

        // A breaking change without a major bump is refused: 422, exit 1, live untouched.
        let refused = try await session.mapctl(["apply", "-f", v3])
        #expect(refused.exitCode == 1, "\(refused)")
        #expect(refused.stderr.contains("refused"), "\(refused)")
        #expect(try await session.status("orders")["live_version"] as? String == "2.0.0")
        #expect(try await session.daemon.stop().exitCode == 0)
    }
}
