import MapController
import MapSchema

/// Lines for an apply's plan, as `apply`, `apply --dry-run` and `diff` print them.
struct PlanPrinter {
    enum Mood {
        /// `diff`: what would change, in nouns ("update 1.0.0 → 1.1.0").
        case diff
        /// `apply --dry-run`: "would update".
        case dryRun
        /// `apply`: what was done ("updated").
        case applied
    }

    var mood: Mood
    var bundle: DocumentBundle?

    /// One headline per map and indented detail lines (changes, entries dropped).
    func lines(for entry: PlanEntry) -> [String] {
        var lines = ["\(entry.name): \(headline(for: entry))"]
        for change in entry.changes { lines.append("    \(change)") }
        if let dropped = entry.entriesDropped, dropped > 0 {
            lines.append("    \(dropped) \(dropped == 1 ? "entry" : "entries") \(mood == .applied ? "dropped" : "would be dropped")")
        }
        if let reason = entry.reason, entry.action != .invalid && entry.action != .quarantined {
            lines.append("    reason: \(reason)")
        }
        return lines
    }

    /// The diagnostics of an invalid entry, compiler style, pointed at the user's files.
    func diagnostics(for entry: PlanEntry) -> [String] {
        var lines = entry.diagnostics.map { (bundle?.locate($0) ?? $0).description }
        if lines.isEmpty && entry.action == .invalid && !entry.isRefused {
            lines.append("\(entry.source ?? entry.name): error: \(entry.reason ?? "invalid")")
        }
        return lines
    }

    /// True when applying the entry changes a live map (what `diff` exits 1 for).
    static func changesLiveState(_ entry: PlanEntry) -> Bool {
        switch entry.action {
        case .create, .update, .prune: true
        case .unchanged, .invalid, .quarantined: false
        }
    }

    private func headline(for entry: PlanEntry) -> String {
        let to = entry.toVersion ?? "?"
        let from = entry.fromVersion ?? "?"
        let change = entry.changeClass.map { " (\($0.rawValue))" } ?? ""
        switch entry.action {
        case .create:
            return "\(verb("create", "created")) \(to)"
        case .update where entry.isDowngrade:
            return "\(verb("downgrade", "downgraded")) \(from) → \(to)\(change)"
        case .update:
            return "\(verb("update", "updated")) \(from) → \(to)\(change)"
        case .unchanged:
            return "unchanged"
        case .invalid where entry.isRefused:
            return "refused \(to)" + (entry.reason.map { " (\($0))" } ?? "")
        case .invalid:
            // The diagnostics follow on stderr; the reason alone when there are none.
            return entry.diagnostics.isEmpty ? entry.reason.map { "invalid (\($0))" } ?? "invalid" : "invalid"
        case .quarantined:
            return "quarantined \(to), not applied" + (entry.reason.map { " (\($0))" } ?? "")
        case .prune:
            return "\(verb("prune", "pruned"))" + (entry.fromVersion.map { " \($0)" } ?? "")
        }
    }

    private func verb(_ base: String, _ past: String) -> String {
        switch mood {
        case .diff: base
        case .dryRun: "would \(base)"
        case .applied: past
        }
    }
}
