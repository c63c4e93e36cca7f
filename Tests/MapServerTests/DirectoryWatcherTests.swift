import Foundation
import Logging
import MapSchema
import ServiceLifecycle
import Testing

@testable import MapServer

#if canImport(Glibc)
    import Glibc
#endif

/// Records the reconciles a watcher asks for, and what each one could see in the directory.
///
/// The tests wait on these records (a count, a sum of events, a file's content at reconcile
/// time), never on elapsed time: how fast the watcher reacts is measured by the watch-latency
/// benchmark, where a loaded machine makes a number worse instead of a test red.
actor ReconcileLog {
    /// How long a wait goes on before the test fails: a backstop against a watcher that never
    /// reacts, far beyond any latency a loaded machine shows.
    static let backstop: Duration = .seconds(60)

    private(set) var triggers: [DirectoryWatcher.Trigger] = []
    private(set) var times: [ContinuousClock.Instant] = []
    /// For each reconcile, the schema files of the directory (path relative to it → text) as the
    /// reconcile found them.
    private(set) var views: [[String: String]] = []
    private let directory: String?
    /// Non-nil while reconciles are held: each one waits here until ``releaseReconciles()``.
    private var held: [CheckedContinuation<Void, Never>]?

    init(directory: String? = nil) {
        self.directory = directory
    }

    func record(_ trigger: DirectoryWatcher.Trigger) async {
        triggers.append(trigger)
        times.append(.now)
        views.append(directory.map(Self.schemaFiles(in:)) ?? [:])
        if held != nil {
            await withCheckedContinuation { held?.append($0) }
        }
    }

    var count: Int { triggers.count }

    /// The file events reported so far, summed over every reconcile.
    var eventCount: Int {
        triggers.reduce(0) { sum, trigger in
            if case .changes(let count) = trigger { return sum + count }
            return sum
        }
    }

    /// From now on a reconcile blocks (as a slow reconcile would) until ``releaseReconciles()``.
    func holdReconciles() {
        if held == nil { held = [] }
    }

    func releaseReconciles() {
        let waiting = held ?? []
        held = nil
        for continuation in waiting { continuation.resume() }
    }

    /// True once a reconcile is blocked by ``holdReconciles()``.
    var isHoldingAReconcile: Bool { !(held ?? []).isEmpty }

    /// Waits until `condition` holds, or the backstop passed; returns whether it held.
    @discardableResult
    func wait(until condition: @Sendable (isolated ReconcileLog) -> Bool, timeout: Duration = ReconcileLog.backstop) async -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while !condition(self) {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// Waits until at least `count` reconciles happened.
    @discardableResult
    func wait(forCount count: Int) async -> Bool {
        await wait { $0.triggers.count >= count }
    }

    /// Waits until a reconcile saw the directory's `file` with `text` in it (nil: without `file`).
    @discardableResult
    func wait(forAReconcileSeeing file: String, containing text: String?) async -> Bool {
        await wait { log in
            log.views.contains { view in text.map { view[file]?.contains($0) == true } ?? (view[file] == nil) }
        }
    }

    private static func schemaFiles(in directory: String) -> [String: String] {
        var files: [String: String] = [:]
        for path in (try? SchemaLoader.schemaFiles(in: directory)) ?? [] where path.hasPrefix(directory + "/") {
            files[String(path.dropFirst(directory.count + 1))] = try? String(contentsOfFile: path, encoding: .utf8)
        }
        return files
    }
}

/// Runs a watcher on `directory` for the duration of `body`; `body` starts once the first
/// reconcile (watches in place) happened.
func withWatcher(
    directory: String,
    pollInterval: Duration? = nil,
    _ body: @Sendable (ReconcileLog) async throws -> Void
) async throws {
    let log = ReconcileLog(directory: directory)
    let watcher = DirectoryWatcher(
        configuration: DirectoryWatcher.Configuration(directory: directory, pollInterval: pollInterval, resyncInterval: nil),
        logger: testLogger("watcher")
    ) { trigger in
        await log.record(trigger)
    }
    let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [watcher], logger: testLogger()))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let started = await log.wait(forCount: 1)
        #expect(started, "the watcher never made its first reconcile")
        #expect(await log.triggers.first == .start)
        do {
            try await body(log)
        } catch {
            await log.releaseReconciles()
            await group.triggerGracefulShutdown()
            throw error
        }
        await log.releaseReconciles()
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: false, encoding: .utf8)
}

let schemaText = "name: users\nversion: 1.0.0\nkey_type: string\nvalue_type: string\n"

/// The watcher on real directories. With inotify each relevant file operation (a write closed,
/// a rename in, an unlink, a new directory) is one event, so the events a reconcile reports are
/// exact: a test that writes ignored files and then one schema file checks that the reconciles
/// report one event in all, without sleeping for "long enough" first.
@Suite(.serialized) struct DirectoryWatcherTests {
    @Test func aNewFileIsReconciled() async throws {
        let directory = try TemporaryDirectory()
        try await withWatcher(directory: directory.path) { log in
            try write(schemaText, to: directory.path + "/users.yaml")
            #expect(await log.wait(forCount: 2))
            #expect(await log.triggers == [.start, .changes(1)])
            #expect(await log.views.last?["users.yaml"] == schemaText)
        }
    }

    @Test func anEditorSaveByRenameOverIsSeen() async throws {
        let directory = try TemporaryDirectory()
        try write(schemaText, to: directory.path + "/users.yaml")
        try await withWatcher(directory: directory.path) { log in
            try write(schemaText + "description: edited\n", to: directory.path + "/users.yaml.tmp-1234")
            #expect(rename(directory.path + "/users.yaml.tmp-1234", directory.path + "/users.yaml") == 0)
            #expect(await log.wait(forAReconcileSeeing: "users.yaml", containing: "edited"))
        }
    }

    @Test func changedAndDeletedFilesAreSeen() async throws {
        let directory = try TemporaryDirectory()
        try write(schemaText, to: directory.path + "/users.yaml")
        try await withWatcher(directory: directory.path) { log in
            try write(schemaText + "description: changed\n", to: directory.path + "/users.yaml")
            #expect(await log.wait(forAReconcileSeeing: "users.yaml", containing: "changed"))
            #expect(unlink(directory.path + "/users.yaml") == 0)
            #expect(await log.wait(forAReconcileSeeing: "users.yaml", containing: nil))
            #expect(await log.eventCount == 2, "one event for the write, one for the unlink")
        }
    }

    @Test func writesDuringAReconcileAreCoalescedIntoOneMore() async throws {
        // A burst of 100 writes while a reconcile runs gives one more reconcile, not 100. (The
        // debouncer's timing, quiet period and longest delay, is tested on its own with given
        // instants in DebouncerTests.)
        let directory = try TemporaryDirectory()
        try await withWatcher(directory: directory.path) { log in
            await log.holdReconciles()
            try write(schemaText, to: directory.path + "/first.yaml")
            #expect(await log.wait { $0.isHoldingAReconcile }, "the reconcile for first.yaml never started")
            for index in 0..<100 {
                try write(
                    schemaText.replacingOccurrences(of: "users", with: "map_\(index % 10)"), to: directory.path + "/map_\(index % 10).yaml")
            }
            await log.releaseReconciles()
            #expect(await log.wait { $0.eventCount >= 101 }, "every write is reported")
            let triggers = await log.triggers
            let reconciles = triggers.count - 1
            // Each reconcile takes every event that arrived before it started; the inotify thread
            // may hand a few over late, each batch one more reconcile.
            #expect(reconciles >= 2 && reconciles <= 10, "\(reconciles) reconciles for 101 writes: \(triggers)")
            #expect(await log.views.last?.count == 11)
        }
    }

    /// inotify watches an inode: a directory deleted or moved away and made again at the same path
    /// is a new inode, which the watcher must find and watch, or changes wait for the resync
    /// (off in these tests, so a lost watch never sees the file).
    @Test(arguments: [false, true]) func aDirectoryDeletedOrMovedAndMadeAgainIsWatchedAgain(movedAway: Bool) async throws {
        let parent = try TemporaryDirectory()
        let path = parent.path + "/schemas"
        #expect(mkdir(path, 0o755) == 0)
        try write(schemaText, to: path + "/users.yaml")
        try await withWatcher(directory: path) { log in
            for round in 1...3 {
                if movedAway {
                    #expect(rename(path, parent.path + "/old-\(round)") == 0)
                } else {
                    try FileManager.default.removeItem(atPath: path)
                }
                #expect(await log.wait(forAReconcileSeeing: "users.yaml", containing: nil), "round \(round): the loss is reconciled")
                #expect(mkdir(path, 0o755) == 0)
                try write(schemaText + "description: round \(round)\n", to: path + "/users.yaml")
                #expect(
                    await log.wait(forAReconcileSeeing: "users.yaml", containing: "round \(round)"),
                    "round \(round): the new directory is watched")
            }
        }
    }

    @Test func editorTemporaryFilesDotfilesAndOtherFilesAreIgnored() async throws {
        let directory = try TemporaryDirectory()
        try await withWatcher(directory: directory.path) { log in
            try write("swap", to: directory.path + "/.users.yaml.swp")
            try write("backup", to: directory.path + "/users.yaml~")
            try write("", to: directory.path + "/4913")
            try write("notes", to: directory.path + "/README.md")
            try write("x", to: directory.path + "/#users.yaml#")
            unlink(directory.path + "/4913")
            // Then one real change: inotify reports events in order, so had any of the files above
            // counted, it would be in this reconcile's events or in one before it.
            try write(schemaText, to: directory.path + "/users.yaml")
            #expect(await log.wait(forAReconcileSeeing: "users.yaml", containing: "users"))
            #expect(await log.triggers == [.start, .changes(1)])
        }
    }

    @Test func filesInANewSubdirectoryAreSeen() async throws {
        let directory = try TemporaryDirectory()
        try await withWatcher(directory: directory.path) { log in
            #expect(mkdir(directory.path + "/team", 0o755) == 0)
            #expect(await log.wait { $0.eventCount >= 1 })
            try write(schemaText, to: directory.path + "/team/users.yaml")
            #expect(await log.wait(forAReconcileSeeing: "team/users.yaml", containing: "users"))
            #expect(await log.eventCount == 2, "one event for the directory, one for the file in it")
        }
    }

    @Test func aConfigMapDataSwapIsSeen() async throws {
        let directory = try TemporaryDirectory()
        let root = directory.path
        // The kubelet's layout: files are symlinks through `..data` to a timestamped directory.
        #expect(mkdir(root + "/..2024_01_01_00_00_00.1", 0o755) == 0)
        try write(schemaText, to: root + "/..2024_01_01_00_00_00.1/users.yaml")
        #expect(symlink("..2024_01_01_00_00_00.1", root + "/..data") == 0)
        #expect(symlink("..data/users.yaml", root + "/users.yaml") == 0)
        try await withWatcher(directory: root) { log in
            // An update: a new timestamped directory, `..data_tmp` pointing at it, renamed over `..data`.
            #expect(mkdir(root + "/..2024_01_01_00_01_00.2", 0o755) == 0)
            try write(schemaText.replacingOccurrences(of: "1.0.0", with: "1.1.0"), to: root + "/..2024_01_01_00_01_00.2/users.yaml")
            #expect(symlink("..2024_01_01_00_01_00.2", root + "/..data_tmp") == 0)
            #expect(rename(root + "/..data_tmp", root + "/..data") == 0)
            #expect(await log.wait(forAReconcileSeeing: "users.yaml", containing: "1.1.0"))
            // Only the swap counted: the writes inside the hidden timestamped directory did not.
            #expect(await log.triggers == [.start, .changes(1)])
            try FileManager.default.removeItem(atPath: root + "/..2024_01_01_00_00_00.1")
        }
    }

    @Test func aCancelledWatcherStops() async throws {
        let directory = try TemporaryDirectory()
        let log = ReconcileLog()
        // Nothing would wake the watcher for an hour but the cancellation.
        let watcher = DirectoryWatcher(
            configuration: DirectoryWatcher.Configuration(directory: directory.path, resyncInterval: .seconds(3600)),
            logger: testLogger("watcher")
        ) { trigger in
            await log.record(trigger)
        }
        for round in 1...20 {
            let task = Task { try await watcher.run() }
            #expect(await log.wait(forCount: round))
            let cancelled = ContinuousClock.now
            task.cancel()
            try await task.value
            // A backstop, not a speed check: a watcher that missed the cancellation would sleep
            // for the hour.
            #expect(ContinuousClock.now - cancelled < ReconcileLog.backstop)
        }
    }

    @Test func pollingSeesCreatedChangedAndDeletedFiles() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/users.yaml"
        // Every change is a complete file renamed into place, with the same size and mtime as the
        // one before: only the content hash tells, and no poll can see a half-written file, so each
        // change is exactly one reconcile.
        @Sendable func replace(version: String) throws {
            var times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 0), timespec(tv_sec: 1_700_000_000, tv_nsec: 0)]
            try write(schemaText.replacingOccurrences(of: "1.0.0", with: version), to: path + ".tmp")
            #expect(utimensat(AT_FDCWD, path + ".tmp", &times, 0) == 0)
            #expect(rename(path + ".tmp", path) == 0)
        }
        try replace(version: "1.0.0")
        try await withWatcher(directory: directory.path, pollInterval: .milliseconds(50)) { log in
            try replace(version: "2.0.0")
            #expect(await log.wait(forAReconcileSeeing: "users.yaml", containing: "2.0.0"))
            try replace(version: "3.0.0")
            #expect(await log.wait(forAReconcileSeeing: "users.yaml", containing: "3.0.0"))
            unlink(path)
            #expect(await log.wait(forAReconcileSeeing: "users.yaml", containing: nil))
            #expect(await log.triggers == [.start, .changes(1), .changes(1), .changes(1)])

            // A swap file, then a real change: had a poll counted the swap file, there would be a
            // reconcile more, or one that saw no users.yaml.
            try write("swap", to: directory.path + "/.users.yaml.swp")
            try replace(version: "4.0.0")
            #expect(await log.wait(forAReconcileSeeing: "users.yaml", containing: "4.0.0"))
            let triggers = await log.triggers
            #expect(triggers.count == 5, "a swap file is not a change when polling either: \(triggers)")
            #expect(await log.views.last?["users.yaml"] != nil)
        }
    }
}
