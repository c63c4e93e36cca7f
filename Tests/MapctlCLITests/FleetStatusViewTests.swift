import Foundation
import MapController
import Testing

@testable import mapctl

/// How `mapctl status` and `mapctl history` read in a fleet (SPEC §8), on statuses made here; the real
/// fleet is in ``FleetCLITests``.
@Suite("Fleet in status and history tables")
struct FleetStatusViewTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func hot(live: String = "1.0.0", replicas: [(String, String?, Int, Double)]?, leader: String? = "r2") -> MapStatus {
        var status = MapStatus(name: "hot", liveVersion: live, desiredVersion: live, strategy: "sharded", entries: 120)
        status.replicas = replicas?.map { id, version, entries, secondsAgo in
            ReplicaStatus(replica: id, liveVersion: version, entries: entries, lastSeen: now.addingTimeInterval(-secondsAgo))
        }
        status.leader = replicas == nil ? nil : leader
        return status
    }

    /// The cells of a rendered line (columns are two or more spaces apart).
    static func cells(_ line: String) -> [String] {
        line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    @Test("Alone: the table has no REPLICAS column and no fleet section, as before fleets")
    func alone() {
        let lines = StatusView(statuses: [Self.hot(replicas: nil)], useColor: false, now: Self.now).table()
        #expect(
            lines == [
                "MAP  LIVE   DESIRED  PHASE   WINDOW  CHECKS  BREAKER  ENTRIES",
                "hot  1.0.0  1.0.0    stable  -       0/0/0   closed   120",
            ])
        let detail = StatusView(statuses: [Self.hot(replicas: nil)], useColor: false, now: Self.now).detail()
        #expect(!detail.contains { $0.hasPrefix("Leader:") || $0.hasPrefix("Replicas:") || $0.hasPrefix("REPLICA") })
    }

    @Test("In a fleet: REPLICAS counts those on this daemon's version, and a section names the leader and each replica")
    func fleetTable() throws {
        let status = Self.hot(replicas: [("r1", "1.0.0", 118, 0.4), ("r2", "1.0.0", 120, 1.2), ("r3", "1.0.0", 121, 2)])
        let lines = StatusView(statuses: [status], useColor: false, now: Self.now).table()
        #expect(Self.cells(lines[0]) == ["MAP", "LIVE", "DESIRED", "PHASE", "WINDOW", "CHECKS", "BREAKER", "ENTRIES", "REPLICAS"])
        #expect(Self.cells(lines[1]) == ["hot", "1.0.0", "1.0.0", "stable", "-", "0/0/0", "closed", "120", "3/3"])
        #expect(lines.contains("Fleet: 3 replicas, leader r2"), "\(lines)")
        let header = try #require(lines.firstIndex { $0.hasPrefix("REPLICA ") })
        #expect(Self.cells(lines[header]) == ["REPLICA", "ROLE", "LAST SEEN", "OTHER LIVE"])
        let rows = lines.suffix(3).map(Self.cells)
        #expect(rows == [["r1", "follower", "1s ago", "-"], ["r2", "leader", "2s ago", "-"], ["r3", "follower", "2s ago", "-"]])
    }

    @Test("A replica on another version is counted out, marked as drift and named in OTHER LIVE")
    func disagreement() {
        let status = Self.hot(replicas: [("r1", "1.0.0", 118, 0), ("r2", "1.0.0", 120, 0), ("r3", "1.1.0", 40, 0)])
        let lines = StatusView(statuses: [status], useColor: false, now: Self.now).table()
        #expect(Self.cells(lines[1]).first == "*hot")
        #expect(Self.cells(lines[1]).last == "2/3")
        #expect(lines.contains("* hot: r3 serves 1.1.0"), "\(lines)")
        #expect(lines.last.map(Self.cells) == ["r3", "follower", "0s ago", "hot 1.1.0"])
        // Coloured only on request, and then the odd replica's row is yellow.
        let coloured = StatusView(statuses: [status], useColor: true, now: Self.now).table()
        #expect(coloured.last?.hasPrefix("\u{1B}[33m") == true)
        #expect(!lines.joined().contains("\u{1B}"))
    }

    @Test("No leader yet (or the database lost) reads as none; replicas not yet reporting read as none reporting")
    func noLeader() {
        let empty = Self.hot(replicas: [], leader: nil)
        let lines = StatusView(statuses: [empty], useColor: false, now: Self.now).table()
        #expect(Self.cells(lines[1]).last == "-")
        #expect(lines.last == "Fleet: 0 replicas, leader none")
        let detail = StatusView(statuses: [empty], useColor: false, now: Self.now).detail()
        #expect(detail.contains { $0.hasPrefix("Leader:") && $0.hasSuffix(" none") })
        #expect(detail.contains { $0.hasPrefix("Replicas:") && $0.hasSuffix(" none reporting") })
    }

    @Test("No heartbeat newer than 10 s: the section and the detail say the database may be unreachable")
    func quiet() {
        let status = Self.hot(replicas: [("r1", "1.0.0", 118, 12), ("r2", "1.0.0", 120, 14)])
        let lines = StatusView(statuses: [status], useColor: false, now: Self.now).table()
        #expect(
            lines.contains("Fleet: 2 replicas, leader r2; no replica heard from for 12s: the fleet database may be unreachable"), "\(lines)"
        )
        let detail = StatusView(statuses: [status], useColor: false, now: Self.now).detail()
        #expect(
            detail.contains {
                $0.hasPrefix("Replicas:")
                    && $0.hasSuffix("2 of 2 on 1.0.0; no replica heard from for 12s: the fleet database may be unreachable")
            })
        let fresh = Self.hot(replicas: [("r1", "1.0.0", 118, 12), ("r2", "1.0.0", 120, 1)])
        #expect(StatusView(statuses: [fresh], useColor: false, now: Self.now).table().contains("Fleet: 2 replicas, leader r2"))
    }

    @Test("status NAME: the leader, how many replicas serve this version, and a row per replica")
    func detail() throws {
        let status = Self.hot(replicas: [("r2", "1.0.0", 120, 1), ("r1", nil, 0, 3)])
        let lines = StatusView(statuses: [status], useColor: false, now: Self.now).detail()
        #expect(lines.contains { Self.cells($0) == ["Leader:", "r2"] }, "\(lines)")
        #expect(lines.contains { Self.cells($0) == ["Replicas:", "1 of 2 on 1.0.0"] }, "\(lines)")
        let header = try #require(lines.firstIndex { $0.hasPrefix("REPLICA ") })
        #expect(Self.cells(lines[header]) == ["REPLICA", "ROLE", "LIVE", "ENTRIES", "LAST SEEN"])
        #expect(lines.suffix(2).map(Self.cells) == [["r1", "follower", "-", "0", "3s ago"], ["r2", "leader", "1.0.0", "120", "1s ago"]])
    }

    @Test("history: a REPLICA column when entries name their replica, none when none does")
    func historyColumn() {
        let time = Self.now
        let fleet = [
            HistoryEntry(
                time: time, action: .apply, version: "1.1.0", fromVersion: "1.0.0", source: "s/hot.yaml", reason: "applied on r3",
                replica: "r3"),
            HistoryEntry(
                time: time, action: .rollback, version: "1.0.0", fromVersion: "1.1.0", source: "controller", reason: "failed", replica: "r1"
            ),
        ]
        let lines = History.table(fleet, useColor: false)
        #expect(Self.cells(lines[0]) == ["TIME", "ACTION", "VERSION", "FROM", "REPLICA", "SOURCE", "SHA", "REASON"])
        #expect(Array(Self.cells(lines[1]).dropFirst().prefix(5)) == ["apply", "1.1.0", "1.0.0", "r3", "s/hot.yaml"])
        #expect(Array(Self.cells(lines[2]).dropFirst().prefix(5)) == ["rollback", "1.0.0", "1.1.0", "r1", "controller"])

        let alone = fleet.map { entry in
            var entry = entry
            entry.replica = nil
            return entry
        }
        #expect(Self.cells(History.table(alone, useColor: false)[0]) == ["TIME", "ACTION", "VERSION", "FROM", "SOURCE", "SHA", "REASON"])
    }
}
