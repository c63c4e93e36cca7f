import Fleet
import Foundation
import TestServers
import Testing

@Suite("Fleet schema migrations", .enabled(if: FleetTesting.postgresAvailable))
struct FleetMigrationTests {
    @Test("A fresh database is migrated to the latest version; migrating again changes nothing")
    func freshThenAgain() async throws {
        let url = try await FleetTesting.freshDatabase()
        try await FleetTesting.withStores(["a"], url: url, migrate: false) { stores in
            let store = stores[0]
            #expect(try await store.schemaVersion() == 0)
            try await store.migrate()
            let version = try await store.schemaVersion()
            #expect(version >= 1)
            try await store.recordDocument(FleetTesting.document("users", "1.0.0"))
            try await store.migrate()
            #expect(try await store.schemaVersion() == version)
            #expect(try await store.document(name: "users", version: "1.0.0") != nil)
        }
        let postgres = try await ThrowawayPostgres.shared()
        let database = String(url.split(separator: "?")[0].split(separator: "/").last!)
        let rows = try postgres.psql("SELECT count(*) FROM mapctl_schema_migrations", database: database)
        #expect(rows.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }

    @Test("Replicas migrating the same fresh database at once all succeed (the advisory lock serializes them)")
    func concurrent() async throws {
        let url = try await FleetTesting.freshDatabase()
        try await FleetTesting.withStores(["a", "b", "c", "d"], url: url, migrate: false) { stores in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in stores { group.addTask { try await store.migrate() } }
                try await group.waitForAll()
            }
            for store in stores { #expect(try await store.schemaVersion() >= 1) }
        }
    }

    @Test("A database migrated by a newer mapctl is refused, and left as it is")
    func newerRefused() async throws {
        let url = try await FleetTesting.freshDatabase()
        let database = String(url.split(separator: "?")[0].split(separator: "/").last!)
        try await FleetTesting.withStores(["a"], url: url) { _ in }
        let postgres = try await ThrowawayPostgres.shared()
        try postgres.psql(
            "INSERT INTO mapctl_schema_migrations (version, description) VALUES (9999, 'from the future')", database: database)
        try await FleetTesting.withStores(["a"], url: url, migrate: false) { stores async throws in
            await #expect {
                try await stores[0].migrate()
            } throws: { error in
                let error = error as? FleetError
                return error?.code == .newerSchema && error?.message.contains("9999") == true
            }
            #expect(try await stores[0].schemaVersion() == 9999)
        }
    }

    @Test("An unreachable database fails as unavailable within the timeout, without trapping")
    func unreachable() async throws {
        // At high priority. At the start of a full run hundreds of tests queue their jobs at the default
        // priority, and synchronous ones hold the pool's threads for seconds: a probe sleeping 100 ms at a time
        // woke up to 20 s late, and this test's 2 s timeout fired after 19 s (46 s with two busy loops beside
        // the run, past the former 40 s bound). At high priority its jobs are taken first: 2.0 s in a run as
        // loaded.
        try await Task(priority: .high) { try await Self.failFastWhenUnreachable() }.value
    }

    static func failFastWhenUnreachable() async throws {
        let location = try FleetLocation(parsing: "postgresql://postgres@/nowhere?host=/tmp/no-such-dir-\(UUID().uuidString.prefix(6))")
        let store = FleetStore(location: location, fleet: "x", logger: FleetTesting.quiet, timeout: .seconds(2))
        let run = Task { await store.run() }
        defer { run.cancel() }
        // What sleeping both timeouts takes in this process meanwhile: a loaded machine delays it as much.
        let reference = Task {
            let slept = ContinuousClock.now
            try? await Task.sleep(for: .seconds(4))
            return ContinuousClock.now - slept
        }
        let started = ContinuousClock.now
        do throws(FleetError) {
            try await store.migrate()
            Issue.record("migrated a database that does not exist")
        } catch {
            #expect(error.code == .unavailable, "\(error.message)")
        }
        do throws(FleetError) {
            _ = try await store.tryLead(replica: "r")
            Issue.record("led without a database")
        } catch {
            #expect(error.code == .unavailable, "\(error.message)")
        }
        // Two operations with a 2 s timeout take about as long as that sleep; one that waited out its timeout
        // many times over, or hung, fails.
        let elapsed = ContinuousClock.now - started
        let slept = await reference.value
        #expect(elapsed < max(slept, .seconds(4)) * 2 + .seconds(10), "two operations took \(elapsed); a 4 s sleep \(slept)")
    }
}
