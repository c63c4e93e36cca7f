import Foundation
import TestServers
import Testing

/// `mapctl status` and `mapctl history` against real daemons in a fleet on a throwaway PostgreSQL.
@Suite("Fleet in the CLI", .serialized, .heavy, .enabled(if: ThrowawayPostgres.isAvailable, "needs PostgreSQL (initdb, pg_ctl)"))
struct FleetCLITests {
    /// The cells of a table line (columns are two or more spaces apart).
    static func cells(_ line: Substring) -> [String] {
        line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func rows(_ text: String) -> [[String]] {
        text.split(separator: "\n").map(cells)
    }

    @Test("status lists the replicas and the leader, status NAME each replica's version, history who acted; -o json is the API's")
    func statusAndHistory() async throws {
        let fleet = try await FleetHarness()
        defer { fleet.stop() }
        var sessions: [Session] = []
        defer { for session in sessions { session.layout.remove() } }
        for id in ["r1", "r2"] {
            let layout = try DaemonProcess.Layout.make()
            try layout.writeSchema("hot.yaml", FleetFixture.schema(version: "1.0.0"))
            sessions.append(try await fleet.start(id, layout: layout))
        }
        let apis = sessions.map { FleetAPI(baseURL: $0.daemon.url) }
        for api in apis {
            let joined = await api.wait(for: "hot") {
                $0["live_version"] as? String == "1.0.0" && ($0["replicas"] as? [Any])?.count == 2 && $0["leader"] is String
            }
            #expect(joined != nil, "both replicas see the fleet")
        }
        let leader = try #require(await apis[0].status("hot")?["leader"] as? String)

        let table = try await sessions[0].mapctl(["status"])
        #expect(table.exitCode == 0, "\(table)")
        let rows = Self.rows(table.stdout)
        #expect(rows.first?.last == "REPLICAS", "\(table.stdout)")
        #expect(rows.contains { $0.first == "hot" && $0.last == "2/2" }, "\(table.stdout)")
        #expect(table.stdout.contains("Fleet: 2 replicas, leader \(leader)\n"), "\(table.stdout)")
        for id in ["r1", "r2"] {
            let row = rows.first { $0.first == id }
            #expect(row?[1] == (id == leader ? "leader" : "follower"), "\(table.stdout)")
            #expect(row?[2].hasSuffix("s ago") == true)
            #expect(row?.last == "-", "no map at another version: \(table.stdout)")
        }

        // A new version applied through r2 becomes the fleet's; r1 follows, and history says r2 acted.
        let file = try sessions[1].layout.writeWorkFile("hot-1.1.0.yaml", FleetFixture.schema(version: "1.1.0", window: "5m"))
        let apply = try await sessions[1].mapctl(["apply", "-f", file])
        #expect(apply.exitCode == 0, "\(apply)")
        #expect(await apis[0].wait(for: "hot") { $0["live_version"] as? String == "1.1.0" } != nil, "r1 follows the apply made on r2")
        _ = await apis[0].wait(for: "hot") { status in
            (status["replicas"] as? [[String: Any]])?.allSatisfy { $0["live_version"] as? String == "1.1.0" } == true
        }

        let detail = try await sessions[0].mapctl(["status", "hot"])
        #expect(detail.exitCode == 0, "\(detail)")
        let lines = Self.rows(detail.stdout)
        #expect(lines.contains(["Leader:", leader]), "\(detail.stdout)")
        #expect(lines.contains(["Replicas:", "2 of 2 on 1.1.0"]), "\(detail.stdout)")
        #expect(lines.contains(["REPLICA", "ROLE", "LIVE", "ENTRIES", "LAST SEEN"]), "\(detail.stdout)")
        for id in ["r1", "r2"] {
            #expect(lines.contains { $0.first == id && $0.count == 5 && $0[2] == "1.1.0" }, "\(detail.stdout)")
        }

        let history = try await sessions[0].mapctl(["history", "hot"])
        #expect(history.exitCode == 0, "\(history)")
        let entries = Self.rows(history.stdout)
        #expect(entries.first.map { Array($0.prefix(5)) } == ["TIME", "ACTION", "VERSION", "FROM", "REPLICA"], "\(history.stdout)")
        #expect(entries.contains { $0.count > 5 && Array($0[1...4]) == ["apply", "1.1.0", "1.0.0", "r2"] }, "\(history.stdout)")

        // -o json is the API's body: replicas and leader as SPEC §8 names them, history entries with replica.
        let json = try await sessions[0].mapctl(["status", "-o", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let hot = try #require((object["maps"] as? [[String: Any]])?.first { $0["name"] as? String == "hot" })
        #expect(hot["leader"] as? String == leader)
        let replicas = try #require(hot["replicas"] as? [[String: Any]])
        #expect(Set(replicas.compactMap { $0["replica"] as? String }) == ["r1", "r2"])
        #expect(replicas.allSatisfy { Set($0.keys) == ["replica", "live_version", "entries", "last_seen"] }, "\(replicas)")
        let shared = try await sessions[0].history("hot")
        #expect(shared.contains { $0["action"] as? String == "apply" && $0["replica"] as? String == "r2" }, "\(shared)")

        for session in sessions { _ = try await session.daemon.stop() }
    }
}
