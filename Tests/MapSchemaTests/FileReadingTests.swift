import Foundation
import MapSchema
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Reading schema files never blocks, whatever sits at the path when it is opened.
@Suite("Schema files are read without blocking")
struct FileReadingTests {
    /// Runs `body` on its own thread and waits at most `backstop` for it: a read that blocks
    /// fails the test instead of hanging the run.
    private static func finishes<T: Sendable>(within backstop: TimeInterval = 30, _ body: @escaping @Sendable () -> T) -> T? {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Thread.detachNewThread {
            box.value = body()
            done.signal()
        }
        guard done.wait(timeout: .now() + backstop) == .success else { return nil }
        return box.value
    }

    private static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "mapctl-fifo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Opens a FIFO for writing and closes it, which releases a reader blocked in `open` or `read`.
    private static func release(_ fifo: String) {
        let descriptor = open(fifo, O_WRONLY | O_NONBLOCK)
        if descriptor >= 0 { close(descriptor) }
    }

    @Test("A FIFO named as a schema file is refused as not a regular file, at once")
    func fifoNamedExplicitly() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fifo = directory + "/x.yaml"
        #expect(mkfifo(fifo, 0o600) == 0)
        let set = Self.finishes { SchemaLoader.load(paths: [fifo]) }
        if set == nil { Self.release(fifo) }
        let diagnostics = try #require(set, "loading a FIFO blocked").diagnostics
        #expect(diagnostics.map(\.message) == ["cannot read file: not a regular file (a FIFO); schema files must be regular files"])
    }

    @Test("A FIFO renamed over a schema file while the directory is read never blocks the read")
    func fifoRenamedOverFile() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let target = directory + "/x.yaml"
        let schema = baseSchema
        try schema.write(toFile: target, atomically: false, encoding: .utf8)
        let stop = StopFlag()
        let swapper = Thread {
            var round = 0
            while !stop.isSet {
                round += 1
                let staged = directory + "/.staged-\(round % 2)"
                if round % 2 == 0 {
                    _ = mkfifo(staged, 0o600)
                } else {
                    try? schema.write(toFile: staged, atomically: false, encoding: .utf8)
                }
                _ = rename(staged, target)
                // Now and then a whole file stays a while, so that some reads find it from the scan to the
                // read however the threads are scheduled; the swaps around it still race every read.
                if round % 64 == 1 { usleep(5_000) }
            }
        }
        swapper.start()
        defer {
            stop.set()
            Self.release(target)
        }
        let outcome = Self.finishes {
            var readAsSchema = 0
            var refused = 0
            var loads = 0
            // At least 3,000 reads, and on until one of them read the schema (up to 20 s). Without the swapper's
            // pauses fewer than one read in a hundred found a regular file from the scan to the read (10-31 in
            // 3,000 alone), and none did in 3,000 beside the whole suite. A FIFO met by the directory scan is
            // skipped without a word; one met after the scan is refused.
            let deadline = ContinuousClock.now + .seconds(20)
            while loads < 3000 || (readAsSchema == 0 && ContinuousClock.now < deadline) {
                loads += 1
                let set = SchemaLoader.load(paths: [directory])
                readAsSchema += set.documents.count
                refused += set.diagnostics.filter { $0.message.contains("not a regular file") }.count
            }
            return (readAsSchema, refused, loads)
        }
        let (readAsSchema, refused, loads) = try #require(outcome, "a directory read blocked on a FIFO")
        print("FIFO swapped over a schema file: \(loads) reads, \(readAsSchema) read the schema, \(refused) refused it")
        #expect(readAsSchema > 0, "\(loads) reads: none read the schema; \(refused) refused it as not a regular file")
    }
}

/// One value handed from a worker thread to the waiting test; the semaphore orders the accesses.
private final class ResultBox<T>: @unchecked Sendable {
    // Safe: written once by the worker before it signals, read only after the wait succeeds.
    var value: T?
}

private final class StopFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}
