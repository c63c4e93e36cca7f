import Foundation
import LiveMaps
import Logging
import MapSchema
import Rollout
import Testing

@testable import MapController

@Suite("Controller: restart, crash loops, directory, breaker, typed maps")
struct ControllerLifecycleTests {
    @Test("a new controller on the same state directory restores every map at its last live version")
    func restartRestores() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        do {
            let controller = try await env.makeController()
            try await controller.apply(schemaYAML("a", version: "1.0.0") + "---\n" + schemaYAML("b", version: "2.0.0"))
            try await controller.apply(schemaYAML("a", version: "1.1.0", window: "10m"))
            try await controller.apply(schemaYAML("b", version: "2.1.0"))
            _ = try await controller.rollback(name: "b", to: nil, reason: "bad", source: "cli:test")
            await controller.shutdown()
        }
        let restarted = try await env.makeController()
        #expect(await restarted.isReady)
        let a = try await restarted.status(of: "a")
        #expect(a.liveVersion == "1.1.0")
        #expect(a.phase == .rollingOut, "the window survives the restart")
        #expect(a.standbyVersion == "1.0.0")
        let b = try await restarted.status(of: "b")
        #expect(b.liveVersion == "2.0.0")
        #expect(b.phase == .rolledBack)
        #expect(b.quarantined == ["2.1.0"])
        // Entries are memory: the maps restart empty but serve.
        try await restarted.put("a", "k", "1")
        #expect(try await restarted.value("a", "k") == "1")
        // The quarantine holds across the restart.
        #expect(try await restarted.apply(schemaYAML("b", version: "2.1.0")).plan.first?.action == .quarantined)
        // The restored window still ends in a promotion.
        env.clock.advance(by: .seconds(601))
        await restarted.tick()
        #expect(try await restarted.status(of: "a").phase == .stable)
    }

    @Test("an unclean end while a version with crash_after_ops is in its window rolls it back at the next start")
    func crashLoopRollsBackAtStart() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        do {
            let controller = try await env.makeController()
            try await controller.apply(schemaYAML(version: "1.0.0"))
            try await controller.apply(schemaYAML(version: "1.1.0", extra: "fault_injection:\n  crash_after_ops: 1000000\n"))
            // No shutdown(): the process "crashed".
        }
        let restarted = try await env.makeController()
        let status = try await restarted.status(of: "users")
        #expect(status.liveVersion == "1.0.0")
        #expect(status.quarantined == ["1.1.0"])
        #expect(status.reason?.contains("unclean exit") == true)
        let metrics = await restarted.metricsSnapshot()
        #expect(metrics.rollbacks.first { $0.map == "users" && $0.reason == "startup_faults" }?.count == 1)
        #expect(try await restarted.history(of: "users").suffix(2).map(\.action) == [.rollback, .quarantine])
    }

    @Test("a clean shutdown counts no fault at the next start")
    func cleanShutdownNoFault() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        do {
            let controller = try await env.makeController()
            try await controller.apply(schemaYAML(version: "1.0.0"))
            try await controller.apply(schemaYAML(version: "1.1.0"))
            await controller.shutdown()
        }
        let restarted = try await env.makeController()
        let status = try await restarted.status(of: "users")
        #expect(status.liveVersion == "1.1.0")
        #expect(status.phase == .rollingOut)
    }

    @Test("a directory in a git work tree: the source names the file and the commit; invalid files are reported")
    func directoryWithGit() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let root = env.directory + "-repo"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let schemas = root + "/schemas"
        let commit = String(repeating: "ab12", count: 10)
        try FileManager.default.createDirectory(atPath: schemas, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/.git/refs/heads", withIntermediateDirectories: true)
        try "ref: refs/heads/main\n".write(toFile: root + "/.git/HEAD", atomically: true, encoding: .utf8)
        try (commit + "\n").write(toFile: root + "/.git/refs/heads/main", atomically: true, encoding: .utf8)
        try schemaYAML("users", version: "1.0.0").write(toFile: schemas + "/users.yaml", atomically: true, encoding: .utf8)
        try "name: orders\nversion: 1.0.0\nkey_type: strin\nvalue_type: int64\n".write(
            toFile: schemas + "/orders.yaml", atomically: true, encoding: .utf8)
        let controller = try await env.makeController()
        let report = await controller.reconcileDirectory(schemas, prune: false)
        #expect(report.plan.first { $0.name == "users" }?.action == .create)
        #expect(report.plan.first { $0.name == "orders" }?.action == .invalid)
        #expect(await controller.isReady)
        let history = try await controller.history(of: "users")
        #expect(history.first?.source?.hasSuffix("users.yaml@\(commit)") == true, "\(history.first?.source ?? "nil")")
        let orders = try await controller.status(of: "orders")
        #expect(orders.phase == .invalid)
        #expect(orders.liveVersion == nil)
        #expect(await controller.metricsSnapshot().schemaInvalid == 1)
        // Level-triggered: the same directory again changes nothing.
        let again = await controller.reconcileDirectory(schemas, prune: false)
        #expect(again.plan.first { $0.name == "users" }?.action == .unchanged)
        #expect(try await controller.history(of: "users").count == history.count)
        #expect(try await controller.history(of: "orders").count == 1, "the same invalid file is recorded once")
        // The invalid file removed: the map it named (never live) is no longer reported.
        try FileManager.default.removeItem(atPath: schemas + "/orders.yaml")
        _ = await controller.reconcileDirectory(schemas, prune: false)
        await #expect(throws: ControlPlaneError.self) { try await controller.status(of: "orders") }
        #expect(await controller.metricsSnapshot().schemaInvalid == 0)
        // Removing the file does not drop the map without prune; with prune it does.
        try FileManager.default.removeItem(atPath: schemas + "/users.yaml")
        _ = await controller.reconcileDirectory(schemas, prune: false)
        #expect(try await controller.status(of: "users").liveVersion == "1.0.0")
        _ = await controller.reconcileDirectory(schemas, prune: true)
        await #expect(throws: ControlPlaneError.self) { try await controller.status(of: "users") }
    }

    @Test("the breaker opens on faults: writes get 503 with Retry-After, reads go on; it closes after the cooldown")
    func breaker() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        let handle = try controller.map("users", as: Int.self)
        try await controller.apply(
            schemaYAML(version: "1.0.0", extra: "circuit_breaker:\n  open_after_faults: 2\n  window: 10s\n  cooldown: 30s\n"))
        try await controller.put("users", "a", "1")
        handle.reportFault()
        handle.reportFault()
        #expect(try await controller.status(of: "users").breaker == .open)
        do {
            try await controller.put("users", "b", "2")
            Issue.record("a write went through an open breaker")
        } catch {
            #expect(error.kind == .unavailable)
            #expect(error.httpStatus == 503)
            #expect(error.retryAfter == .seconds(30))
        }
        #expect(try await controller.value("users", "a") == "1", "reads go on")
        #expect(throws: TypedMapError.self) { try handle.put("c", 3) }
        env.clock.advance(by: .seconds(31))
        #expect(try await controller.status(of: "users").breaker == .halfOpen)
        for i in 0..<3 { try await controller.put("users", "p\(i)", "\(i)") }
        #expect(try await controller.status(of: "users").breaker == .closed)
        let metrics = await controller.metricsSnapshot()
        #expect(metrics.maps.first { $0.map == "users" }?.breaker == .closed)
    }

    @Test("entry API errors: bad key 400, bad value 400, missing key or map 404")
    func entryErrors() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0", keyType: "int64"))
        try await controller.put("users", "1", "10")
        #expect(try await controller.value("users", "1") == "10")
        await #expect(throws: ControlPlaneError(.badRequest, code: "bad_key", message: "'x' is not an int64 key")) {
            try await controller.getEntry(map: "users", key: "x")
        }
        do {
            try await controller.put("users", "2", "\"ten\"")
            Issue.record("a bad value was accepted")
        } catch { #expect(error.httpStatus == 400) }
        do {
            try await controller.put("users", "2", "{not json")
            Issue.record("bad JSON was accepted")
        } catch { #expect(error.httpStatus == 400) }
        do {
            _ = try await controller.getEntry(map: "users", key: "2")
            Issue.record("a missing key was found")
        } catch { #expect(error.code == "key_not_found" && error.httpStatus == 404) }
        do {
            _ = try await controller.getEntry(map: "nope", key: "2")
            Issue.record("a missing map was found")
        } catch { #expect(error.code == "map_not_found" && error.httpStatus == 404) }
        try await controller.deleteEntry(map: "users", key: "1")
        do {
            try await controller.deleteEntry(map: "users", key: "1")
            Issue.record("deleting a missing key succeeded")
        } catch { #expect(error.httpStatus == 404) }
    }

    @Test("a typed handle encodes and decodes Codable values through the governed map")
    func typedHandle() async throws {
        struct User: Codable, Sendable, Equatable {
            var id: String
            var name: String
            var age: Int?
        }
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        let users = try controller.map("users", as: User.self)
        #expect(throws: TypedMapError.self) { try users.get("u1") }
        let yaml = schemaYAML(version: "1.0.0", valueType: "User", extra: "fields:\n  id: string\n  name: string\n  age: int64?\n")
        try await controller.apply(yaml)
        try users.put("u1", User(id: "u1", name: "Ada", age: 36))
        #expect(try users.get("u1") == User(id: "u1", name: "Ada", age: 36))
        #expect(try await controller.value("users", "u1").contains("\"Ada\""))
        // The data is carried across a rebuild.
        try await controller.apply(yaml.replacingOccurrences(of: "version: 1.0.0", with: "version: 1.1.0"))
        #expect(try users.get("u1")?.name == "Ada")
        #expect(users.count == 1)
        #expect(try users.delete("u1"))
        #expect(try users.get("u1") == nil)
    }

    @Test("the run loop checks on its own clock and promotes at the window's end")
    func runLoop() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        let loop = Task { try await controller.run() }
        try await controller.apply(schemaYAML(version: "1.1.0", window: "3s"))
        #expect(try await controller.status(of: "users").phase == .rollingOut)
        // Move time only while the loop sleeps on the clock, until it has promoted on its own.
        var phase = MapPhase.rollingOut
        var advanced = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while phase != .stable, ContinuousClock.now < deadline {
            if env.clock.sleeperCount > 0 {
                env.clock.advance(by: .seconds(1))
                advanced += 1
            }
            try await Task.sleep(for: .milliseconds(5))
            phase = try await controller.status(of: "users").phase
        }
        #expect(advanced >= 3, "promoted before the window passed")
        #expect(phase == .stable)
        loop.cancel()
        _ = try? await loop.value
        await controller.shutdown()
    }

    @Test("metrics: a live and a standby sample during a window, every op and result exported")
    func metrics() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        let before = await controller.metricsSnapshot()
        #expect(before.reconciles.map(\.result) == ["success", "error", "invalid", "unchanged"])
        try await controller.apply(schemaYAML(version: "1.0.0"))
        try await controller.apply(schemaYAML(version: "1.1.0"))
        try await controller.put("users", "a", "1")
        let metrics = await controller.metricsSnapshot()
        #expect(metrics.maps.map(\.role).sorted() == ["live", "standby"])
        let live = try #require(metrics.maps.first { $0.role == "live" })
        #expect(live.version == "1.1.0")
        #expect(live.ops.count == OpKind.allCases.count * OpResult.allCases.count)
        #expect(live.ops.first { $0.op == "put" && $0.result == "ok" }?.count == 1)
        #expect(live.latencyBuckets.last?.upperBound == .infinity)
        #expect(metrics.reconciles.first { $0.result == "success" }?.count == 2)
        let standby = try #require(metrics.maps.first { $0.role == "standby" })
        #expect(standby.entries == 1, "the warm standby took the write")
    }
}

@Suite("Documents received from the directory")
struct DirectoryReceiveTests {
    @Test("a newer version sent with apply stays desired until the file itself changes, across resyncs and restarts")
    func applyOutlivesAnUnchangedFile() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let schemas = env.directory + "-schemas"
        defer { try? FileManager.default.removeItem(atPath: schemas) }
        try FileManager.default.createDirectory(atPath: schemas, withIntermediateDirectories: true)
        let file = schemas + "/users.yaml"
        try schemaYAML("users", version: "1.0.0").write(toFile: file, atomically: true, encoding: .utf8)

        var controller = try await env.makeController()
        _ = await controller.reconcileDirectory(schemas, prune: true)
        try await controller.apply(schemaYAML("users", version: "1.1.0"))
        #expect(try await controller.status(of: "users").liveVersion == "1.1.0")

        // A resync sees the same file: it was received already, so it does not undo the apply (nor prune the map).
        let resync = await controller.reconcileDirectory(schemas, prune: true)
        #expect(resync.plan.first { $0.name == "users" }?.action == .unchanged)
        #expect(try await controller.status(of: "users").liveVersion == "1.1.0")

        // The same holds after a restart: what the directory gave is remembered in the state.
        await controller.shutdown()
        controller = try await env.makeController()
        _ = await controller.reconcileDirectory(schemas, prune: false)
        #expect(try await controller.status(of: "users").desiredVersion == "1.1.0")

        // The file changes: that is a new document, and it is applied.
        try schemaYAML("users", version: "1.2.0").write(toFile: file, atomically: true, encoding: .utf8)
        _ = await controller.reconcileDirectory(schemas, prune: false)
        #expect(try await controller.status(of: "users").liveVersion == "1.2.0")

        // Reverting the file in git to 1.0.0 is a new document too: a downgrade, applied as such.
        try schemaYAML("users", version: "1.0.0").write(toFile: file, atomically: true, encoding: .utf8)
        _ = await controller.reconcileDirectory(schemas, prune: false)
        #expect(try await controller.status(of: "users").liveVersion == "1.0.0")
    }
}
