import Fleet
import Foundation
import Synchronization
import TestServers
import Testing

/// What a `changes()` stream delivered so far, collected by a task.
final class NotificationLog: Sendable {
    private final class Items: Sendable {
        let list = Mutex<[FleetNotification]>([])
    }

    private let items: Items
    private let task: Task<Void, Never>

    init(_ stream: AsyncStream<FleetNotification>) {
        let items = Items()
        self.items = items
        task = Task {
            for await notification in stream { items.list.withLock { $0.append(notification) } }
        }
    }

    var all: [FleetNotification] { items.list.withLock { $0 } }

    func cancel() { task.cancel() }
}

@Suite("Fleet store: notifications and leadership", .enabled(if: FleetTesting.postgresAvailable))
struct FleetCoordinationTests {
    @Test("An update is NOTIFY'd to another store's changes(), after a first .reconnected; other fleets' are not")
    func notifications() async throws {
        let fleet = FleetTesting.uniqueFleet()
        try await FleetTesting.withStores([fleet, fleet, fleet + "-other"]) { stores in
            let (writer, follower, stranger) = (stores[0], stores[1], stores[2])
            let log = NotificationLog(follower.changes())
            defer { log.cancel() }
            #expect(await FleetTesting.eventually { log.all == [.reconnected] })

            _ = try await stranger.update(name: "users") { _ in FleetChange(state: FleetMapState(name: "users")) }
            _ = try await writer.update(name: "users") { _ in FleetChange(state: FleetMapState(name: "users")) }
            _ = try await writer.update(name: "users") { _ in FleetChange(state: FleetMapState(name: "users")) }
            _ = try await writer.update(name: "a/b") { _ in FleetChange(state: FleetMapState(name: "a/b")) }
            _ = try await writer.update(name: "users") { _ in nil }
            // A change that throws is rolled back: its NOTIFY is never delivered.
            _ = try? await writer.update(name: "users") { _ in throw CancellationError() }
            let expected: [FleetNotification] = [
                .reconnected, .changed(name: "users", revision: 1), .changed(name: "users", revision: 2),
                .changed(name: "a/b", revision: 1),
            ]
            #expect(await FleetTesting.eventually { log.all == expected }, "\(log.all)")
            try await Task.sleep(for: .milliseconds(200))
            #expect(log.all == expected)
        }
    }

    @Test("When the listening connection is killed, changes() reconnects, says so, and goes on")
    func notificationsReconnect() async throws {
        let fleet = FleetTesting.uniqueFleet()
        let postgres = try await ThrowawayPostgres.shared()
        try await FleetTesting.withStores([fleet, fleet]) { stores in
            let log = NotificationLog(stores[1].changes())
            defer { log.cancel() }
            #expect(await FleetTesting.eventually { log.all == [.reconnected] })
            #expect(try postgres.terminateSessions(applicationName: "mapctl listen \(fleet)") == 1)
            #expect(await FleetTesting.eventually { log.all == [.reconnected, .reconnected] }, "\(log.all)")
            _ = try await stores[0].update(name: "users") { _ in FleetChange(state: FleetMapState(name: "users")) }
            #expect(await FleetTesting.eventually { log.all.last == .changed(name: "users", revision: 1) }, "\(log.all)")
        }
    }

    @Test("One leader per fleet; when its connection is killed another takes over; leader() names the holder")
    func leadership() async throws {
        let fleet = FleetTesting.uniqueFleet()
        let postgres = try await ThrowawayPostgres.shared()
        try await FleetTesting.withStores([fleet, fleet, fleet + "-other"]) { stores in
            let (a, b, other) = (stores[0], stores[1], stores[2])
            #expect(try await a.leader() == nil)
            #expect(try await a.tryLead(replica: "replica-a"))
            #expect(try await !b.tryLead(replica: "replica-b"))
            #expect(try await a.tryLead(replica: "replica-a"))
            #expect(try await !b.tryLead(replica: "replica-b"))
            #expect(try await b.leader() == "replica-a")
            // Another fleet in the same database has its own leader.
            #expect(try await other.tryLead(replica: "replica-o"))
            #expect(try await other.leader() == "replica-o")
            #expect(try await a.leader() == "replica-a")

            // Kill the leader's session: the lock goes with it.
            let pid = try postgres.psql("SELECT backend_pid FROM mapctl_fleet_leaders WHERE fleet = '\(fleet)'")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try postgres.psql("SELECT pg_terminate_backend(\(pid))").hasPrefix("t"))
            #expect(try await FleetTesting.eventually { try await b.tryLead(replica: "replica-b") })
            #expect(try await b.leader() == "replica-b")
            #expect(try await !a.tryLead(replica: "replica-a"))
            #expect(try await !a.tryLead(replica: "replica-a"))
            #expect(try await b.tryLead(replica: "replica-b"))

            // Resigning hands it over at the next try.
            await b.resign()
            #expect(try await a.leader() == nil)
            #expect(try await a.tryLead(replica: "replica-a"))
            #expect(try await !b.tryLead(replica: "replica-b"))
            #expect(try await b.leader() == "replica-a")
        }
    }
}
