public import Foundation

/// A desired document of the fleet: (name, version) is immutable once recorded.
public struct FleetDocument: Sendable, Hashable {
    public var name: String
    /// The normalized version, without a leading `v`.
    public var version: String
    public var contentSHA256: String
    /// The document's YAML as received.
    public var yaml: String
    /// File path (`path@commit` in a git work tree) or the apply client.
    public var source: String?
    /// The replica that received it.
    public var replica: String
    public var appliedAt: Date

    public init(
        name: String,
        version: String,
        contentSHA256: String,
        yaml: String,
        source: String?,
        replica: String,
        appliedAt: Date
    ) {
        self.name = name
        self.version = version
        self.contentSHA256 = contentSHA256
        self.yaml = yaml
        self.source = source
        self.replica = replica
        self.appliedAt = appliedAt
    }
}

/// A version the fleet rolled back: no replica applies it again with the same content.
public struct FleetQuarantine: Sendable, Hashable {
    public var version: String
    public var contentSHA256: String
    public var reason: String
    public var at: Date
    /// The replica that recorded it (the leader, or a replica that rolled back alone while the database was away).
    public var replica: String

    public init(version: String, contentSHA256: String, reason: String, at: Date, replica: String) {
        self.version = version
        self.contentSHA256 = contentSHA256
        self.reason = reason
        self.at = at
        self.replica = replica
    }
}

/// One map's decided state for the whole fleet.
public struct FleetMapState: Sendable, Hashable {
    public var name: String
    public var desiredVersion: String?
    public var desiredSHA256: String?
    public var liveVersion: String?
    public var liveSHA256: String?
    public var standbyVersion: String?
    public var standbySHA256: String?
    /// Start of the live version's rollback window; intervals are aligned to it.
    public var windowStartedAt: Date?
    public var windowEndsAt: Date?
    /// `stable`, `rolling_out` or `rolled_back`.
    public var phase: String
    public var reason: String?
    /// Counts the writes of this map's row: 1 after the first, one more after each.
    /// Set by ``FleetStore/update(name:_:)``; the value a change carries is ignored.
    public var revision: Int64
    public var quarantined: [FleetQuarantine]

    public init(
        name: String,
        desiredVersion: String? = nil,
        desiredSHA256: String? = nil,
        liveVersion: String? = nil,
        liveSHA256: String? = nil,
        standbyVersion: String? = nil,
        standbySHA256: String? = nil,
        windowStartedAt: Date? = nil,
        windowEndsAt: Date? = nil,
        phase: String = "stable",
        reason: String? = nil,
        revision: Int64 = 0,
        quarantined: [FleetQuarantine] = []
    ) {
        self.name = name
        self.desiredVersion = desiredVersion
        self.desiredSHA256 = desiredSHA256
        self.liveVersion = liveVersion
        self.liveSHA256 = liveSHA256
        self.standbyVersion = standbyVersion
        self.standbySHA256 = standbySHA256
        self.windowStartedAt = windowStartedAt
        self.windowEndsAt = windowEndsAt
        self.phase = phase
        self.reason = reason
        self.revision = revision
        self.quarantined = quarantined
    }

    /// True when `version` with this content is quarantined for the fleet.
    public func isQuarantined(version: String, contentSHA256: String) -> Bool {
        quarantined.contains { $0.version == version && $0.contentSHA256 == contentSHA256 }
    }
}

/// One record of a map's fleet history.
public struct FleetHistoryEntry: Sendable, Hashable {
    public var time: Date
    /// `apply`, `promote`, `rollback`, `quarantine` or `invalid`.
    public var action: String
    public var version: String?
    public var fromVersion: String?
    public var source: String?
    public var contentSHA256: String?
    public var reason: String?
    /// The replica that acted.
    public var replica: String

    public init(
        time: Date,
        action: String,
        version: String?,
        fromVersion: String? = nil,
        source: String? = nil,
        contentSHA256: String? = nil,
        reason: String? = nil,
        replica: String
    ) {
        self.time = time
        self.action = action
        self.version = version
        self.fromVersion = fromVersion
        self.source = source
        self.contentSHA256 = contentSHA256
        self.reason = reason
        self.replica = replica
    }
}

/// What ``FleetStore/update(name:_:)`` writes: the map's new state, with the history and documents that explain it.
public struct FleetChange: Sendable {
    public var state: FleetMapState
    public var history: [FleetHistoryEntry]
    public var documents: [FleetDocument]

    public init(state: FleetMapState, history: [FleetHistoryEntry] = [], documents: [FleetDocument] = []) {
        self.state = state
        self.history = history
        self.documents = documents
    }
}

/// One replica's counters of a version under judgement over one interval of its window.
///
/// Interval `i` covers `windowStart + i × interval` up to the next; the leader sums the samples of all
/// replicas for an interval (latency buckets included, bucket by bucket).
public struct FleetSample: Sendable, Hashable {
    public var name: String
    public var version: String
    public var windowStart: Date
    public var interval: Int
    public var replica: String
    public var ops: UInt64
    public var errors: UInt64
    public var faults: UInt64
    /// Latency histogram bucket counts (not cumulative), merged across replicas by summing.
    public var latencyBuckets: [UInt64]
    public var publishedAt: Date

    public init(
        name: String,
        version: String,
        windowStart: Date,
        interval: Int,
        replica: String,
        ops: UInt64,
        errors: UInt64,
        faults: UInt64,
        latencyBuckets: [UInt64] = [],
        publishedAt: Date
    ) {
        self.name = name
        self.version = version
        self.windowStart = windowStart
        self.interval = interval
        self.replica = replica
        self.ops = ops
        self.errors = errors
        self.faults = faults
        self.latencyBuckets = latencyBuckets
        self.publishedAt = publishedAt
    }
}

/// A replica's heartbeat: what it serves.
public struct ReplicaReport: Sendable, Hashable {
    public var replica: String
    public var maps: [ReplicaMap]
    /// The database's time of the last heartbeat (set by ``FleetStore/heartbeat(_:)``).
    public var lastSeen: Date

    public init(replica: String, maps: [ReplicaMap], lastSeen: Date) {
        self.replica = replica
        self.maps = maps
        self.lastSeen = lastSeen
    }
}

/// One map as a replica serves it.
public struct ReplicaMap: Sendable, Hashable, Codable {
    public var name: String
    public var liveVersion: String?
    public var entries: Int

    public init(name: String, liveVersion: String?, entries: Int) {
        self.name = name
        self.liveVersion = liveVersion
        self.entries = entries
    }

    enum CodingKeys: String, CodingKey {
        case name
        case liveVersion = "live_version"
        case entries
    }
}

/// What ``FleetStore/changes()`` yields.
public enum FleetNotification: Sendable, Hashable {
    /// A map's fleet state was written (revision is the new one).
    case changed(name: String, revision: Int64)
    /// The listening connection was (re)established: notifications may have been missed, read everything again.
    case reconnected
}
