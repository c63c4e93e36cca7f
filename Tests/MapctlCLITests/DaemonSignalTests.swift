import Foundation
import TestServers
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Signals to the real daemon binary: SIGHUP resyncs, SIGUSR1, SIGUSR2 and SIGALRM are logged and
/// ignored (an unclean exit would count against the versions in their window), and SIGTERM ends
/// the daemon cleanly even while a request is stuck in flight.
@Suite("mapctl watch: signals", .serialized, .heavy)
struct DaemonSignalTests {
    @Test func strayedSignalsAreIgnoredAndSIGHUPResyncs() async throws {
        // Polling once an hour: only the SIGHUP can make the daemon see the new file in time.
        let session = try await Session.start(arguments: ["--poll", "1h"])
        defer { session.layout.remove() }
        for number in [SIGUSR1, SIGUSR2, SIGALRM, SIGHUP] {
            session.daemon.process.signal(number)
        }
        #expect(try await session.mapctl(["status"]).exitCode == 0, "the daemon is alive")
        try session.layout.writeSchema("flags.yaml", Fixture.schema("flags", version: "1.0.0"))
        // Sent again until it works: a signal that arrives before the daemon listens for it is ignored.
        var status: [String: Any] = [:]
        for _ in 0..<150 where status["live_version"] as? String != "1.0.0" {
            session.daemon.process.signal(SIGHUP)
            try await Task.sleep(for: .milliseconds(200))
            status = (try? await session.status("flags")) ?? [:]
        }
        #expect(status["live_version"] as? String == "1.0.0", "\(status)")
        #expect(status["phase"] as? String == "stable")
        let stopped = try await session.daemon.stop()
        #expect(stopped.exitCode == 0, "\(stopped)")
        for name in ["SIGUSR1", "SIGUSR2", "SIGALRM"] {
            #expect(stopped.stderr.contains("signal=\(name)"), "\(name) is logged: \(stopped.stderr)")
        }
        #expect(stopped.stderr.contains("SIGHUP: resyncing"))

        // The run ended cleanly: the next start counts no fault.
        let restarted = try await DaemonProcess.start(session.cli, layout: session.layout, arguments: ["--poll", "1h"])
        let second = try await restarted.stop()
        #expect(second.exitCode == 0)
        #expect(!second.stderr.contains("ended uncleanly"), "\(second.stderr)")
    }

    @Test func sigtermEndsTheDaemonCleanlyWhileARequestIsStuck() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let port = try #require(URL(string: session.daemon.url)?.port)
        // A request whose body never comes: the handler waits for it.
        let fd = try RawSocket.connect(port: port)
        defer { close(fd) }
        try RawSocket.sendAll(fd, Array("PUT /v1/maps/m/entries/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n12".utf8))
        try await Task.sleep(for: .milliseconds(300))
        let stopped = try await session.daemon.stop(signal: SIGTERM, timeout: .seconds(30))
        #expect(!stopped.timedOut, "SIGTERM must not wait for the stuck request")
        #expect(stopped.exitCode == 0, "\(stopped)")
        #expect(stopped.stderr.contains("shut down cleanly"), "\(stopped.stderr)")
    }
}
