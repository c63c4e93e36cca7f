public import Foundation
public import MapSchema

/// One map's controller state as the state database keeps it.
///
/// The controller reads every map's state at start to restore each map at its
/// live version, and writes it back, with the history entries of the change,
/// in one transaction through ``StateStore/save(_:appending:recording:)``.
public struct PersistedMapState: Sendable, Hashable {
    /// The predecessor kept during a rollback window.
    public struct Standby: Sendable, Hashable {
        public var version: SemanticVersion
        public var mode: RolloutPolicy.Standby

        public init(version: SemanticVersion, mode: RolloutPolicy.Standby) {
            self.version = version
            self.mode = mode
        }
    }

    /// A version that was rolled back and is not applied again from the directory with the same content.
    public struct Quarantine: Sendable, Hashable {
        public var version: SemanticVersion
        public var contentSHA256: String
        public var reason: String
        public var at: Date

        public init(version: SemanticVersion, contentSHA256: String, reason: String, at: Date) {
            self.version = version
            self.contentSHA256 = contentSHA256
            self.reason = reason
            self.at = at
        }
    }

    /// The last document received for the map when it was invalid.
    public struct InvalidDocument: Sendable, Hashable {
        public var diagnostics: [Diagnostic]
        public var source: String?
        public var at: Date

        public init(diagnostics: [Diagnostic], source: String?, at: Date) {
            self.diagnostics = diagnostics
            self.source = source
            self.at = at
        }
    }

    public var name: String
    /// The version serving now; nil while nothing was ever live.
    public var liveVersion: SemanticVersion?
    /// Content hash of the live version's document (its YAML is in ``StateStore/document(name:version:)``).
    public var liveSHA256: String?
    /// Set while the live version is in its rollback window.
    public var standby: Standby?
    /// End of the live version's rollback window; nil outside one.
    public var windowEndsAt: Date?
    /// The version of the last valid document received.
    public var desiredVersion: SemanticVersion?
    public var desiredSHA256: String?
    /// File path (`path@commit` in a git work tree) or apply client of the desired document.
    public var desiredSource: String?
    public var quarantined: [Quarantine]
    /// Set while the last document received for the map is invalid.
    public var invalid: InvalidDocument?
    /// Why the map is where it is (the last rollback's reason, say), for status.
    public var reason: String?
    /// When this state was last saved; set by the store.
    public var updatedAt: Date?

    public init(
        name: String,
        liveVersion: SemanticVersion? = nil,
        liveSHA256: String? = nil,
        standby: Standby? = nil,
        windowEndsAt: Date? = nil,
        desiredVersion: SemanticVersion? = nil,
        desiredSHA256: String? = nil,
        desiredSource: String? = nil,
        quarantined: [Quarantine] = [],
        invalid: InvalidDocument? = nil,
        reason: String? = nil,
        updatedAt: Date? = nil
    ) {
        self.name = name
        self.liveVersion = liveVersion
        self.liveSHA256 = liveSHA256
        self.standby = standby
        self.windowEndsAt = windowEndsAt
        self.desiredVersion = desiredVersion
        self.desiredSHA256 = desiredSHA256
        self.desiredSource = desiredSource
        self.quarantined = quarantined
        self.invalid = invalid
        self.reason = reason
        self.updatedAt = updatedAt
    }

    /// True when `version` with this content was rolled back and stays quarantined.
    public func isQuarantined(version: SemanticVersion, contentSHA256: String) -> Bool {
        quarantined.contains { $0.version == version && $0.contentSHA256 == contentSHA256 }
    }
}

/// A valid document the controller applied: (name, version) is immutable.
public struct AppliedDocument: Sendable, Hashable {
    public var name: String
    public var version: SemanticVersion
    public var contentSHA256: String
    /// The document's YAML as received.
    public var yaml: String
    public var source: String?
    public var appliedAt: Date

    public init(name: String, version: SemanticVersion, contentSHA256: String, yaml: String, source: String?, appliedAt: Date) {
        self.name = name
        self.version = version
        self.contentSHA256 = contentSHA256
        self.yaml = yaml
        self.source = source
        self.appliedAt = appliedAt
    }
}

/// What ``StateStore/beginRun(at:)`` found about the previous run of the controller.
public struct RunRecord: Sendable, Hashable {
    /// A map whose live version was in its rollback window according to the last saved state.
    public struct WindowedMap: Sendable, Hashable {
        public var name: String
        public var version: SemanticVersion
        public var windowEndsAt: Date

        public init(name: String, version: SemanticVersion, windowEndsAt: Date) {
            self.name = name
            self.version = version
            self.windowEndsAt = windowEndsAt
        }
    }

    /// The run just begun.
    public var runID: Int64
    public var startedAt: Date
    /// When the previous run started; nil on the first run against this state directory.
    public var previousRunStartedAt: Date?
    /// False when a previous run exists and never called ``StateStore/endRunCleanly(at:)``: it crashed or was killed.
    public var previousRunEndedCleanly: Bool
    /// Maps in their rollback window in the saved state, whatever the previous run's end.
    ///
    /// A window persisted as open and not promoted was open when the previous
    /// run ended: if it ended uncleanly, that exit is a fault of each of these
    /// versions (see ``crashedVersions``).
    public var mapsInWindow: [WindowedMap]

    public init(
        runID: Int64,
        startedAt: Date,
        previousRunStartedAt: Date?,
        previousRunEndedCleanly: Bool,
        mapsInWindow: [WindowedMap]
    ) {
        self.runID = runID
        self.startedAt = startedAt
        self.previousRunStartedAt = previousRunStartedAt
        self.previousRunEndedCleanly = previousRunEndedCleanly
        self.mapsInWindow = mapsInWindow
    }

    /// The versions an unclean end of the previous run counts a fault against; empty after a clean end.
    public var crashedVersions: [WindowedMap] {
        previousRunEndedCleanly ? [] : mapsInWindow
    }
}
