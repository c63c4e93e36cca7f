import Foundation
import LiveMaps
import MapSchema
import Rollout
import Testing

@testable import MapController

@Suite("Controller: rollouts, rollbacks, quarantine (manual clock)")
struct ControllerRolloutTests {
    @Test("a first document creates the map, stable, with an apply in history")
    func create() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        let report = try await controller.apply(schemaYAML(version: "v1.0.0"))
        #expect(report.plan.map(\.action) == [.create])
        let status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.0.0")
        #expect(status.phase == .stable)
        let history = try await controller.history(of: "users")
        #expect(history.map(\.action) == [.apply])
        #expect(history.first?.source == "apply:test")
        #expect(history.first?.contentSHA256?.count == 64)
    }

    @Test("passing checks through the window promote the version and release the predecessor")
    func passThenPromote() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        await controller.traffic("users", ok: 5)
        let report = try await controller.apply(schemaYAML(version: "1.1.0", window: "3s"))
        #expect(report.plan.first?.action == .update)
        #expect(report.plan.first?.changeClass == .compatible)
        var status = try await controller.status(of: "users")
        #expect(status.phase == .rollingOut)
        #expect(status.standbyVersion == "1.0.0")
        #expect(status.entries == 5, "the rebuild carries the entries")
        for _ in 0..<2 {
            await controller.traffic("users", ok: 20)
            env.clock.advance(by: .seconds(1))
            await controller.tick()
        }
        status = try await controller.status(of: "users")
        #expect(status.checks.passed == 2)
        #expect(status.phase == .rollingOut)
        env.clock.advance(by: .seconds(1))
        await controller.tick()
        status = try await controller.status(of: "users")
        #expect(status.phase == .stable)
        #expect(status.standbyVersion == nil)
        #expect(status.liveVersion == "1.1.0")
        let actions = try await controller.history(of: "users").map(\.action)
        #expect(actions == [.apply, .apply, .promote])
        let metrics = await controller.metricsSnapshot()
        let passes = metrics.rolloutChecks.first { $0.map == "users" && $0.version == "1.1.0" && $0.result == "pass" }?.count
        #expect(passes == 2)
        let inconclusive = metrics.rolloutChecks.first { $0.map == "users" && $0.version == "1.1.0" && $0.result == "inconclusive" }?.count
        #expect(inconclusive == 1, "the last check, at the window's end, saw no traffic")
    }

    @Test("failure_limit failed checks roll back to the predecessor and quarantine the version")
    func failRollsBack() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.put("users", "kept", "7")
        try await controller.apply(schemaYAML(version: "1.1.0"))
        try await controller.put("users", "written-in-window", "8")
        for _ in 0..<2 {
            await controller.traffic("users", ok: 10, bad: 10)
            env.clock.advance(by: .seconds(1))
            await controller.tick()
        }
        let status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.0.0")
        #expect(status.desiredVersion == "1.1.0")
        #expect(status.phase == .rolledBack)
        #expect(status.quarantined == ["1.1.0"])
        #expect(status.reason?.contains("error rate") == true)
        // Warm standby: the rollback is a switch and keeps what was written during the window.
        #expect(try await controller.value("users", "kept") == "7")
        #expect(try await controller.value("users", "written-in-window") == "8")
        let history = try await controller.history(of: "users")
        #expect(history.map(\.action) == [.apply, .apply, .rollback, .quarantine])
        #expect(history[2].version == "1.0.0" && history[2].fromVersion == "1.1.0")
        let metrics = await controller.metricsSnapshot()
        #expect(metrics.rollbacks.first { $0.map == "users" && $0.reason == "failed_checks" }?.count == 1)
        #expect(metrics.rollbacks.first { $0.map == "users" && $0.reason == "manual" }?.count == 0)
    }

    @Test("low traffic is inconclusive and counts neither way")
    func inconclusive() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.apply(schemaYAML(version: "1.1.0"))
        for _ in 0..<5 {
            await controller.traffic("users", ok: 1, bad: 3)  // 4 ops < min_ops 10, all but one errors
            env.clock.advance(by: .seconds(1))
            await controller.tick()
        }
        let status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.1.0")
        #expect(status.phase == .rollingOut)
        #expect(status.checks.inconclusive == 5)
        #expect(status.checks.failed == 0)
    }

    @Test("fail, pass, fail does not roll back with failure_limit 2")
    func flapping() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.apply(schemaYAML(version: "1.1.0"))
        for bad in [10, 0, 10, 0] {
            await controller.traffic("users", ok: 10, bad: bad)
            env.clock.advance(by: .seconds(1))
            await controller.tick()
        }
        var status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.1.0")
        #expect(status.checks.failed == 2)
        #expect(status.checks.passed == 2)
        // Two in a row do roll back.
        for _ in 0..<2 {
            await controller.traffic("users", ok: 10, bad: 10)
            env.clock.advance(by: .seconds(1))
            await controller.tick()
        }
        status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.0.0")
    }

    @Test("a manual rollback during the window switches back and quarantines")
    func manualRollbackInWindow() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.apply(schemaYAML(version: "1.1.0", standby: "cold"))
        try await controller.put("users", "a", "1")
        let status = try await controller.rollback(name: "users", to: nil, reason: "looks wrong", source: "cli:test")
        #expect(status.liveVersion == "1.0.0")
        #expect(status.quarantined == ["1.1.0"])
        #expect(status.phase == .rolledBack)
        // Cold standby: copied back, with the write made during the window.
        #expect(try await controller.value("users", "a") == "1")
        let last = try #require(try await controller.history(of: "users").dropLast().last)
        #expect(last.action == .rollback)
        #expect(last.reason == "manual: looks wrong")
        #expect(last.source == "cli:test")
        let metrics = await controller.metricsSnapshot()
        #expect(metrics.rollbacks.first { $0.map == "users" && $0.reason == "manual" }?.count == 1)
    }

    @Test("rollback --to an older version in history")
    func rollbackToOlder() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        for version in ["1.1.0", "1.2.0"] {
            let report = try await controller.apply(schemaYAML(version: version, window: "2s"))
            #expect(report.plan.first?.action == .update, "\(report.plan)")
            for _ in 0..<2 {
                env.clock.advance(by: .seconds(1))
                await controller.tick()
            }
        }
        let settled = try await controller.status(of: "users")
        let trail = try await controller.history(of: "users").map { "\($0.action) \($0.version ?? "-") \($0.reason ?? "")" }
        #expect(settled.phase == .stable, "\(settled.phase) \(trail)")
        try await controller.put("users", "x", "42")
        let status = try await controller.rollback(name: "users", to: "v1.0.0", reason: nil, source: "cli:test")
        #expect(status.liveVersion == "1.0.0")
        #expect(status.quarantined == ["1.2.0"])
        #expect(try await controller.value("users", "x") == "42")
        await #expect(throws: ControlPlaneError.self) {
            try await controller.rollback(name: "users", to: "9.9.9", reason: nil, source: "cli:test")
        }
        await #expect(throws: ControlPlaneError.self) {
            try await controller.rollback(name: "users", to: "1.0.0", reason: nil, source: "cli:test")
        }
    }

    @Test("a quarantined version is not applied again until another version or content arrives")
    func quarantineAndRelease() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.apply(schemaYAML(version: "1.1.0"))
        _ = try await controller.rollback(name: "users", to: nil, reason: nil, source: "cli:test")
        let again = try await controller.apply(schemaYAML(version: "1.1.0"))
        #expect(again.plan.first?.action == .quarantined)
        #expect(again.hasFailures == false)
        #expect(try await controller.status(of: "users").liveVersion == "1.0.0")
        let newer = try await controller.apply(schemaYAML(version: "1.2.0"))
        #expect(newer.plan.first?.action == .update)
        let status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.2.0")
        #expect(status.quarantined.isEmpty)
        #expect(status.phase == .rollingOut)
    }

    @Test("the same document applied twice changes nothing")
    func idempotent() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.apply(schemaYAML(version: "1.1.0"))
        let before = try await controller.history(of: "users")
        let report = try await controller.apply(schemaYAML(version: "1.1.0"))
        #expect(report.plan.map(\.action) == [.unchanged])
        #expect(report.hasChanges == false)
        #expect(try await controller.history(of: "users") == before)
        #expect(try await controller.status(of: "users").phase == .rollingOut)
    }

    @Test("the same version with other content is refused: bump the version")
    func sameVersionOtherContent() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.put("users", "a", "1")
        let report = try await controller.apply(schemaYAML(version: "1.0.0", minOps: 50))
        let entry = try #require(report.plan.first)
        #expect(entry.action == .invalid)
        #expect(entry.isRefused)
        #expect(entry.reason?.contains("bump the version") == true)
        #expect(report.hasFailures)
        let status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.0.0")
        #expect(status.phase == .invalid)
        #expect(try await controller.value("users", "a") == "1")
    }

    @Test("a breaking change is refused without a major bump and starts empty with one")
    func breaking() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        await controller.traffic("users", ok: 3)
        let refused = try await controller.apply(schemaYAML(version: "1.1.0", keyType: "int64"))
        #expect(refused.plan.first?.action == .invalid)
        #expect(refused.plan.first?.reason?.contains("major") == true)
        #expect(try await controller.status(of: "users").liveVersion == "1.0.0")
        let dryRun = try await controller.apply(schemaYAML(version: "2.0.0", keyType: "int64"), dryRun: true)
        #expect(dryRun.plan.first?.changeClass == .breaking)
        #expect(dryRun.plan.first?.entriesDropped == 3)
        #expect(try await controller.status(of: "users").liveVersion == "1.0.0", "a dry run changes nothing")
        try await controller.apply(schemaYAML(version: "2.0.0", keyType: "int64"))
        let status = try await controller.status(of: "users")
        #expect(status.liveVersion == "2.0.0")
        #expect(status.entries == 0)
        // The predecessor is kept frozen: a rollback restores its data.
        _ = try await controller.rollback(name: "users", to: nil, reason: nil, source: "cli:test")
        #expect(try await controller.status(of: "users").entries == 3)
    }

    @Test("an invalid document leaves the live version untouched; other maps go on")
    func invalidDocument() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.put("users", "a", "1")
        let broken =
            "name: users\nversion: 1.1.0\nkey_type: string\nvalue_type: int64\nstrategy: shardd\n---\n"
            + schemaYAML("orders", version: "1.0.0")
        let report = try await controller.apply(broken)
        #expect(report.plan.first { $0.name == "users" }?.action == .invalid)
        #expect(report.plan.first { $0.name == "users" }?.diagnostics.isEmpty == false)
        #expect(report.plan.first { $0.name == "orders" }?.action == .create)
        var status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.0.0")
        #expect(status.phase == .invalid)
        #expect(status.reason?.contains("shardd") == true)
        #expect(try await controller.value("users", "a") == "1")
        #expect(await controller.metricsSnapshot().schemaInvalid == 1)
        #expect(try await controller.history(of: "users").last?.action == .invalid)
        try await controller.apply(schemaYAML(version: "1.0.0"))
        status = try await controller.status(of: "users")
        #expect(status.phase == .stable)
        #expect(await controller.metricsSnapshot().schemaInvalid == 0)
    }

    @Test("a new version mid-window keeps the stable predecessor as the rollback target")
    func newVersionMidWindow() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.apply(schemaYAML(version: "1.1.0"))
        try await controller.put("users", "a", "1")
        try await controller.apply(schemaYAML(version: "1.2.0"))
        var status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.2.0")
        #expect(status.standbyVersion == "1.0.0")
        #expect(status.checks == CheckCounts(), "the new version is judged from zero")
        try await controller.put("users", "b", "2")
        status = try await controller.rollback(name: "users", to: nil, reason: nil, source: "cli:test")
        #expect(status.liveVersion == "1.0.0")
        #expect(try await controller.value("users", "a") == "1")
        #expect(try await controller.value("users", "b") == "2")
    }

    @Test("a lower version is applied as a rollback through git, without quarantine")
    func downgrade() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.apply(schemaYAML(version: "1.1.0"))
        let report = try await controller.apply(schemaYAML(version: "1.0.0"))
        #expect(report.plan.first?.isDowngrade == true)
        let status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.0.0")
        #expect(status.desiredVersion == "1.0.0")
        #expect(status.phase == .stable)
        #expect(status.quarantined.isEmpty)
        #expect(try await controller.history(of: "users").last?.action == .rollback)
    }

    @Test("prune drops live maps absent from the input; without it they stay")
    func prune() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML("a", version: "1.0.0") + "---\n" + schemaYAML("b", version: "1.0.0"))
        try await controller.apply(schemaYAML("a", version: "1.0.0"))
        #expect(await controller.statuses().map(\.name) == ["a", "b"])
        let report = try await controller.apply(schemaYAML("a", version: "1.0.0"), prune: true)
        #expect(report.plan.contains { $0.name == "b" && $0.action == .prune })
        #expect(await controller.statuses().map(\.name) == ["a"])
        await #expect(throws: ControlPlaneError.self) { try await controller.getEntry(map: "b", key: "x") }
    }
}
