import Fleet
import Foundation
import MapController
import MapSchema
import Testing

/// The stores behind ``MapStateStore``, each made fresh for a test.
enum StateStoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh store of this kind: SQLite in a temporary directory, or PostgreSQL in a fleet
    /// of its own on the shared server.
    func withStore(_ body: (any MapStateStore) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mapctl-contract-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = try StateStore(directory: directory.path)
            try await body(store)
            try store.close()
        case .postgres:
            try await FleetTesting.withStore { store in
                let states = PostgresStateStore(store: store)
                try await states.migrate()
                try await body(states)
            }
        }
    }

    static var available: [StateStoreKind] { FleetTesting.postgresAvailable ? allCases : [.sqlite] }
}

/// The same cases against SQLite and PostgreSQL: what the controller relies on holds for both.
@Suite("MapStateStore contract (SQLite and PostgreSQL)")
struct MapStateStoreContractTests {
    static let t0 = FleetTesting.t0

    static func v(_ text: String) -> SemanticVersion {
        // Test fixtures are literal versions.
        try! SemanticVersion(parsing: text)
    }

    static func document(_ name: String, _ version: String, sha: String = "aa", at: Date = t0) -> AppliedDocument {
        AppliedDocument(
            name: name, version: v(version), contentSHA256: sha, yaml: "name: \(name)\nversion: \(version)\n",
            source: "schemas/\(name).yaml@abc123", appliedAt: at
        )
    }

    static let fullState = PersistedMapState(
        name: "user_cache",
        liveVersion: v("1.3.2"),
        liveSHA256: "bb",
        standby: .init(version: v("1.3.1"), mode: .cold),
        windowEndsAt: t0.addingTimeInterval(900),
        desiredVersion: v("1.4.0"),
        desiredSHA256: "cc",
        desiredSource: "schemas/user_cache.yaml@abc123",
        quarantined: [
            .init(version: v("1.4.0"), contentSHA256: "cc", reason: "3 consecutive failed checks", at: t0),
            .init(version: v("1.2.0"), contentSHA256: "dd", reason: "manual", at: t0.addingTimeInterval(-60)),
        ],
        invalid: .init(
            diagnostics: [Diagnostic(file: "schemas/user_cache.yaml", line: 7, column: 12, message: "unknown strategy 'shardd'")],
            source: "schemas/user_cache.yaml",
            at: t0
        ),
        reason: "rolled back"
    )

    static func entry(_ action: HistoryEntry.Action, _ version: String, at offset: Double = 0) -> HistoryEntry {
        HistoryEntry(
            time: t0.addingTimeInterval(offset), action: action, version: version, fromVersion: "1.0.0", source: "schemas/x.yaml",
            contentSHA256: "aa", reason: "because"
        )
    }

    @Test("Documents: recorded once, listed oldest first, another content under one version refused", arguments: StateStoreKind.available)
    func documents(kind: StateStoreKind) async throws {
        try await kind.withStore { store in
            try await store.record(Self.document("users", "1.0.0"))
            try await store.record(Self.document("users", "1.0.0"))
            try await store.record(Self.document("users", "1.1.0", sha: "bb", at: Self.t0.addingTimeInterval(5)))
            try await store.record(Self.document("orders", "2.0.0"))
            #expect(try await store.document(name: "users", version: Self.v("1.0.0")) == Self.document("users", "1.0.0"))
            #expect(try await store.document(name: "users", version: Self.v("9.9.9")) == nil)
            #expect(try await store.documents(name: "users").map(\.version.description) == ["1.0.0", "1.1.0"])
            await #expect {
                try await store.record(Self.document("users", "1.0.0", sha: "zz"))
            } throws: { error in
                (error as? StateStoreError)?.code == .documentConflict
            }
        }
    }

    @Test("A map's state round-trips field for field; saving again replaces it", arguments: StateStoreKind.available)
    func stateRoundTrips(kind: StateStoreKind) async throws {
        try await kind.withStore { store in
            try await store.save(Self.fullState, appending: [], recording: [], at: Self.t0)
            var expected = Self.fullState
            expected.updatedAt = Self.t0
            #expect(try await store.mapState(name: "user_cache") == expected)
            #expect(try await store.mapState(name: "missing") == nil)

            var bare = PersistedMapState(name: "bare")
            try await store.save(bare, appending: [], recording: [], at: Self.t0)
            bare.updatedAt = Self.t0
            #expect(try await store.mapStates() == [bare, expected])

            var changed = Self.fullState
            changed.quarantined = [changed.quarantined[1]]
            changed.standby = nil
            changed.windowEndsAt = nil
            changed.invalid = nil
            try await store.save(changed, appending: [], recording: [], at: Self.t0.addingTimeInterval(1))
            changed.updatedAt = Self.t0.addingTimeInterval(1)
            #expect(try await store.mapState(name: "user_cache") == changed)
        }
    }

    @Test("save writes state, history and documents together, or nothing", arguments: StateStoreKind.available)
    func saveIsOneTransaction(kind: StateStoreKind) async throws {
        try await kind.withStore { store in
            try await store.save(
                Self.fullState, appending: [Self.entry(.apply, "1.3.2")], recording: [Self.document("user_cache", "1.3.2", sha: "bb")],
                at: Self.t0
            )
            #expect(try await store.history(name: "user_cache", limit: nil) == [Self.entry(.apply, "1.3.2")])
            #expect(try await store.document(name: "user_cache", version: Self.v("1.3.2"))?.contentSHA256 == "bb")

            var next = Self.fullState
            next.liveVersion = Self.v("1.5.0")
            await #expect(throws: StateStoreError.self) {
                try await store.save(
                    next, appending: [Self.entry(.apply, "1.5.0")],
                    recording: [Self.document("user_cache", "1.5.0"), Self.document("user_cache", "1.3.2", sha: "other")],
                    at: Self.t0
                )
            }
            #expect(try await store.mapState(name: "user_cache")?.liveVersion == Self.v("1.3.2"))
            #expect(try await store.history(name: "user_cache", limit: nil).count == 1)
            #expect(try await store.document(name: "user_cache", version: Self.v("1.5.0")) == nil)
        }
    }

    @Test("History: oldest first, the last N with a limit, per map", arguments: StateStoreKind.available)
    func history(kind: StateStoreKind) async throws {
        try await kind.withStore { store in
            let entries = [Self.entry(.apply, "1.0.0"), Self.entry(.promote, "1.0.0", at: 1), Self.entry(.rollback, "0.9.0", at: 2)]
            try await store.save(PersistedMapState(name: "a"), appending: Array(entries[0..<2]), recording: [], at: Self.t0)
            try await store.save(PersistedMapState(name: "b"), appending: [Self.entry(.invalid, "7.0.0")], recording: [], at: Self.t0)
            try await store.save(PersistedMapState(name: "a"), appending: [entries[2]], recording: [], at: Self.t0)
            #expect(try await store.history(name: "a", limit: nil) == entries)
            #expect(try await store.history(name: "a", limit: 2) == Array(entries[1...]))
            #expect(try await store.history(name: "a", limit: 0) == [])
            #expect(try await store.history(name: "b", limit: nil).map(\.action) == [.invalid])
        }
    }

    @Test("deleteMap forgets state, quarantines, history and documents of that map only", arguments: StateStoreKind.available)
    func deleteMap(kind: StateStoreKind) async throws {
        try await kind.withStore { store in
            try await store.save(
                Self.fullState, appending: [Self.entry(.apply, "1.3.2")], recording: [Self.document("user_cache", "1.3.2")], at: Self.t0)
            try await store.save(
                PersistedMapState(name: "other"), appending: [Self.entry(.apply, "1.0.0")], recording: [Self.document("other", "1.0.0")],
                at: Self.t0)
            #expect(try await store.deleteMap(name: "user_cache"))
            #expect(try await !store.deleteMap(name: "user_cache"))
            #expect(try await store.mapState(name: "user_cache") == nil)
            #expect(try await store.history(name: "user_cache", limit: nil).isEmpty)
            #expect(try await store.documents(name: "user_cache").isEmpty)
            #expect(try await store.mapStates().map(\.name) == ["other"])
            #expect(try await store.history(name: "other", limit: nil).count == 1)
            #expect(try await store.documents(name: "other").count == 1)
            // The map can come back, quarantines empty.
            try await store.save(PersistedMapState(name: "user_cache"), appending: [], recording: [], at: Self.t0)
            #expect(try await store.mapState(name: "user_cache")?.quarantined == [])
        }
    }
}
