import Foundation
import MapController

/// How one map's status reads for a person, in a sentence and in table cells.
enum StatusLine {
    /// "live 1.1.0, rolling_out, window 14m59s left, 1200 entries".
    static func summary(of status: MapStatus, now: Date = Date()) -> String {
        var parts = ["live \(status.liveVersion ?? "none")", status.phase.rawValue]
        if let ends = status.windowEndsAt { parts.append("window \(timeLeft(until: ends, now: now)) left") }
        parts.append("\(status.entries) \(status.entries == 1 ? "entry" : "entries")")
        if !status.quarantined.isEmpty { parts.append("quarantined \(status.quarantined.joined(separator: ", "))") }
        if let reason = status.reason, status.phase != .stable { parts.append(reason) }
        return parts.joined(separator: ", ")
    }

    /// True when the map is not where its desired state says, or (in a fleet) some replica serves another
    /// version than this daemon: drift a person should see.
    static func hasDrift(_ status: MapStatus) -> Bool {
        status.phase == .invalid || status.phase == .rolledBack || !status.quarantined.isEmpty
            || (status.desiredVersion != nil && status.liveVersion != status.desiredVersion)
            || (status.replicas ?? []).contains { $0.liveVersion != status.liveVersion }
    }

    /// A duration left as a person reads it: 14m59s, 2h3m, 9s, or "-" when there is none.
    static func timeLeft(until end: Date?, now: Date = Date()) -> String {
        guard let end else { return "-" }
        var seconds = Int(end.timeIntervalSince(now).rounded(.up))
        if seconds <= 0 { return "0s" }
        let hours = seconds / 3600
        seconds %= 3600
        let minutes = seconds / 60
        seconds %= 60
        if hours > 0 { return "\(hours)h\(minutes)m" }
        if minutes > 0 { return "\(minutes)m\(seconds)s" }
        return "\(seconds)s"
    }
}
