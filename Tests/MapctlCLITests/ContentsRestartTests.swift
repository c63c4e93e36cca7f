import Foundation
import TestServers
import Testing

/// The real daemon keeps map contents across SIGTERM and a restart, and refuses a damaged save.
@Suite("Daemon: map contents survive a clean restart", .serialized, .heavy)
struct ContentsRestartTests {
    static func value(_ index: Int) -> String {
        "{\"n\":\(index),\"big\":123456789012345678901234567890\(index),\"s\":\"caf\u{E9} \(index)\"}"
    }

    /// Starts a daemon with one json map holding `count` entries written over HTTP.
    static func sessionWithEntries(_ count: Int) async throws -> Session {
        let session = try await Session.start()
        let file = try session.layout.writeWorkFile("docs.yaml", Fixture.schema("docs", version: "1.0.0"))
        let applied = try await session.mapctl(["apply", "-f", file])
        #expect(applied.exitCode == 0, "\(applied)")
        let client = EntryClient(baseURL: session.daemon.url)
        let statuses = await withTaskGroup(of: [Int].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var codes: [Int] = []
                    for index in stride(from: worker, to: count, by: 8) {
                        codes.append(await client.put(map: "docs", key: "k\(index)", json: value(index)))
                    }
                    return codes
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 201 || $0 == 204 }, "writes acknowledged: \(Set(statuses))")
        return session
    }

    @Test("Five hundred entries survive a SIGTERM and a restart of the daemon")
    func survivesSIGTERM() async throws {
        let session = try await Self.sessionWithEntries(500)
        let layout = session.layout
        defer { layout.remove() }
        let stopped = try await session.daemon.stop(signal: SIGTERM)
        #expect(stopped.exitCode == 0, "\(stopped)")

        let restarted = try await Session.start(layout: layout)
        #expect(try await restarted.status("docs")["entries"] as? Int == 500)
        let client = EntryClient(baseURL: restarted.daemon.url)
        for index in 0..<500 {
            let (status, body) = await client.get(map: "docs", key: "k\(index)")
            #expect(status == 200)
            let expected = try JSONSerialization.jsonObject(with: Data(Self.value(index).utf8)) as? NSDictionary
            #expect((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? NSDictionary == expected)
            #expect(body.contains("123456789012345678901234567890\(index)"), "the big number read back as written: \(body)")
        }
        _ = try await restarted.daemon.stop()
    }

    @Test("A damaged save is refused: the daemon says why, history records it, and the map starts empty")
    func damagedSave() async throws {
        let session = try await Self.sessionWithEntries(100)
        let layout = session.layout
        defer { layout.remove() }
        _ = try await session.daemon.stop(signal: SIGTERM)

        let path = layout.state.appendingPathComponent("contents/docs.contents")
        var bytes = try [UInt8](Data(contentsOf: path))
        bytes[bytes.count / 3] ^= 0x01
        try Data(bytes).write(to: path)

        let restarted = try await Session.start(layout: layout)
        // Contents are restored before the daemon listens, so the message is there already.
        let logged = restarted.daemon.process.stderrSoFar() + restarted.daemon.process.stdoutSoFar()
        #expect(logged.contains("saved map contents are damaged"), "\(logged)")
        #expect(logged.contains("checksum mismatch"))
        #expect(try await restarted.status("docs")["entries"] as? Int == 0)
        let last = try #require(try await restarted.history("docs").last)
        #expect(last["action"] as? String == "invalid")
        let reason = last["reason"] as? String ?? ""
        #expect(reason.hasPrefix("saved contents refused: checksum mismatch"), "\(reason)")
        #expect(reason.hasSuffix("the map starts empty"))
        _ = try await restarted.daemon.stop()
    }
}
