import Fleet
import Foundation
import MapController
import MapSchema
import Testing

@Suite("Fleet scoping: two fleet names in one database", .enabled(if: FleetTesting.postgresAvailable))
struct FleetScopingTests {
    static let t0 = FleetTesting.t0

    @Test("Documents, map states, history, samples, checks, replicas and leaders of one fleet are not the other's")
    func fleetsApart() async throws {
        let blue = FleetTesting.uniqueFleet("blue")
        let green = FleetTesting.uniqueFleet("green")
        try await FleetTesting.withStores([blue, green]) { stores in
            let (a, b) = (stores[0], stores[1])
            try await a.recordDocument(FleetTesting.document("users", "1.0.0", sha: "aa"))
            // The same (name, version) with other content is no conflict in another fleet.
            try await b.recordDocument(FleetTesting.document("users", "1.0.0", sha: "bb"))
            #expect(try await a.document(name: "users", version: "1.0.0")?.contentSHA256 == "aa")
            #expect(try await b.document(name: "users", version: "1.0.0")?.contentSHA256 == "bb")

            _ = try await a.update(name: "users") { _ in
                FleetChange(
                    state: FleetMapState(
                        name: "users",
                        quarantined: [FleetQuarantine(version: "1.0.0", contentSHA256: "aa", reason: "r", at: Self.t0, replica: "a1")]
                    ),
                    history: [FleetHistoryEntry(time: Self.t0, action: "quarantine", version: "1.0.0", replica: "a1")]
                )
            }
            #expect(try await b.mapState(name: "users") == nil)
            #expect(try await b.mapStates().isEmpty)
            #expect(try await b.history(name: "users", limit: nil).isEmpty)
            let second = try await b.update(name: "users") { old in
                #expect(old == nil)
                return FleetChange(state: FleetMapState(name: "users"))
            }
            #expect(second?.revision == 1)
            #expect(second?.quarantined == [])
            #expect(try await a.mapState(name: "users")?.quarantined.count == 1)

            let sample = FleetSample(
                name: "users", version: "1.0.0", windowStart: Self.t0, interval: 0, replica: "a1", ops: 1, errors: 0, faults: 0,
                latencyBuckets: [], publishedAt: Self.t0
            )
            try await a.publish(sample)
            #expect(try await b.samples(name: "users", version: "1.0.0", windowStart: Self.t0).isEmpty)
            #expect(try await a.recordCheck(name: "users", version: "1.0.0", windowStart: Self.t0, interval: 0, result: "pass"))
            #expect(try await b.recordCheck(name: "users", version: "1.0.0", windowStart: Self.t0, interval: 0, result: "fail"))
            #expect(try await a.checks(name: "users", version: "1.0.0", windowStart: Self.t0) == [0: "pass"])

            try await a.heartbeat(ReplicaReport(replica: "a1", maps: [], lastSeen: Self.t0))
            #expect(try await b.replicas().isEmpty)

            #expect(try await a.tryLead(replica: "a1"))
            #expect(try await b.tryLead(replica: "b1"))
            #expect(try await a.leader() == "a1")
            #expect(try await b.leader() == "b1")
        }
    }

    @Test("PostgresStateStore: one fleet's map states are not another's; history keeps the replica")
    func stateStoresApart() async throws {
        try await FleetTesting.withStores([FleetTesting.uniqueFleet("blue"), FleetTesting.uniqueFleet("green")]) { stores in
            let blue = PostgresStateStore(store: stores[0])
            let green = PostgresStateStore(store: stores[1])
            let version = try SemanticVersion(parsing: "1.0.0")
            let entry = HistoryEntry(time: Self.t0, action: .rollback, version: "1.0.0", replica: "pod-7")
            try await blue.save(
                PersistedMapState(name: "users", liveVersion: version), appending: [entry],
                recording: [
                    AppliedDocument(name: "users", version: version, contentSHA256: "aa", yaml: "y", source: nil, appliedAt: Self.t0)
                ],
                at: Self.t0
            )
            #expect(try await green.mapStates().isEmpty)
            #expect(try await green.history(name: "users", limit: nil).isEmpty)
            #expect(try await green.documents(name: "users").isEmpty)
            #expect(try await !green.deleteMap(name: "users"))
            #expect(try await blue.mapState(name: "users")?.liveVersion == version)
            #expect(try await blue.history(name: "users", limit: nil) == [entry])
            #expect(try await blue.history(name: "users", limit: nil).first?.replica == "pod-7")
        }
    }
}
