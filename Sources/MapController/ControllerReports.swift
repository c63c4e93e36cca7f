public import Foundation
public import MapSchema
import Rollout

// The shapes the controller reports, fixed by the HTTP API: it serves them
// as JSON and `mapctl status|history -o json` prints them. Field names are part
// of the interface; add fields, never rename them.

/// Where a map stands in its rollout.
public enum MapPhase: String, Sendable, Hashable, Codable {
    /// The live version is the desired one and not under judgement.
    case stable
    /// A new version is live and judged during its rollback window.
    case rollingOut = "rolling_out"
    /// The desired version was rolled back (and is quarantined): live ≠ desired.
    case rolledBack = "rolled_back"
    /// The last document received for the map is invalid; the live version is untouched.
    case invalid
}

/// The circuit breaker's state as reported.
public enum BreakerState: String, Sendable, Hashable, Codable {
    case closed
    case halfOpen = "half_open"
    case open

    /// `mapctl_breaker_state`: 0 closed, 1 half-open, 2 open.
    public var metricValue: Int {
        switch self {
        case .closed: 0
        case .halfOpen: 1
        case .open: 2
        }
    }
}

/// Counts of the rollout checks of the version being judged.
public struct CheckCounts: Sendable, Hashable, Codable {
    public var passed: Int
    public var failed: Int
    public var inconclusive: Int
    /// Failed checks in a row, the number compared to `failure_limit`.
    public var consecutiveFailures: Int

    public init(passed: Int = 0, failed: Int = 0, inconclusive: Int = 0, consecutiveFailures: Int = 0) {
        self.passed = passed
        self.failed = failed
        self.inconclusive = inconclusive
        self.consecutiveFailures = consecutiveFailures
    }

    enum CodingKeys: String, CodingKey {
        case passed, failed, inconclusive
        case consecutiveFailures = "consecutive_failures"
    }
}

/// One map's status: `GET /v1/maps/{name}`, one element of `GET /v1/maps`.
public struct MapStatus: Sendable, Hashable, Codable {
    public var name: String
    /// Normalized (no leading `v`); nil while nothing was ever live.
    public var liveVersion: String?
    /// The version of the last valid document received; nil if none.
    public var desiredVersion: String?
    public var phase: MapPhase
    public var strategy: String?
    public var entries: Int
    /// End of the live version's rollback window (RFC 3339), nil outside one.
    public var windowEndsAt: Date?
    /// The predecessor kept during the window, nil outside one.
    public var standbyVersion: String?
    public var standbyMode: String?
    public var quarantined: [String]
    public var breaker: BreakerState
    public var checks: CheckCounts
    /// Why the map is where it is: the last rollback's reason, the invalid document's first diagnostic.
    public var reason: String?
    /// The source (file path or client) of the last document received.
    public var source: String?
    public var diagnostics: [Diagnostic]
    /// In a fleet (SPEC §8): every replica's view of this map, and the replica that judges; nil alone.
    public var replicas: [ReplicaStatus]?
    public var leader: String?
    /// The last outcomes of the live version's `rollout.queries` (SPEC §8.1); empty when it has none.
    public var queries: [RolloutQueryStatus] = []

    public init(
        name: String,
        liveVersion: String? = nil,
        desiredVersion: String? = nil,
        phase: MapPhase = .stable,
        strategy: String? = nil,
        entries: Int = 0,
        windowEndsAt: Date? = nil,
        standbyVersion: String? = nil,
        standbyMode: String? = nil,
        quarantined: [String] = [],
        breaker: BreakerState = .closed,
        checks: CheckCounts = CheckCounts(),
        reason: String? = nil,
        source: String? = nil,
        diagnostics: [Diagnostic] = []
    ) {
        self.name = name
        self.liveVersion = liveVersion
        self.desiredVersion = desiredVersion
        self.phase = phase
        self.strategy = strategy
        self.entries = entries
        self.windowEndsAt = windowEndsAt
        self.standbyVersion = standbyVersion
        self.standbyMode = standbyMode
        self.quarantined = quarantined
        self.breaker = breaker
        self.checks = checks
        self.reason = reason
        self.source = source
        self.diagnostics = diagnostics
    }

    enum CodingKeys: String, CodingKey {
        case name
        case liveVersion = "live_version"
        case desiredVersion = "desired_version"
        case phase, strategy, entries
        case windowEndsAt = "window_ends_at"
        case standbyVersion = "standby_version"
        case standbyMode = "standby_mode"
        case quarantined, breaker, checks, reason, source, diagnostics, replicas, leader, queries
    }

    // Fixed fields are always present, null when unknown, so that scripts can rely on the keys.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(liveVersion, forKey: .liveVersion)
        try c.encode(desiredVersion, forKey: .desiredVersion)
        try c.encode(phase, forKey: .phase)
        try c.encode(strategy, forKey: .strategy)
        try c.encode(entries, forKey: .entries)
        try c.encode(windowEndsAt, forKey: .windowEndsAt)
        try c.encode(standbyVersion, forKey: .standbyVersion)
        try c.encodeIfPresent(standbyMode, forKey: .standbyMode)
        try c.encode(quarantined, forKey: .quarantined)
        try c.encode(breaker, forKey: .breaker)
        try c.encode(checks, forKey: .checks)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encodeIfPresent(source, forKey: .source)
        if !diagnostics.isEmpty { try c.encode(diagnostics, forKey: .diagnostics) }
        if let replicas {
            try c.encode(replicas, forKey: .replicas)
            try c.encode(leader, forKey: .leader)
        }
        if !queries.isEmpty { try c.encode(queries, forKey: .queries) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        liveVersion = try c.decodeIfPresent(String.self, forKey: .liveVersion)
        desiredVersion = try c.decodeIfPresent(String.self, forKey: .desiredVersion)
        phase = try c.decode(MapPhase.self, forKey: .phase)
        strategy = try c.decodeIfPresent(String.self, forKey: .strategy)
        entries = try c.decodeIfPresent(Int.self, forKey: .entries) ?? 0
        windowEndsAt = try c.decodeIfPresent(Date.self, forKey: .windowEndsAt)
        standbyVersion = try c.decodeIfPresent(String.self, forKey: .standbyVersion)
        standbyMode = try c.decodeIfPresent(String.self, forKey: .standbyMode)
        quarantined = try c.decodeIfPresent([String].self, forKey: .quarantined) ?? []
        breaker = try c.decodeIfPresent(BreakerState.self, forKey: .breaker) ?? .closed
        checks = try c.decodeIfPresent(CheckCounts.self, forKey: .checks) ?? CheckCounts()
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        source = try c.decodeIfPresent(String.self, forKey: .source)
        diagnostics = try c.decodeIfPresent([Diagnostic].self, forKey: .diagnostics) ?? []
        replicas = try c.decodeIfPresent([ReplicaStatus].self, forKey: .replicas)
        leader = try c.decodeIfPresent(String.self, forKey: .leader)
        queries = try c.decodeIfPresent([RolloutQueryStatus].self, forKey: .queries) ?? []
    }
}

/// One replica of a fleet as a map's status shows it: `{"replica", "live_version", "entries", "last_seen"}`.
public struct ReplicaStatus: Sendable, Hashable, Codable {
    public var replica: String
    public var liveVersion: String?
    public var entries: Int
    public var lastSeen: Date

    public init(replica: String, liveVersion: String?, entries: Int, lastSeen: Date) {
        self.replica = replica
        self.liveVersion = liveVersion
        self.entries = entries
        self.lastSeen = lastSeen
    }

    enum CodingKeys: String, CodingKey {
        case replica
        case liveVersion = "live_version"
        case entries
        case lastSeen = "last_seen"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(replica, forKey: .replica)
        try c.encode(liveVersion, forKey: .liveVersion)
        try c.encode(entries, forKey: .entries)
        try c.encode(lastSeen, forKey: .lastSeen)
    }
}

/// One record of a map's history, newest last.
public struct HistoryEntry: Sendable, Hashable, Codable {
    public enum Action: String, Sendable, Hashable, Codable, CaseIterable {
        case apply, promote, rollback, quarantine, invalid
    }

    public var time: Date
    public var action: Action
    public var version: String?
    public var fromVersion: String?
    /// File path (with `@commit` where the directory is a git work tree) or the apply client.
    public var source: String?
    public var contentSHA256: String?
    public var reason: String?
    /// In a fleet (SPEC §8): the replica that acted; nil for a controller alone.
    public var replica: String?

    public init(
        time: Date,
        action: Action,
        version: String?,
        fromVersion: String? = nil,
        source: String? = nil,
        contentSHA256: String? = nil,
        reason: String? = nil,
        replica: String? = nil
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

    enum CodingKeys: String, CodingKey {
        case time, action, version
        case fromVersion = "from_version"
        case source
        case contentSHA256 = "content_sha256"
        case reason
        case replica
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(time, forKey: .time)
        try c.encode(action, forKey: .action)
        try c.encode(version, forKey: .version)
        try c.encode(fromVersion, forKey: .fromVersion)
        try c.encode(source, forKey: .source)
        try c.encode(contentSHA256, forKey: .contentSHA256)
        try c.encode(reason, forKey: .reason)
        try c.encodeIfPresent(replica, forKey: .replica)
    }
}

/// What an apply does to one map (`mapctl diff`, `mapctl apply`).
public struct PlanEntry: Sendable, Hashable, Codable {
    public enum Action: String, Sendable, Hashable, Codable {
        case create
        case update
        case unchanged
        case invalid
        case quarantined
        case prune
    }

    /// compatible | lossy | breaking for an update.
    public enum ChangeClass: String, Sendable, Hashable, Codable {
        case compatible, lossy, breaking
    }

    public var name: String
    public var action: Action
    public var changeClass: ChangeClass?
    public var fromVersion: String?
    public var toVersion: String?
    /// One line per classified change ("ttl 10m → 5m (lossy)").
    public var changes: [String]
    /// Entries the apply would drop (lossy change, breaking change starting empty).
    public var entriesDropped: Int?
    /// Why it is refused or skipped, when it is.
    public var reason: String?
    public var diagnostics: [Diagnostic]
    public var source: String?
    /// A lower version than the live one: applied as a manual rollback through git (an `update` whose
    /// `to_version` is below `from_version`). JSON `"downgrade": true`, absent otherwise.
    public var isDowngrade: Bool = false
    /// Valid on its own but refused against the live state (same version with other content, a breaking change
    /// without a major bump); the action is `invalid` and `reason` says why. JSON `"refused": true`.
    public var isRefused: Bool = false
    /// Set when the change could not be written to the state database (disk full, I/O error): it was
    /// not applied and live is untouched. JSON `"state_error"`, absent otherwise.
    public var stateError: String?

    public init(
        name: String,
        action: Action,
        changeClass: ChangeClass? = nil,
        fromVersion: String? = nil,
        toVersion: String? = nil,
        changes: [String] = [],
        entriesDropped: Int? = nil,
        reason: String? = nil,
        diagnostics: [Diagnostic] = [],
        source: String? = nil
    ) {
        self.name = name
        self.action = action
        self.changeClass = changeClass
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.changes = changes
        self.entriesDropped = entriesDropped
        self.reason = reason
        self.diagnostics = diagnostics
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case name, action
        case changeClass = "change"
        case fromVersion = "from_version"
        case toVersion = "to_version"
        case changes
        case entriesDropped = "entries_dropped"
        case reason, diagnostics, source
        case isDowngrade = "downgrade"
        case isRefused = "refused"
        case stateError = "state_error"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(action, forKey: .action)
        try c.encodeIfPresent(changeClass, forKey: .changeClass)
        try c.encodeIfPresent(fromVersion, forKey: .fromVersion)
        try c.encodeIfPresent(toVersion, forKey: .toVersion)
        try c.encode(changes, forKey: .changes)
        try c.encodeIfPresent(entriesDropped, forKey: .entriesDropped)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encode(diagnostics, forKey: .diagnostics)
        try c.encodeIfPresent(source, forKey: .source)
        if isDowngrade { try c.encode(true, forKey: .isDowngrade) }
        if isRefused { try c.encode(true, forKey: .isRefused) }
        try c.encodeIfPresent(stateError, forKey: .stateError)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        action = try c.decode(Action.self, forKey: .action)
        changeClass = try c.decodeIfPresent(ChangeClass.self, forKey: .changeClass)
        fromVersion = try c.decodeIfPresent(String.self, forKey: .fromVersion)
        toVersion = try c.decodeIfPresent(String.self, forKey: .toVersion)
        changes = try c.decodeIfPresent([String].self, forKey: .changes) ?? []
        entriesDropped = try c.decodeIfPresent(Int.self, forKey: .entriesDropped)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        diagnostics = try c.decodeIfPresent([Diagnostic].self, forKey: .diagnostics) ?? []
        source = try c.decodeIfPresent(String.self, forKey: .source)
        isDowngrade = try c.decodeIfPresent(Bool.self, forKey: .isDowngrade) ?? false
        isRefused = try c.decodeIfPresent(Bool.self, forKey: .isRefused) ?? false
        stateError = try c.decodeIfPresent(String.self, forKey: .stateError)
    }
}

/// The answer to an apply: the plan, and what happened when it was not a dry run.
public struct ApplyReport: Sendable, Hashable, Codable {
    public var dryRun: Bool
    public var plan: [PlanEntry]
    /// Status of every map the apply touched, after it (empty for a dry run).
    public var results: [MapStatus]

    public init(dryRun: Bool, plan: [PlanEntry], results: [MapStatus] = []) {
        self.dryRun = dryRun
        self.plan = plan
        self.results = results
    }

    /// True when any map was or would be changed.
    public var hasChanges: Bool { plan.contains { $0.action != .unchanged } }
    /// True when any document was invalid or refused (refusals are reported as `invalid` with `refused: true`).
    ///
    /// Quarantined documents are not failures: the controller did what it promised.
    public var hasFailures: Bool { plan.contains { $0.action == .invalid } }
    /// True when a change could not be written to the state database, and so was not applied.
    public var hasStateErrors: Bool { plan.contains { $0.stateError != nil } }

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run"
        case plan, results
    }
}

extension BreakerState {
    init(_ state: CircuitBreaker.State) {
        switch state {
        case .closed: self = .closed
        case .halfOpen: self = .halfOpen
        case .open: self = .open
        }
    }
}
