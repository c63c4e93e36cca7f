import Foundation
import MapController

/// The fleet's part of `mapctl status` (SPEC §8): a REPLICAS column and a section of replicas under the
/// table, and the replicas of one map in its detail. A daemon alone has none of it, and nothing changes.
extension StatusView {
    /// True when the daemon is in a fleet: it reports `replicas` (perhaps none yet) for its maps.
    var isFleet: Bool { statuses.contains { $0.replicas != nil } }

    /// The leader the daemon last read, whichever map reports it.
    var leader: String? { statuses.lazy.compactMap(\.leader).first }

    /// "3/3": the replicas serving the version this daemon serves, of those reporting the map, as kubectl's
    /// READY column counts pods; "-" when no replica reports it.
    static func replicaCell(_ status: MapStatus) -> String {
        guard let replicas = status.replicas, !replicas.isEmpty else { return "-" }
        return "\(onLive(status).count)/\(replicas.count)"
    }

    /// The replicas that serve this daemon's live version of the map.
    static func onLive(_ status: MapStatus) -> [ReplicaStatus] {
        (status.replicas ?? []).filter { $0.liveVersion == status.liveVersion }
    }

    /// Under the table: the leader, then one row per replica with its role, when it was last heard from and
    /// the maps it serves at another version than this daemon.
    func fleetSection() -> [String] {
        var lastSeen: [String: Date] = [:]
        var differs: [String: [String]] = [:]
        for status in statuses {
            for replica in status.replicas ?? [] {
                lastSeen[replica.replica] = max(lastSeen[replica.replica] ?? replica.lastSeen, replica.lastSeen)
                if replica.liveVersion != status.liveVersion {
                    differs[replica.replica, default: []].append("\(status.name) \(replica.liveVersion ?? "none")")
                }
            }
        }
        var heading = "Fleet: \(Self.counted(lastSeen.count, "replica")), leader \(leader ?? "none")"
        let quiet = quietness(lastSeen.values.max())
        if let quiet { heading += "; \(quiet)" }
        let lines = ["", paint(heading, quiet == nil ? .none : .warning)]
        guard !lastSeen.isEmpty else { return lines }
        var table = Table(header: ["REPLICA", "ROLE", "LAST SEEN", "OTHER LIVE"])
        for id in lastSeen.keys.sorted() {
            let other = differs[id] ?? []
            table.append(
                [id, role(of: id), Self.ago(lastSeen[id], now: now), other.isEmpty ? "-" : other.joined(separator: ", ")],
                tint: other.isEmpty ? .none : .warning
            )
        }
        return lines + table.render(useColor: useColor)
    }

    /// The detail view's fleet rows: the leader and how many replicas serve this daemon's version.
    func fleetRows(_ status: MapStatus) -> [(String, String)] {
        guard let replicas = status.replicas else { return [] }
        let live = status.liveVersion ?? "none"
        var count = replicas.isEmpty ? "none reporting" : "\(Self.onLive(status).count) of \(replicas.count) on \(live)"
        if let quiet = quietness(replicas.map(\.lastSeen).max()) { count += "; \(quiet)" }
        return [("Leader", status.leader ?? "none"), ("Replicas", count)]
    }

    /// Replicas write a heartbeat every second: when none is newer than ``quietAfter``, this daemon's view
    /// of the fleet is old, most likely because it cannot reach the database (it then serves on and applies
    /// nothing new). Nil while some replica was heard from lately.
    func quietness(_ newest: Date?) -> String? {
        guard let newest, now.timeIntervalSince(newest) > Self.quietAfter else { return nil }
        return "no replica heard from for \(StatusLine.timeLeft(until: now, now: newest)): the fleet database may be unreachable"
    }

    /// The detail view's table of replicas: what each serves of the map, and when it was last heard from.
    func replicaTable(_ status: MapStatus) -> [String] {
        guard let replicas = status.replicas, !replicas.isEmpty else { return [] }
        var table = Table(header: ["REPLICA", "ROLE", "LIVE", "ENTRIES", "LAST SEEN"])
        for replica in replicas.sorted(by: { $0.replica < $1.replica }) {
            table.append(
                [
                    replica.replica, role(of: replica.replica), replica.liveVersion ?? "-", String(replica.entries),
                    Self.ago(replica.lastSeen, now: now),
                ],
                tint: replica.liveVersion == status.liveVersion ? .none : .warning
            )
        }
        return [""] + table.render(useColor: useColor)
    }

    /// How long without any replica's heartbeat (each writes one a second) before the section says so.
    static let quietAfter: TimeInterval = 10

    private func role(of replica: String) -> String {
        replica == leader ? "leader" : "follower"
    }

    /// "2s ago" (the fleet database's clock stamps heartbeats; this machine's clock reads them); "-" without a time.
    static func ago(_ date: Date?, now: Date) -> String {
        guard let date else { return "-" }
        return StatusLine.timeLeft(until: now, now: date) + " ago"
    }

    static func counted(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)\(count == 1 ? "" : "s")"
    }
}
