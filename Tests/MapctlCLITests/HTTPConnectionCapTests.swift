import Foundation
import TestServers
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Idle connections cannot take the descriptors the rest of the daemon needs (issue 11, item 8).
@Suite("mapctl watch: HTTP connection cap", .serialized, .heavy)
struct HTTPConnectionCapTests {
    static let fileLimit = 256
    static let connections = 300

    @Test("past the cap new connections get 503 and are closed at once; the directory reconcile still opens its files")
    func capKeepsDescriptors() async throws {
        let cli = try CLIRunner()
        let layout = try DaemonProcess.Layout.make()
        defer { layout.remove() }
        let daemon = try await Self.startLimited(cli, layout: layout)
        let port = try #require(URL(string: daemon.url)?.port)

        // More idle connections than the daemon has descriptors.
        let sockets = try await onOwnThread {
            try (0..<Self.connections).map { _ in try RawSocket.connect(port: port, timeoutSeconds: 2) }
        }
        defer { for fd in sockets { close(fd) } }
        try await Task.sleep(for: .seconds(1))

        // Those over the cap were answered (503, or at least closed) within that second; the others wait.
        let answered = try await onOwnThread { Self.readable(sockets) }
        let refused = sockets.indices.filter { answered.contains($0) }
        #expect(refused.count >= Self.connections - Self.fileLimit / 2, "only \(refused.count) of \(Self.connections) were turned away")
        var with503 = 0
        for index in refused {
            let text = try await onOwnThread { String(decoding: RawSocket.readToEnd(sockets[index]), as: UTF8.self) }
            #expect(text.isEmpty || text.hasPrefix("HTTP/1.1 503"), "\(text)")
            if text.contains(#""code":"too_many_connections""#) { with503 += 1 }
        }
        #expect(with503 > 0, "a refused connection is told why")
        let open = Self.openDescriptors(of: daemon.process.processIdentifier)
        #expect(open > 0 && open < Self.fileLimit - 32, "the daemon holds \(open) of its \(Self.fileLimit) descriptors")

        // While the admitted connections stay open, a new schema file is reconciled: the watcher and the
        // reconcile can still open files.
        try layout.writeSchema("capped.yaml", Fixture.schema("capped", version: "1.0.0"))
        try await Task.sleep(for: .seconds(2))

        // Free a few slots (the resync is 30 s away, so no second reconcile happens meanwhile) and look.
        let admitted = sockets.indices.filter { !answered.contains($0) }
        for index in admitted.prefix(8) { shutdown(sockets[index], Int32(SHUT_RDWR)) }
        try await Task.sleep(for: .milliseconds(300))
        let status = try await cli.run(
            ["status", "capped", "-o", "json"], environment: daemon.clientEnvironment, directory: layout.work, timeout: .seconds(20))
        #expect(status.exitCode == 0, "\(status)")
        #expect(status.stdout.contains(#""live_version" : "1.0.0""#) || status.stdout.contains(#""live_version":"1.0.0""#), "\(status)")
        let stderr = daemon.process.stderrSoFar()
        #expect(!stderr.contains("Too many open files") && !stderr.contains("EMFILE"), "\(stderr.suffix(2000))")
        #expect(stderr.contains("HTTP connection refused"), "the refusals are logged")
        #expect(try await daemon.stop().exitCode == 0)
    }

    /// `mapctl watch` under `ulimit -n 256`, on port 0.
    static func startLimited(_ cli: CLIRunner, layout: DaemonProcess.Layout) async throws -> DaemonProcess {
        let process = try RunningProcess(
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: [
                "-c", "ulimit -n \(fileLimit) && exec \"$0\" \"$@\"", cli.executable.path,
                "watch", layout.schemas.path, "--listen", "127.0.0.1:0", "--state", layout.state.path,
            ],
            stdin: nil,
            environment: ["NO_COLOR": "1", "MAPCTL_TOKEN": nil, "MAPCTL_SERVER": nil],
            directory: layout.work
        )
        guard let output = try await process.waitForOutput(containing: "listening on http://", timeout: .seconds(60)),
            let url = DaemonProcess.listeningURL(in: output)
        else {
            process.signal(SIGKILL)
            throw DaemonError("the daemon did not start: \(try await process.wait(timeout: .seconds(5)))")
        }
        return DaemonProcess(layout: layout, process: process, url: url)
    }

    /// Indices of the sockets with something to read (an answer, an end of file or a reset).
    static func readable(_ sockets: [Int32]) -> Set<Int> {
        var fds = sockets.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&fds, nfds_t(fds.count), 0)
        return Set(fds.indices.filter { fds[$0].revents != 0 })
    }

    static func openDescriptors(of pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }
}
