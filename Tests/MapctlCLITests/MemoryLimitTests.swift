import Foundation
import TestServers
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `mapctl watch --max-memory`: the real daemon refuses writes over its memory limit with 503
/// `memory_limit` instead of growing until the kernel kills it, and goes on serving reads.
@Suite("Daemon: --max-memory", .serialized, .heavy)
struct MemoryLimitTests {
    /// Resident bytes of a process, from `/proc/PID/statm`.
    static func residentBytes(of pid: Int32) throws -> Int {
        let text = try String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8)
        let fields = text.split(separator: " ")
        let pages = try #require(fields.count > 1 ? Int(fields[1]) : nil)
        return pages * sysconf(Int32(_SC_PAGESIZE))
    }

    static func put(_ base: String, key: String, json: String) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: "\(base)/v1/maps/blobs/entries/\(key)")!)
        request.httpMethod = "PUT"
        request.httpBody = Data(json.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test("Writes over --max-memory get 503 memory_limit with a JSON error; reads go on")
    func refusesWritesOverTheLimit() async throws {
        // The daemon's resident memory with its map applied, from a first run without a limit.
        let probe = try await Session.start()
        let file = try probe.layout.writeWorkFile("blobs.yaml", Fixture.schema("blobs", version: "1.0.0"))
        #expect(try await probe.mapctl(["apply", "-f", file]).exitCode == 0)
        let startup = try Self.residentBytes(of: probe.daemon.process.processIdentifier)
        _ = try await probe.daemon.stop()
        probe.layout.remove()

        let limit = startup + (24 << 20)
        let session = try await Session.start(arguments: ["--max-memory", String(limit)])
        defer { session.layout.remove() }
        let applied = try await session.mapctl([
            "apply", "-f", try session.layout.writeWorkFile("blobs.yaml", Fixture.schema("blobs", version: "1.0.0")),
        ])
        #expect(applied.exitCode == 0, "\(applied)")

        let blob = "\"" + String(repeating: "m", count: 200_000) + "\""
        var refused: (status: Int, body: String)?
        var stored = 0
        // About 120 writes cross the limit; the bound is only a backstop.
        for index in 0..<3_000 {
            let answer = try await Self.put(session.daemon.url, key: "k\(index)", json: blob)
            if answer.status == 503 {
                refused = answer
                break
            }
            #expect(answer.status / 100 == 2, "write \(index): \(answer)")
            stored += 1
        }
        let answer = try #require(refused, "no write was refused after \(stored) writes")
        #expect(stored > 0, "the first write was already refused: the limit was under the startup memory")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        let error = try #require(object["error"] as? [String: Any], "body: \(answer.body)")
        #expect(error["code"] as? String == "memory_limit")
        #expect((error["message"] as? String)?.contains("--max-memory") == true)

        let read = await EntryClient(baseURL: session.daemon.url).get(map: "blobs", key: "k0")
        #expect(read.status == 200)
        #expect(read.body.count >= 200_000)
        let stopped = try await session.daemon.stop()
        #expect(stopped.exitCode == 0, "\(stopped)")
    }
}
