import Foundation
import MapController
import Testing

/// A state directory whose token shows earlier use but whose database is missing, empty or
/// without a run is refused: taking it as a first start would forget every version and history.
@Suite("State store: lost state is refused")
struct StateStoreLostStateTests {
    @Test func aFirstStartWithoutATokenIsAFirstStart() throws {
        let directory = StateStoreTemporaryDirectory()
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        #expect(try store.beginRun().previousRunStartedAt == nil)
        try store.close()
    }

    @Test(arguments: ["deleted", "truncated", "fresh database without runs"])
    func aUsedDirectoryWithoutItsDatabaseIsRefused(_ damage: String) throws {
        let directory = StateStoreTemporaryDirectory()
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        _ = try store.beginRun()
        try store.close()
        try "0123\n".write(toFile: directory.path + "/token", atomically: false, encoding: .utf8)
        let database = directory.path + "/state.sqlite"
        for file in [database, database + "-wal", database + "-shm"] { unlink(file) }
        switch damage {
        case "truncated":
            #expect(FileManager.default.createFile(atPath: database, contents: Data()))
        case "fresh database without runs":
            // What a start would have made of the missing file, had it not refused.
            try FileManager.default.moveItem(atPath: directory.path + "/token", toPath: directory.path + "/token.aside")
            try StateStore(directory: directory.path).close()
            try FileManager.default.moveItem(atPath: directory.path + "/token.aside", toPath: directory.path + "/token")
        default:
            break
        }

        let error = #expect(throws: StateStoreError.self) { try StateStore(directory: directory.path) }
        #expect(error?.code == .lostState)
        #expect(error?.message.contains("rm -r \(directory.path)") == true, "\(String(describing: error))")
        // Refusing twice is the same answer: the refusal itself did not create a database to accept next time.
        let again = #expect(throws: StateStoreError.self) { try StateStore(directory: directory.path) }
        #expect(again?.code == .lostState)

        // Starting afresh on purpose, as the message says: a first start.
        try FileManager.default.removeItem(atPath: directory.path)
        let fresh = try StateStore(directory: directory.path)
        #expect(try fresh.beginRun().previousRunStartedAt == nil)
        try fresh.close()
    }

    @Test func aUsedDirectoryWithItsDatabaseStarts() throws {
        let directory = StateStoreTemporaryDirectory()
        defer { directory.remove() }
        let store = try StateStore(directory: directory.path)
        let first = try store.beginRun()
        try store.close()
        try "0123\n".write(toFile: directory.path + "/token", atomically: false, encoding: .utf8)
        let reopened = try StateStore(directory: directory.path)
        #expect(try reopened.beginRun().previousRunStartedAt == first.startedAt)
        try reopened.close()
    }
}
