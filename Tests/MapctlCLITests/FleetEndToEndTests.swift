import Foundation
import TestServers
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// SPEC §8 with real daemons on a throwaway PostgreSQL: one decision for the fleet.
@Suite("Fleet end to end", .serialized, .heavy, .enabled(if: ThrowawayPostgres.isAvailable, "needs PostgreSQL (initdb, pg_ctl)"))
struct FleetEndToEndTests {
    @Test("A bad version is rolled back on all three replicas within failure_limit × interval + 1 s, once for the fleet")
    func fleetRollback() async throws {
        let fleet = try await FleetHarness()
        defer { fleet.stop() }
        var sessions: [Session] = []
        defer { for session in sessions { session.layout.remove() } }
        for id in ["r1", "r2", "r3"] {
            let layout = try DaemonProcess.Layout.make()
            try layout.writeSchema("hot.yaml", FleetFixture.schema(version: "1.0.0"))
            sessions.append(try await fleet.start(id, layout: layout))
        }
        let apis = sessions.map { FleetAPI(baseURL: $0.daemon.url) }
        for api in apis {
            #expect(await api.wait(for: "hot") { $0["live_version"] as? String == "1.0.0" } != nil)
        }
        let leader = try #require(await apis[0].wait(for: "hot") { ($0["replicas"] as? [Any])?.count == 3 && $0["leader"] is String })
        #expect(["r1", "r2", "r3"].contains(leader["leader"] as? String ?? ""), "\(leader)")

        let writers = sessions.map { FleetWriters(baseURL: $0.daemon.url, map: "hot") }
        for writer in writers { try await writer.acknowledged.wait(atLeast: 30) }

        // The bad version arrives in every replica's directory, as a ConfigMap update would bring it.
        for session in sessions {
            try session.layout.writeSchema("hot.yaml", FleetFixture.schema(version: "1.1.0", bad: true))
        }
        let firstLive = await withTaskGroup(of: ContinuousClock.Instant?.self) { group in
            for api in apis {
                group.addTask {
                    await api.wait(for: "hot", timeout: .seconds(30)) { $0["live_version"] as? String == "1.1.0" } != nil ? .now : nil
                }
            }
            var first: ContinuousClock.Instant?
            for await instant in group { if let instant { first = min(first ?? instant, instant) } }
            return first
        }
        let wentLive = try #require(firstLive, "1.1.0 went live on some replica")
        for api in apis {
            let status = await api.wait(for: "hot", timeout: .seconds(30)) { $0["live_version"] as? String == "1.0.0" }
            #expect(status?["phase"] as? String == "rolled_back", "\(String(describing: status))")
            #expect((status?["quarantined"] as? [String])?.contains("1.1.0") == true)
        }
        let took = ContinuousClock.now - wentLive
        // The target is failure_limit (2) × interval (1 s) + 1 s. BENCHMARKS.md "Fleets" measures the release
        // build from the failing interval's end to every replica's rollback (p50 349 ms, p99 423 ms); the bound
        // here leaves room for a debug build beside the rest of the suite.
        #expect(took < .seconds(12), "rolled back on every replica \(took) after the bad version went live")

        for (index, writer) in writers.enumerated() {
            try await writer.acknowledged.wait(atLeast: writer.acknowledged.value + 10)
            let acknowledged = await writer.finish()
            let lost = await writer.lost(acknowledged, map: "hot")
            #expect(lost.isEmpty, "replica r\(index + 1) lost \(lost.count) of \(acknowledged.count) acknowledged writes")
        }

        let history = await apis[2].history("hot")
        #expect(history.count { $0["action"] as? String == "rollback" } == 1, "\(history)")
        #expect(history.count { $0["action"] as? String == "quarantine" && $0["version"] as? String == "1.1.0" } == 1)
        #expect(history.allSatisfy { $0["replica"] is String }, "every fleet history entry names its replica")

        // A fourth replica starts after the rollback with the bad file in its directory.
        let layout = try DaemonProcess.Layout.make()
        try layout.writeSchema("hot.yaml", FleetFixture.schema(version: "1.1.0", bad: true))
        let fourth = try await fleet.start("r4", layout: layout)
        sessions.append(fourth)
        let api = FleetAPI(baseURL: fourth.daemon.url)
        let status = await api.wait(for: "hot", timeout: .seconds(30)) { $0["live_version"] as? String == "1.0.0" }
        #expect(status != nil, "the fourth replica comes up on the fleet's live version")
        try await Task.sleep(for: .seconds(2))
        #expect(await api.status("hot")?["live_version"] as? String == "1.0.0")
        let log = try await fourth.daemon.stop()
        #expect(!log.stdout.contains("version=1.1.0 [MapController] map updated"), "r4 never applied 1.1.0")
        #expect(!log.stderr.contains("version=1.1.0 [MapController] map created"), "r4 never applied 1.1.0")
        for session in sessions.prefix(3) { _ = try await session.daemon.stop() }
    }

    @Test("SIGKILL of the leader mid-window: another replica leads within two intervals and promotes the good version")
    func leaderFailover() async throws {
        let fleet = try await FleetHarness()
        defer { fleet.stop() }
        var sessions: [Session] = []
        defer { for session in sessions { session.layout.remove() } }
        for id in ["a", "b", "c"] {
            let layout = try DaemonProcess.Layout.make()
            try layout.writeSchema("hot.yaml", FleetFixture.schema(version: "1.0.0", window: "6s"))
            sessions.append(try await fleet.start(id, layout: layout))
        }
        let apis = sessions.map { FleetAPI(baseURL: $0.daemon.url) }
        let first = try #require(await apis[0].wait(for: "hot") { $0["leader"] is String && ($0["replicas"] as? [Any])?.count == 3 })
        let leader = try #require(first["leader"] as? String)
        for session in sessions {
            try session.layout.writeSchema("hot.yaml", FleetFixture.schema(version: "1.1.0", window: "6s"))
        }
        for api in apis {
            #expect(
                await api.wait(for: "hot") { $0["live_version"] as? String == "1.1.0" && $0["phase"] as? String == "rolling_out" } != nil)
        }
        let index = try #require(["a", "b", "c"].firstIndex(of: leader))
        _ = try await sessions[index].daemon.stop(signal: SIGKILL)
        let killed = ContinuousClock.now
        let survivor = apis[(index + 1) % 3]
        let next = await survivor.wait(for: "hot", timeout: .seconds(20)) {
            guard let now = $0["leader"] as? String else { return false }
            return now != leader
        }
        #expect(next != nil, "another replica leads")
        // Two intervals (1 s each), plus the heartbeat that shows the new leader in status.
        // Two intervals is the target (the lock is released when the killed leader's connection drops); the bound
        // leaves room for a loaded CI machine.
        #expect(ContinuousClock.now - killed < .seconds(10), "a new leader within two intervals: \(ContinuousClock.now - killed)")
        for (position, api) in apis.enumerated() where position != index {
            let promoted = await api.wait(for: "hot", timeout: .seconds(30)) { $0["phase"] as? String == "stable" }
            #expect(promoted?["live_version"] as? String == "1.1.0", "\(String(describing: promoted))")
        }
        let history = await survivor.history("hot")
        #expect(history.count { $0["action"] as? String == "promote" && $0["version"] as? String == "1.1.0" } == 1, "\(history)")
        #expect(!history.contains { $0["action"] as? String == "rollback" })
        for (position, session) in sessions.enumerated() where position != index { _ = try await session.daemon.stop() }
    }

    @Test("PostgreSQL stopped mid-window: replicas serve on, roll a bad version back alone, and record it when it is back")
    func degradedMode() async throws {
        let fleet = try await FleetHarness()
        defer { fleet.stop() }
        var sessions: [Session] = []
        defer { for session in sessions { session.layout.remove() } }
        for id in ["x", "y"] {
            let layout = try DaemonProcess.Layout.make()
            try layout.writeSchema("hot.yaml", FleetFixture.schema(version: "1.0.0", failureLimit: 3))
            sessions.append(try await fleet.start(id, layout: layout))
        }
        let apis = sessions.map { FleetAPI(baseURL: $0.daemon.url) }
        for api in apis { #expect(await api.wait(for: "hot") { $0["live_version"] as? String == "1.0.0" } != nil) }
        let writers = sessions.map { FleetWriters(baseURL: $0.daemon.url, map: "hot") }
        for writer in writers { try await writer.acknowledged.wait(atLeast: 20) }
        for session in sessions {
            try session.layout.writeSchema("hot.yaml", FleetFixture.schema(version: "1.1.0", failureLimit: 3, bad: true))
        }
        for api in apis { #expect(await api.wait(for: "hot") { $0["live_version"] as? String == "1.1.0" } != nil) }
        // Mid-window: the fleet has taken 1.1.0 (a replica proposes on its next pass) before the database stops.
        let proposed = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < proposed {
            let history = await apis[0].history("hot")
            if history.contains(where: { $0["action"] as? String == "apply" && $0["version"] as? String == "1.1.0" }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try fleet.postgres.kill()

        // Alone, each replica judges its own counters and rolls back for safety; writes go on throughout.
        for api in apis {
            let status = await api.wait(for: "hot", timeout: .seconds(30)) { $0["live_version"] as? String == "1.0.0" }
            #expect(status != nil, "rolled back locally while the database is down")
        }
        for writer in writers { try await writer.acknowledged.wait(atLeast: writer.acknowledged.value + 20) }

        try fleet.postgres.start()
        let recorded = await apis[0].wait(for: "hot", timeout: .seconds(30)) { _ in true }
        #expect(recorded != nil)
        var history: [[String: Any]] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            history = await apis[1].history("hot")
            if history.contains(where: { $0["action"] as? String == "rollback" && $0["replica"] is String }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let rollback = history.first { $0["action"] as? String == "rollback" }
        if rollback == nil {
            for session in sessions {
                let lines = session.daemon.process.stderrSoFar().split(separator: "\n").filter {
                    !$0.contains("PostgresNIO") && !$0.contains("cannot listen for changes")
                }
                Issue.record("daemon log:\n\(lines.suffix(60).joined(separator: "\n"))")
            }
        }
        #expect(rollback?["from_version"] as? String == "1.1.0", "\(history)")
        let reason = rollback?["reason"] as? String ?? ""
        #expect(reason.contains("safety"), "\(String(describing: rollback))")
        for (index, writer) in writers.enumerated() {
            let acknowledged = await writer.finish()
            let lost = await writer.lost(acknowledged, map: "hot")
            #expect(lost.isEmpty, "replica \(index) lost \(lost.count) of \(acknowledged.count) acknowledged writes")
        }
        for session in sessions { _ = try await session.daemon.stop() }
    }
}
