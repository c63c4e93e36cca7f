import Foundation
import MapController
import MapSchema
import Testing

/// A fresh state directory under the temporary directory, removed by `remove()`.
struct StateStoreTemporaryDirectory {
    let path: String

    init() {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("mapctl-state-\(UUID().uuidString)").path
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

@Suite("State store")
struct StateStoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_750_000_000.123_456)

    static func v(_ text: String) -> SemanticVersion {
        // Test fixtures are literal versions.
        try! SemanticVersion(parsing: text)
    }

    static func document(_ name: String, _ version: String, sha: String = "aa", at: Date = t0) -> AppliedDocument {
        AppliedDocument(
            name: name, version: v(version), contentSHA256: sha,
            yaml: "name: \(name)\nversion: \(version)\n", source: "schemas/\(name).yaml@abc123", appliedAt: at
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
            .init(version: v("1.4.0"), contentSHA256: "cc", reason: "3 consecutive failed checks: error rate 0.42 > 0.01", at: t0),
            .init(version: v("1.2.0"), contentSHA256: "dd", reason: "manual", at: t0.addingTimeInterval(-60)),
        ],
        invalid: .init(
            diagnostics: [Diagnostic(file: "schemas/user_cache.yaml", line: 7, column: 12, message: "unknown strategy 'shardd'")],
            source: "schemas/user_cache.yaml",
            at: t0
        ),
        reason: "rolled back"
    )

    @Test("A map's state round-trips field for field, dates exactly")
    func stateRoundTrips() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(directory: dir.path)
        try store.save(Self.fullState, at: Self.t0)
        var expected = Self.fullState
        expected.updatedAt = Self.t0
        #expect(try store.mapStates() == [expected])
        #expect(try store.mapState(name: "user_cache") == expected)
        #expect(try store.mapState(name: "missing") == nil)

        var minimal = PersistedMapState(name: "bare")
        try store.save(minimal, at: Self.t0)
        minimal.updatedAt = Self.t0
        #expect(try store.mapStates().map(\.name) == ["bare", "user_cache"])
        #expect(try store.mapState(name: "bare") == minimal)
    }

    @Test("Saving again replaces the state, quarantines included")
    func saveReplaces() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(directory: dir.path)
        try store.save(Self.fullState)
        var cleared = Self.fullState
        cleared.standby = nil
        cleared.windowEndsAt = nil
        cleared.quarantined = []
        cleared.invalid = nil
        try store.save(cleared, at: Self.t0)
        cleared.updatedAt = Self.t0
        #expect(try store.mapState(name: "user_cache") == cleared)
    }

    @Test("Documents round-trip; the same version with the same content is recorded once")
    func documentsRoundTrip() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(directory: dir.path)
        try store.record(Self.document("user_cache", "1.0.0", sha: "a1"))
        try store.record(Self.document("user_cache", "v1.1.0", sha: "a2"))
        try store.record(Self.document("user_cache", "1.0.0", sha: "a1"))
        try store.record(Self.document("other", "1.0.0", sha: "o1"))
        #expect(try store.document(name: "user_cache", version: Self.v("1.1.0"))?.contentSHA256 == "a2")
        #expect(try store.document(name: "user_cache", version: Self.v("2.0.0")) == nil)
        let documents = try store.documents(name: "user_cache")
        #expect(documents.map(\.version.description) == ["1.0.0", "1.1.0"])
        #expect(documents.first == Self.document("user_cache", "1.0.0", sha: "a1"))
    }

    @Test("The same version with other content is refused: bump the version")
    func documentConflict() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(directory: dir.path)
        try store.record(Self.document("user_cache", "1.0.0", sha: "a1"))
        let error = #expect(throws: StateStoreError.self) {
            try store.record(Self.document("user_cache", "1.0.0", sha: "a2"))
        }
        #expect(error?.code == .documentConflict)
        #expect(error?.message.contains("bump the version") == true)
    }

    @Test("History comes back newest last, per map, across saves")
    func historyOrdering() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(directory: dir.path)
        let entries = (0..<5).map { i in
            HistoryEntry(
                time: Self.t0.addingTimeInterval(Double(i)), action: i == 0 ? .apply : .promote, version: "1.0.\(i)",
                fromVersion: i == 0 ? nil : "1.0.\(i - 1)", source: "schemas/a.yaml", contentSHA256: "s\(i)", reason: "r\(i)"
            )
        }
        try store.save(PersistedMapState(name: "a"), appending: Array(entries[0..<2]))
        try store.save(PersistedMapState(name: "b"), appending: [HistoryEntry(time: Self.t0, action: .apply, version: "9.0.0")])
        try store.save(PersistedMapState(name: "a"), appending: Array(entries[2...]))
        #expect(try store.history(name: "a") == entries)
        #expect(try store.history(name: "a", limit: 2) == Array(entries[3...]))
        #expect(try store.history(name: "b").map(\.version) == ["9.0.0"])
        #expect(try store.history(name: "none").isEmpty)
    }

    @Test("A failing write inside a save leaves nothing: not the state, not the history, not the other documents")
    func saveIsOneTransaction() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(directory: dir.path)
        let before = PersistedMapState(name: "a", liveVersion: Self.v("1.0.0"), reason: "before")
        try store.save(
            before, appending: [HistoryEntry(time: Self.t0, action: .apply, version: "1.0.0")],
            recording: [Self.document("a", "1.0.0", sha: "x")], at: Self.t0)

        var after = before
        after.liveVersion = Self.v("1.1.0")
        after.reason = "after"
        #expect(throws: StateStoreError.self) {
            try store.save(
                after,
                appending: [HistoryEntry(time: Self.t0, action: .apply, version: "1.1.0")],
                // The first document is new and fine; the second conflicts and fails the whole save.
                recording: [Self.document("a", "1.1.0", sha: "y"), Self.document("a", "1.0.0", sha: "not-x")],
                at: Self.t0.addingTimeInterval(1)
            )
        }
        var expected = before
        expected.updatedAt = Self.t0
        #expect(try store.mapState(name: "a") == expected)
        #expect(try store.history(name: "a").map(\.version) == ["1.0.0"])
        #expect(try store.documents(name: "a").map(\.version.description) == ["1.0.0"])
    }

    @Test("Deleting a map removes its state, quarantines, history and documents, and nothing else")
    func deleteMap() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(directory: dir.path)
        try store.save(
            Self.fullState, appending: [HistoryEntry(time: Self.t0, action: .apply, version: "1.3.2")],
            recording: [Self.document("user_cache", "1.3.2")])
        try store.save(PersistedMapState(name: "keep"), appending: [HistoryEntry(time: Self.t0, action: .apply, version: "1.0.0")])
        #expect(try store.deleteMap(name: "user_cache"))
        #expect(try !store.deleteMap(name: "user_cache"))
        #expect(try store.mapStates().map(\.name) == ["keep"])
        #expect(try store.history(name: "user_cache").isEmpty)
        #expect(try store.documents(name: "user_cache").isEmpty)
        #expect(try store.history(name: "keep").count == 1)
        // A map saved again under the same name starts with no stale quarantines.
        try store.save(PersistedMapState(name: "user_cache"))
        #expect(try store.mapState(name: "user_cache")?.quarantined == [])
    }

    @Test("Everything is there after close and reopen")
    func reopen() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        do {
            let store = try StateStore(directory: dir.path)
            try store.save(
                Self.fullState, appending: [HistoryEntry(time: Self.t0, action: .rollback, version: "1.3.2", reason: "x")],
                recording: [Self.document("user_cache", "1.3.2")], at: Self.t0)
            try store.setMetaValue("42", forKey: "answer")
            try store.close()
            #expect(throws: StateStoreError.self) { try store.mapStates() }
        }
        let reopened = try StateStore(directory: dir.path)
        var expected = Self.fullState
        expected.updatedAt = Self.t0
        #expect(try reopened.mapStates() == [expected])
        #expect(try reopened.history(name: "user_cache").map(\.action) == [.rollback])
        #expect(try reopened.documents(name: "user_cache").count == 1)
        #expect(try reopened.metaValue(forKey: "answer") == "42")
        try reopened.setMetaValue(nil, forKey: "answer")
        #expect(try reopened.metaValue(forKey: "answer") == nil)
        #expect(try reopened.integrityCheck() == "ok")
    }

    @Test("Run markers: first run, clean end, unclean end with the maps that were in their window")
    func runMarkers() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(directory: dir.path)

        let first = try store.beginRun(at: Self.t0)
        #expect(first.previousRunStartedAt == nil)
        #expect(first.previousRunEndedCleanly)
        #expect(first.crashedVersions.isEmpty)
        try store.save(Self.fullState)  // in its window: 1.3.2 until t0 + 900 s
        try store.save(PersistedMapState(name: "stable", liveVersion: Self.v("2.0.0")))
        try store.endRunCleanly(at: Self.t0.addingTimeInterval(10))

        let second = try store.beginRun(at: Self.t0.addingTimeInterval(20))
        #expect(second.previousRunStartedAt == Self.t0)
        #expect(second.previousRunEndedCleanly)
        #expect(second.mapsInWindow.map(\.name) == ["user_cache"])
        #expect(second.crashedVersions.isEmpty)
        #expect(second.runID > first.runID)
        // No clean end: the process "crashes".

        let third = try store.beginRun(at: Self.t0.addingTimeInterval(30))
        #expect(!third.previousRunEndedCleanly)
        #expect(
            third.crashedVersions
                == [RunRecord.WindowedMap(name: "user_cache", version: Self.v("1.3.2"), windowEndsAt: Self.t0.addingTimeInterval(900))]
        )
    }

    @Test("A file that is not a SQLite database gives a clear error, not a crash")
    func corruptFile() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: dir.path).appendingPathComponent("state.sqlite"))
        let error = #expect(throws: StateStoreError.self) { try StateStore(directory: dir.path) }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("state.sqlite") == true)
        #expect(error?.message.contains("not a valid SQLite database") == true)
    }

    @Test("A state directory that cannot be created gives a clear error")
    func unopenableDirectory() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        try Data("a file".utf8).write(to: URL(fileURLWithPath: dir.path))
        let error = #expect(throws: StateStoreError.self) { try StateStore(directory: dir.path + "/state") }
        #expect(error?.code == .cannotOpen)
    }

    @Test("The state directory is created with mode 0700")
    func directoryMode() throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        _ = try StateStore(directory: dir.path)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
    }

    @Test("Readers on other threads see whole saves while a writer saves")
    func concurrentReadersSeeWholeSaves() async throws {
        let dir = StateStoreTemporaryDirectory()
        defer { dir.remove() }
        let store = try StateStore(directory: dir.path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for n in 1...200 {
                    try store.save(
                        PersistedMapState(name: "m", liveVersion: Self.v("1.0.\(n)"), reason: "\(n)"),
                        appending: [HistoryEntry(time: Self.t0, action: .apply, version: "1.0.\(n)")]
                    )
                }
            }
            for _ in 0..<3 {
                group.addTask {
                    for _ in 0..<200 {
                        // One read transaction would be stricter; two reads may straddle a save, so
                        // the history may only be ahead of the state it was read after.
                        let state = try store.mapState(name: "m")
                        let history = try store.history(name: "m")
                        let n = Int(state?.reason ?? "0") ?? -1
                        #expect(history.count >= n)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try store.history(name: "m").count == 200)
    }
}
