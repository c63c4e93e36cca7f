import Foundation
import TestServers
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon binary refuses what would lose or leak state, and answers only who it should.
@Suite("mapctl watch: state and access hardening", .serialized, .heavy)
struct DaemonHardeningTests {
    @Test("a second daemon on the same state directory refuses to start; the first one serves on")
    func secondDaemonOnOneState() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let second = try await session.cli.run(
            ["watch", session.layout.schemas.path, "--listen", "127.0.0.1:0", "--state", session.layout.state.path],
            environment: ["NO_COLOR": "1"], directory: session.layout.work, timeout: .seconds(60)
        )
        #expect(second.exitCode == 1, "\(second)")
        #expect(
            second.stderr.contains("another mapctl daemon (pid \(session.daemon.process.processIdentifier)) is using the state directory"),
            "\(second)")
        #expect(!second.stdout.contains("listening on"))
        #expect(try await session.mapctl(["status"]).exitCode == 0, "the first daemon still serves")

        // The lock goes with the process, however it ends: after SIGKILL a new daemon starts.
        _ = try await session.daemon.stop(signal: SIGKILL)
        let restarted = try await DaemonProcess.start(session.cli, layout: session.layout)
        let stopped = try await restarted.stop()
        #expect(stopped.exitCode == 0, "\(stopped)")
    }

    @Test("an empty state.sqlite beside a token refuses to start and says how to start afresh")
    func emptyStateWithToken() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let file = try session.layout.writeWorkFile("orders.yaml", Fixture.schema("orders", version: "1.0.0"))
        #expect(try await session.mapctl(["apply", "-f", file]).exitCode == 0)
        #expect(try await session.daemon.stop().exitCode == 0)

        let database = session.layout.state.appendingPathComponent("state.sqlite").path
        for suffix in ["-wal", "-shm"] { unlink(database + suffix) }
        #expect(truncate(database, 0) == 0)
        let refused = try await session.cli.run(
            ["watch", session.layout.schemas.path, "--listen", "127.0.0.1:0", "--state", session.layout.state.path],
            environment: ["NO_COLOR": "1"], directory: session.layout.work, timeout: .seconds(60)
        )
        #expect(refused.exitCode == 1, "\(refused)")
        #expect(refused.stderr.contains("is missing or empty"), "\(refused)")
        #expect(refused.stderr.contains("rm -r \(session.layout.state.path)"), "\(refused)")
        var info = stat()
        #expect(stat(database, &info) == 0 && info.st_size == 0, "the refusal leaves the file as it found it")

        // Afresh on purpose, as the message says.
        try FileManager.default.removeItem(at: session.layout.state)
        let fresh = try await DaemonProcess.start(session.cli, layout: session.layout)
        #expect(try await fresh.stop().exitCode == 0)
    }

    @Test("a symlink or a group-readable file at STATE/token stops the daemon with a clear message")
    func tokenFileRefusals() async throws {
        let cli = try CLIRunner()
        let layout = try DaemonProcess.Layout.make()
        defer { layout.remove() }
        // A first run makes the state and the token.
        let first = try await DaemonProcess.start(cli, layout: layout)
        #expect(try await first.stop().exitCode == 0)
        let tokenPath = layout.state.appendingPathComponent("token").path
        let target = layout.root.appendingPathComponent("elsewhere").path

        try FileManager.default.moveItem(atPath: tokenPath, toPath: target)
        chmod(target, 0o644)
        #expect(symlink(target, tokenPath) == 0)
        let linked = try await cli.run(
            ["watch", layout.schemas.path, "--listen", "127.0.0.1:0", "--state", layout.state.path],
            environment: ["NO_COLOR": "1"], directory: layout.work, timeout: .seconds(60)
        )
        #expect(linked.exitCode == 1, "\(linked)")
        #expect(linked.stderr.contains("symbolic link"), "\(linked)")
        var info = stat()
        #expect(stat(target, &info) == 0 && info.st_mode & 0o777 == 0o644, "the link's target is not chmod'ed")

        unlink(tokenPath)
        try FileManager.default.moveItem(atPath: target, toPath: tokenPath)
        let wide = try await cli.run(
            ["watch", layout.schemas.path, "--listen", "127.0.0.1:0", "--state", layout.state.path],
            environment: ["NO_COLOR": "1"], directory: layout.work, timeout: .seconds(60)
        )
        #expect(wide.exitCode == 1, "\(wide)")
        #expect(wide.stderr.contains("has mode 0644"), "\(wide)")
    }

    @Test("on loopback a foreign Host is refused with 403, unless given with --allowed-host; health answers any Host")
    func allowedHost() async throws {
        let session = try await Session.start(arguments: ["--allowed-host", "maps.internal"])
        defer { session.layout.remove() }
        let port = try #require(URL(string: session.daemon.url)?.port)
        let foreign = try await rawGET(port: port, path: "/v1/maps", host: "rebound.example:\(port)")
        #expect(foreign.hasPrefix("HTTP/1.1 403"), "\(foreign)")
        #expect(foreign.contains(#""code":"host_not_allowed""#), "\(foreign)")
        let allowed = try await rawGET(port: port, path: "/v1/maps", host: "maps.internal:\(port)")
        #expect(allowed.hasPrefix("HTTP/1.1 200"), "\(allowed)")
        let local = try await rawGET(port: port, path: "/v1/maps", host: "localhost:\(port)")
        #expect(local.hasPrefix("HTTP/1.1 200"), "\(local)")
        let probe = try await rawGET(port: port, path: "/healthz", host: "10.0.0.9:\(port)")
        #expect(probe.hasPrefix("HTTP/1.1 200"), "\(probe)")
        #expect(try await session.mapctl(["status"]).exitCode == 0, "the CLI sends a loopback Host")
        #expect(try await session.daemon.stop().exitCode == 0)

        let bad = try await session.cli.run(
            ["watch", session.layout.schemas.path, "--allowed-host", "a b/c"], directory: session.layout.work)
        #expect(bad.exitCode == 64, "\(bad)")
    }
}

/// One GET over a plain socket with the `Host` header given, read to the server's close.
func rawGET(port: Int, path: String, host: String) async throws -> String {
    let response = try await RawSocket.exchange(
        port: port, send: Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8))
    return String(decoding: response, as: UTF8.self)
}
