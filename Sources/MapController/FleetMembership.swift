public import Foundation
public import MapSchema

/// What the controller asks of the fleet it belongs to (SPEC §8), synchronously and without blocking:
/// the answers come from the fleet coordinator's in-memory view of the shared state, which it keeps
/// current through LISTEN/NOTIFY and polling. Nil in ``Controller/Configuration/fleet`` means the
/// controller is alone and judges for itself.
public protocol FleetMembership: Sendable {
    /// Whether this replica may make `version` of `name` (with this content) live now.
    func admission(name: String, version: SemanticVersion, contentSHA256: String) -> FleetAdmission

    /// How the versions in their windows are judged right now.
    var judgement: FleetJudgement { get }

    /// What the fleet adds to a map's status: the replicas, the leader, the fleet's checks and
    /// quarantines; nil when the fleet knows nothing of the map yet.
    func status(of name: String) -> FleetMapStatus?

    /// The fleet's history of a map (each entry names its replica), oldest first; nil when the shared
    /// state cannot be read (the replica's own history is served then).
    func history(of name: String) async -> [HistoryEntry]?
}

/// The fleet's part of a map's status.
public struct FleetMapStatus: Sendable, Hashable {
    public var replicas: [ReplicaStatus]
    public var leader: String?
    /// The leader's checks of the version under judgement; nil when none was judged.
    public var checks: CheckCounts?
    public var quarantined: [String]
    /// The fleet's window of the live version; nil outside one.
    public var windowEndsAt: Date?

    public init(
        replicas: [ReplicaStatus], leader: String?, checks: CheckCounts? = nil, quarantined: [String] = [], windowEndsAt: Date? = nil
    ) {
        self.replicas = replicas
        self.leader = leader
        self.checks = checks
        self.quarantined = quarantined
        self.windowEndsAt = windowEndsAt
    }
}

/// The fleet's answer to "may this version go live here?".
public enum FleetAdmission: Sendable, Hashable {
    case admit
    /// The version (with this content) was rolled back for the fleet: it is not applied, from the
    /// directory or from an apply, until another document arrives.
    case quarantined(reason: String)
    /// The shared state cannot be reached: nothing new is applied; the document waits and is retried.
    case wait(reason: String)
}

/// Who judges the versions in their windows.
public enum FleetJudgement: Sendable, Hashable {
    /// The fleet's leader, on the sum of every replica's samples: the controller neither checks nor
    /// promotes nor rolls back on its own; it follows the decisions.
    case fleet
    /// The shared state is unreachable: the controller judges its own counters as a safety net and may
    /// roll back (recorded with the fleet on reconnect), but never promotes.
    case localSafetyOnly
}
