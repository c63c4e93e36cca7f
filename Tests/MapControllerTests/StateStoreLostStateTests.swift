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

    @Test(arguments: ["deleted", "truncated", "a SQLite database without tables"])
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
        case "a SQLite database without tables":
            #expect(FileManager.default.createFile(atPath: database, contents: Self.emptySQLiteDatabase))
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

    /// A valid SQLite database of one page with an empty schema, as `sqlite3` makes of a new file.
    static var emptySQLiteDatabase: Data {
        var page = [UInt8](repeating: 0, count: 4096)
        func put(_ offset: Int, _ bytes: [UInt8]) { page.replaceSubrange(offset..<offset + bytes.count, with: bytes) }
        func put32(_ offset: Int, _ value: UInt32) { put(offset, withUnsafeBytes(of: value.bigEndian, Array.init)) }
        put(0, Array("SQLite format 3\0".utf8))
        put(16, [0x10, 0x00, 1, 1, 0, 64, 32, 32])  // page size 4096, legacy journal, payload fractions
        put32(24, 1)  // change counter
        put32(28, 1)  // pages
        put32(44, 4)  // schema format
        put32(56, 1)  // UTF-8
        put32(92, 1)  // version-valid-for = change counter
        put32(96, 3_040_001)
        put(100, [0x0D, 0, 0, 0, 0, 0x10, 0x00, 0])  // page 1: an empty leaf table b-tree (sqlite_schema)
        return Data(page)
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

    @Test func aTokenMadeBeforeTheFirstRunIsNotTakenForLostState() throws {
        // An embedding service opens the store, makes its token, and may stop before the controller starts.
        let directory = StateStoreTemporaryDirectory()
        defer { directory.remove() }
        try StateStore(directory: directory.path).close()
        try "0123\n".write(toFile: directory.path + "/token", atomically: false, encoding: .utf8)
        let reopened = try StateStore(directory: directory.path)
        #expect(try reopened.beginRun().previousRunStartedAt == nil)
        try reopened.close()
    }
}
