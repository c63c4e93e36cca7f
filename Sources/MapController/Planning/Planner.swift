import MapSchema

/// What one valid document asks of its map, and what the controller will do about it.
struct PlanDecision: Sendable {
    enum Kind: Sendable, Equatable {
        /// Nothing is live: build the first instance.
        case create
        /// A higher version: rebuild, carrying data unless the change is breaking.
        case update(ChangeKind?, carriesData: Bool)
        /// A lower version: applied as a manual rollback through git.
        case downgrade(carriesData: Bool)
        /// The live version with the same content: nothing changes.
        case unchanged
        /// Not applied, and the map's last document is reported invalid: same version with
        /// other content, or a breaking change without a major bump.
        case refused(String)
        /// The (version, content) was rolled back and is not applied again.
        case quarantined(String)
    }

    var kind: Kind
    var entry: PlanEntry
}

/// Classifies documents against the live state. Pure: the caller passes what it knows.
enum Planner {
    /// What the planner needs to know of the map.
    struct Live {
        var schema: MapSchema
        var contentSHA256: String
        /// Entries the live instance holds now.
        var entries: Int
        /// How many entries `schema` would drop (DynamicMap.entriesDropped(by:)).
        var entriesDropped: (MapSchema) -> Int
    }

    /// - Parameters:
    ///   - document: The valid document received.
    ///   - live: The live version, nil when nothing is live.
    ///   - knownContent: The content hash of the document once applied at the document's version, if any.
    ///   - quarantine: The reason, when (version, content) is quarantined.
    static func plan(
        _ document: SchemaDocument,
        source: String,
        live: Live?,
        knownContent: String?,
        quarantine: String?
    ) -> PlanDecision {
        let schema = document.schema
        let version = schema.version.description
        var entry = PlanEntry(name: schema.name, action: .create, toVersion: version, source: source)
        if let quarantine {
            entry.action = .quarantined
            entry.fromVersion = live?.schema.version.description
            entry.reason = "\(version) was rolled back (\(quarantine)); it is not applied again until the version or the content changes"
            return PlanDecision(kind: .quarantined(quarantine), entry: entry)
        }
        if let knownContent, knownContent != document.contentSHA256,
            live.map({ !$0.schema.version.hasSamePrecedence(as: schema.version) || $0.contentSHA256 != document.contentSHA256 }) ?? true
        {
            return refused(entry, live: live, "version \(version) was applied before with other content: bump the version")
        }
        guard let live else {
            return PlanDecision(kind: .create, entry: entry)
        }
        entry.fromVersion = live.schema.version.description
        if live.schema.version.hasSamePrecedence(as: schema.version) {
            if live.contentSHA256 == document.contentSHA256 {
                entry.action = .unchanged
                return PlanDecision(kind: .unchanged, entry: entry)
            }
            return refused(entry, live: live, "version \(version) is live with other content: bump the version")
        }
        let changes = SchemaCompatibility.changes(from: live.schema, to: schema)
        let overall = SchemaCompatibility.overallKind(changes)
        entry.action = .update
        entry.changes = changes.map(\.description)
        entry.changeClass = overall.map(PlanEntry.ChangeClass.init)
        let carriesData = overall != .breaking
        if !carriesData {
            entry.entriesDropped = live.entries
        } else if overall == .lossy {
            entry.entriesDropped = live.entriesDropped(schema)
        }
        if schema.version < live.schema.version {
            entry.isDowngrade = true
            entry.reason = "downgrade \(live.schema.version) → \(version): applied as a rollback"
            return PlanDecision(kind: .downgrade(carriesData: carriesData), entry: entry)
        }
        if let refusal = SchemaCompatibility.refusal(from: live.schema, to: schema, changes: changes) {
            return refused(entry, live: live, refusal)
        }
        if !carriesData {
            entry.reason = "breaking change with a major version bump: the new instance starts empty"
        }
        return PlanDecision(kind: .update(overall, carriesData: carriesData), entry: entry)
    }

    fileprivate static func refused(_ entry: PlanEntry, live: Live?, _ reason: String) -> PlanDecision {
        var entry = entry
        entry.action = .invalid
        entry.reason = reason
        entry.fromVersion = live?.schema.version.description
        entry.isRefused = true
        return PlanDecision(kind: .refused(reason), entry: entry)
    }
}

extension PlanDecision {
    /// Whether carrying the decision out builds a new live instance.
    var changesLive: Bool {
        switch kind {
        case .create, .update, .downgrade: true
        case .unchanged, .refused, .quarantined: false
        }
    }

    /// The same document, refused for `reason` (a binding the new version does not fit).
    func refusing(_ reason: String, live: Planner.Live?) -> PlanDecision {
        Planner.refused(entry, live: live, reason)
    }
}

extension PlanEntry.ChangeClass {
    init(_ kind: ChangeKind) {
        switch kind {
        case .compatible: self = .compatible
        case .lossy: self = .lossy
        case .breaking: self = .breaking
        }
    }
}
