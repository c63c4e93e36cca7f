import Fleet
import Foundation
import Testing

/// A change's own failure, to tell it from the store's.
private struct Refused: Error, Equatable {}

@Suite("Fleet store: documents, decided state, history", .enabled(if: FleetTesting.postgresAvailable))
struct FleetStateTests {
    static let t0 = FleetTesting.t0

    @Test("Documents: recorded once, read back field for field, the same version with other content refused")
    func documents() async throws {
        try await FleetTesting.withStore { store in
            let document = FleetTesting.document("users", "1.2.0", sha: "aa")
            try await store.recordDocument(document)
            try await store.recordDocument(document)
            #expect(try await store.document(name: "users", version: "1.2.0") == document)
            #expect(try await store.document(name: "users", version: "1.3.0") == nil)
            do throws(FleetError) {
                try await store.recordDocument(FleetTesting.document("users", "1.2.0", sha: "bb"))
                Issue.record("a second content under one version was accepted")
            } catch {
                #expect(error.code == .conflict)
                #expect(error.message.contains("bump the version"))
            }
            #expect(try await store.document(name: "users", version: "1.2.0")?.contentSHA256 == "aa")
        }
    }

    static func rollingOut(_ name: String) -> FleetMapState {
        FleetMapState(
            name: name, desiredVersion: "1.3.0", desiredSHA256: "cc", liveVersion: "1.3.0", liveSHA256: "cc",
            standbyVersion: "1.2.0", standbySHA256: "bb", windowStartedAt: t0, windowEndsAt: t0.addingTimeInterval(300),
            phase: "rolling_out", reason: nil, revision: 77,
            quarantined: [
                FleetQuarantine(version: "1.1.0", contentSHA256: "dd", reason: "3 failed checks", at: t0, replica: "r2"),
                FleetQuarantine(version: "0.9.0", contentSHA256: "ee", reason: "manual", at: t0.addingTimeInterval(-60), replica: "r1"),
            ]
        )
    }

    @Test("update writes state, history and documents at once; revisions count the writes")
    func updateWrites() async throws {
        try await FleetTesting.withStore { store in
            let first = try await store.update(name: "users") { old in
                #expect(old == nil)
                return FleetChange(
                    state: Self.rollingOut("users"),
                    history: [
                        FleetHistoryEntry(
                            time: Self.t0, action: "apply", version: "1.3.0", fromVersion: "1.2.0", source: "schemas/users.yaml",
                            contentSHA256: "cc", reason: nil, replica: "r1"
                        )
                    ],
                    documents: [FleetTesting.document("users", "1.3.0", sha: "cc")]
                )
            }
            let expected = {
                var state = Self.rollingOut("users")
                state.revision = 1
                return state
            }()
            #expect(first == expected)
            #expect(try await store.mapState(name: "users") == expected)
            #expect(try await store.mapStates() == [expected])
            #expect(try await store.document(name: "users", version: "1.3.0")?.contentSHA256 == "cc")

            let second = try await store.update(name: "users") { old in
                #expect(old == expected)
                var state = old!
                state.phase = "rolled_back"
                state.liveVersion = "1.2.0"
                state.quarantined = [FleetQuarantine(version: "1.3.0", contentSHA256: "cc", reason: "errors", at: Self.t0, replica: "r3")]
                return FleetChange(
                    state: state,
                    history: [
                        FleetHistoryEntry(time: Self.t0, action: "rollback", version: "1.2.0", fromVersion: "1.3.0", replica: "r3"),
                        FleetHistoryEntry(time: Self.t0, action: "quarantine", version: "1.3.0", reason: "errors", replica: "r3"),
                    ]
                )
            }
            #expect(second?.revision == 2)
            let stored = try await store.mapState(name: "users")
            #expect(stored?.phase == "rolled_back")
            #expect(stored?.quarantined.map(\.version) == ["1.3.0"])
            #expect(stored?.isQuarantined(version: "1.3.0", contentSHA256: "cc") == true)

            let history = try await store.history(name: "users", limit: nil)
            #expect(history.map(\.action) == ["apply", "rollback", "quarantine"])
            #expect(history[0].source == "schemas/users.yaml")
            #expect(history[0].time == Self.t0)
            #expect(history.map(\.replica) == ["r1", "r3", "r3"])
            #expect(try await store.history(name: "users", limit: 2).map(\.action) == ["rollback", "quarantine"])
            #expect(try await store.history(name: "users", limit: 0).isEmpty)
            #expect(try await store.history(name: "nobody", limit: nil).isEmpty)
        }
    }

    @Test("A change that returns nil writes nothing; one that throws writes nothing and its error comes out")
    func nothingWritten() async throws {
        try await FleetTesting.withStore { store in
            #expect(try await store.update(name: "users") { _ in nil } == nil)
            #expect(try await store.mapState(name: "users") == nil)

            _ = try await store.update(name: "users") { _ in FleetChange(state: Self.rollingOut("users")) }
            let before = try await store.mapState(name: "users")
            #expect(try await store.update(name: "users") { _ in nil } == before)

            await #expect(throws: Refused.self) {
                _ = try await store.update(name: "users") { _ in throw Refused() }
            }
            // A document conflict half way through the writes rolls back the state and the history written before it.
            try await store.recordDocument(FleetTesting.document("users", "2.0.0", sha: "aa"))
            do {
                _ = try await store.update(name: "users") { old in
                    var state = old!
                    state.liveVersion = "2.0.0"
                    return FleetChange(
                        state: state,
                        history: [FleetHistoryEntry(time: Self.t0, action: "apply", version: "2.0.0", replica: "r1")],
                        documents: [FleetTesting.document("users", "1.9.0", sha: "ff"), FleetTesting.document("users", "2.0.0", sha: "zz")]
                    )
                }
                Issue.record("a conflicting document was accepted")
            } catch let error as FleetError {
                #expect(error.code == .conflict)
            }
            #expect(try await store.mapState(name: "users") == before)
            #expect(try await store.history(name: "users", limit: nil).isEmpty)
            #expect(try await store.document(name: "users", version: "1.9.0") == nil)
        }
    }

    @Test("Concurrent updates of one map take turns: no write is lost, revisions go up by one")
    func concurrentUpdates() async throws {
        try await FleetTesting.withStore { store in
            // A second store of the same fleet, as another replica would have.
            let other = FleetStore(location: store.location, fleet: store.fleet, logger: FleetTesting.quiet, timeout: .seconds(60))
            let run = Task { await other.run() }
            defer { run.cancel() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    let target = index.isMultiple(of: 2) ? store : other
                    group.addTask {
                        _ = try await target.update(name: "counter") { old in
                            var state = old ?? FleetMapState(name: "counter")
                            state.reason = "\(Int(state.reason ?? "0")! + 1)"
                            return FleetChange(
                                state: state,
                                history: [FleetHistoryEntry(time: Date(), action: "apply", version: "\(index)", replica: "r\(index)")]
                            )
                        }
                    }
                }
                try await group.waitForAll()
            }
            let state = try await store.mapState(name: "counter")
            #expect(state?.reason == "20")
            #expect(state?.revision == 20)
            #expect(try await store.history(name: "counter", limit: nil).count == 20)
        }
    }
}
