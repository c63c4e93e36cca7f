import Foundation
import TestServers
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A change whose state write fails is never acknowledged: the file size limit of the daemon is set to
/// zero (`prlimit`, what a full disk looks like to SQLite: every write fails), and the apply must answer
/// 503 with the reason, leave live untouched, and not be applied later behind the client's back.
@Suite("mapctl watch: a failed state write is never acknowledged", .serialized, .heavy)
struct StateWriteFailureTests {
    @Test func anApplyWhoseStateWriteFailsAnswers503AndLeavesLiveUntouched() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let v1 = try session.layout.writeWorkFile("orders-v1.yaml", Fixture.schema("orders", version: "1.0.0"))
        let v2 = try session.layout.writeWorkFile("orders-v2.yaml", Fixture.schema("orders", version: "1.1.0", extra: "description: next"))
        let carts = try session.layout.writeWorkFile("carts.yaml", Fixture.schema("carts", version: "1.0.0"))
        #expect(try await session.mapctl(["apply", "-f", v1]).exitCode == 0)
        #expect(try await session.mapctl(["put", "orders", "o1", "42"]).exitCode == 0)

        let pid = session.daemon.process.processIdentifier
        var original = rlimit()
        #expect(FileSizeLimit.get(pid, &original) == 0)
        var full = original
        full.rlim_cur = 0
        #expect(FileSizeLimit.set(pid, full) == 0, "errno \(errno)")

        // An update and a create: 503, the reason, and the CLI exits 1.
        let update = try await session.mapctl(["apply", "-f", v2])
        #expect(update.exitCode == 1, "\(update)")
        #expect(update.stderr.contains("state could not be written"), "\(update)")
        #expect(!update.stdout.contains("updated"), "\(update)")
        let token = try session.layout.token()
        let port = try #require(URL(string: session.daemon.url)?.port)
        let body = Fixture.schema("carts", version: "1.0.0")
        let raw = String(
            decoding: try await RawSocket.exchange(
                port: port,
                send: Array(
                    ("POST /v1/apply HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Length: \(body.utf8.count)\r\n"
                        + "Connection: close\r\n\r\n\(body)").utf8)
            ), as: UTF8.self)
        #expect(raw.hasPrefix("HTTP/1.1 503"), "\(raw)")
        #expect(raw.contains(#""code":"state_write_failed""#), "\(raw)")
        #expect(raw.contains(#""state_error":"#), "\(raw)")

        // Live is untouched and nothing was created.
        let status = try await session.status("orders")
        #expect(status["live_version"] as? String == "1.0.0")
        #expect(status["desired_version"] as? String == "1.0.0")
        #expect(try await session.mapctl(["get", "orders", "o1"]).stdout == "42\n")
        #expect(try await session.mapctl(["status", "carts"]).exitCode == 1, "a create that was not saved does not exist")

        // The disk has room again: what was refused stays refused (not retried behind the client's back) ...
        #expect(FileSizeLimit.set(pid, original) == 0)
        #expect(try await session.daemon.stop().exitCode == 0)
        let restarted = try await Session.start(layout: session.layout)
        let after = try await restarted.status("orders")
        #expect(after["live_version"] as? String == "1.0.0")
        #expect(try await restarted.mapctl(["status", "carts"]).exitCode == 1)
        // ... and applying again works.
        #expect(try await restarted.mapctl(["apply", "-f", v2]).exitCode == 0)
        #expect(try await restarted.mapctl(["apply", "-f", carts]).exitCode == 0)
        #expect(try await restarted.status("orders")["live_version"] as? String == "1.1.0")
        #expect(try await restarted.daemon.stop().exitCode == 0)
    }
}

/// `prlimit(2)` on RLIMIT_FSIZE of another process. Glibc declares `prlimit` only under `_GNU_SOURCE`,
/// which Swift's Glibc module does not define, so the function is looked up by name.
enum FileSizeLimit {
    private typealias PrlimitFunction = @convention(c) (pid_t, Int32, UnsafePointer<rlimit>?, UnsafeMutablePointer<rlimit>?) -> Int32

    private static let prlimit: PrlimitFunction? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prlimit") else { return nil }
        return unsafeBitCast(symbol, to: PrlimitFunction.self)
    }()

    static func get(_ pid: pid_t, _ limit: inout rlimit) -> Int32 {
        prlimit?(pid, Int32(RLIMIT_FSIZE.rawValue), nil, &limit) ?? -1
    }

    static func set(_ pid: pid_t, _ limit: rlimit) -> Int32 {
        var limit = limit
        return prlimit?(pid, Int32(RLIMIT_FSIZE.rawValue), &limit, nil) ?? -1
    }
}
