import Foundation
public import MapController
public import MapSchema
import Synchronization

/// The controller's window on the fleet: what the coordinator last read of the shared state, answered
/// synchronously and without blocking (``FleetMembership``).
///
/// The coordinator refreshes it on every notification and poll; the controller asks it before a new
/// version goes live and before it judges a window; the API asks it for the replicas and the leader.
public final class FleetView: FleetMembership {
    struct Snapshot: Sendable {
        var connected = false
        var maps: [String: FleetMapState] = [:]
        var replicas: [ReplicaReport] = []
        var leader: String?
        var checks: [String: CheckCounts] = [:]
    }

    let store: FleetStore
    private let snapshot = Mutex(Snapshot())

    /// - Parameter store: Where the fleet's history is read from (`mapctl history`).
    public init(store: FleetStore) {
        self.store = store
    }

    public func admission(name: String, version: SemanticVersion, contentSHA256: String) -> FleetAdmission {
        snapshot.withLock { state in
            let text = version.description
            if let quarantine = state.maps[name]?.quarantined.first(where: { $0.version == text && $0.contentSHA256 == contentSHA256 }) {
                return .quarantined(reason: quarantine.reason)
            }
            if !state.connected {
                return .wait(reason: "the fleet's database is unreachable, so no new version goes live")
            }
            return .admit
        }
    }

    public var judgement: FleetJudgement {
        snapshot.withLock { $0.connected ? .fleet : .localSafetyOnly }
    }

    public func status(of name: String) -> FleetMapStatus? {
        snapshot.withLock { state in
            let replicas = state.replicas.compactMap { report -> ReplicaStatus? in
                guard let map = report.maps.first(where: { $0.name == name }) else { return nil }
                return ReplicaStatus(replica: report.replica, liveVersion: map.liveVersion, entries: map.entries, lastSeen: report.lastSeen)
            }
            guard let map = state.maps[name] else {
                return replicas.isEmpty ? nil : FleetMapStatus(replicas: replicas, leader: state.leader)
            }
            return FleetMapStatus(
                replicas: replicas, leader: state.leader, checks: state.checks[name],
                quarantined: map.quarantined.map(\.version),
                windowEndsAt: map.phase == "rolling_out" ? map.windowEndsAt : nil
            )
        }
    }

    public func history(of name: String) async -> [HistoryEntry]? {
        guard isConnected, let entries = try? await store.history(name: name, limit: nil) else { return nil }
        return entries.compactMap { entry in
            guard let action = HistoryEntry.Action(rawValue: entry.action) else { return nil }
            return HistoryEntry(
                time: entry.time, action: action, version: entry.version, fromVersion: entry.fromVersion,
                source: entry.source, contentSHA256: entry.contentSHA256, reason: entry.reason, replica: entry.replica)
        }
    }

    // MARK: - Updated by the coordinator

    var isConnected: Bool { snapshot.withLock { $0.connected } }

    /// The decided state of every map: returns what it was before.
    @discardableResult
    func setMaps(_ maps: [FleetMapState]) -> [String: FleetMapState] {
        snapshot.withLock { state in
            let before = state.maps
            state.maps = Dictionary(maps.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
            return before
        }
    }

    func map(_ name: String) -> FleetMapState? { snapshot.withLock { $0.maps[name] } }

    func setConnected(_ connected: Bool) {
        snapshot.withLock { $0.connected = connected }
    }

    func setReplicas(_ replicas: [ReplicaReport], leader: String?) {
        snapshot.withLock { state in
            state.replicas = replicas
            state.leader = leader
        }
    }

    func setChecks(_ checks: CheckCounts?, for name: String) {
        snapshot.withLock { $0.checks[name] = checks }
    }
}
