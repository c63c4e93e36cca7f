import ArgumentParser
import Foundation
import MapController

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each map's live and desired version, phase, rollback window, checks, breaker and entries.",
        discussion: """
            One row per map: MAP, LIVE (the version serving), DESIRED (the last valid document received), \
            PHASE (stable, rolling_out, rolled_back, invalid), WINDOW (time left in the rollback window \
            of a version being judged), CHECKS (health checks passed/failed/inconclusive), BREAKER \
            (closed, half_open, open) and ENTRIES. Maps whose live state differs from the desired one \
            (live ≠ desired, quarantined versions, an invalid document, replicas of its fleet serving \
            another version) are marked with * and listed below the table with the reason; on a terminal \
            they are coloured (never with NO_COLOR).

            In a fleet (watch --fleet), REPLICAS counts the replicas serving the version this daemon \
            serves, of those reporting the map (3/3), and a section under the table names the leader and \
            lists each replica: ROLE (leader, follower), LAST SEEN (its last heartbeat) and OTHER LIVE \
            (maps it serves at another version than this daemon).

            With NAME, shows that map in detail (in a fleet, with the leader and a row per replica: its \
            live version, entries and last heartbeat). -o json prints the API's shapes: {"maps": [...]} \
            for all maps, the status object for one.

            Exit status: 0 shown; 1 no such map; 64 usage error; 69 the controller cannot be reached.

            Examples:
              mapctl status
              mapctl status user_cache
              mapctl status -o json | jq '.maps[] | select(.phase != "stable")'
            """
    )

    @Argument(help: ArgumentHelp("One map to show (default: all).", valueName: "NAME"))
    var name: String?

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await Console.reporting {
            let api = client.makeClient()
            let path = name.map { "/v1/maps/\(ControllerClient.pathSegment($0))" } ?? "/v1/maps"
            let data = try await api.expectSuccess("GET", path)
            if output.isJSON {
                Console.out(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                return
            }
            if name != nil {
                let status = try ControllerClient.decode(MapStatus.self, from: data)
                StatusView(statuses: [status], useColor: output.useColor).detail().forEach(Console.out)
            } else {
                struct Maps: Decodable { var maps: [MapStatus] }
                let maps = try ControllerClient.decode(Maps.self, from: data).maps
                if maps.isEmpty {
                    Console.out("no maps: add schema files to the watched directory or run mapctl apply -f PATH")
                    return
                }
                StatusView(statuses: maps, useColor: output.useColor).table().forEach(Console.out)
            }
        }
    }
}

/// The status table and the detail view of one map.
struct StatusView {
    var statuses: [MapStatus]
    var useColor: Bool
    var now = Date()

    func table() -> [String] {
        let fleet = isFleet
        var table = Table(
            header: ["MAP", "LIVE", "DESIRED", "PHASE", "WINDOW", "CHECKS", "BREAKER", "ENTRIES"] + (fleet ? ["REPLICAS"] : []))
        for status in statuses {
            let drift = StatusLine.hasDrift(status)
            table.append(
                [
                    (drift ? "*" : "") + status.name,
                    status.liveVersion ?? "-",
                    status.desiredVersion ?? "-",
                    status.phase.rawValue,
                    StatusLine.timeLeft(until: status.windowEndsAt, now: now),
                    "\(status.checks.passed)/\(status.checks.failed)/\(status.checks.inconclusive)",
                    status.breaker.rawValue,
                    String(status.entries),
                ] + (fleet ? [Self.replicaCell(status)] : []),
                tint: tint(for: status)
            )
        }
        var lines = table.render(useColor: useColor)
        let drifting = statuses.filter(StatusLine.hasDrift)
        if !drifting.isEmpty {
            lines.append("")
            for status in drifting { lines.append(paint("* \(status.name): \(driftText(status))", tint(for: status))) }
        }
        if fleet { lines += fleetSection() }
        return lines
    }

    func detail() -> [String] {
        guard let status = statuses.first else { return [] }
        var rows: [(String, String)] = [
            ("Map", status.name),
            ("Live", status.liveVersion ?? "-"),
            ("Desired", status.desiredVersion ?? "-"),
            ("Phase", status.phase.rawValue),
            ("Strategy", status.strategy ?? "-"),
            ("Entries", String(status.entries)),
            ("Window", status.windowEndsAt.map { "\(StatusLine.timeLeft(until: $0, now: now)) left (ends \(RFC3339.display($0)))" } ?? "-"),
            ("Standby", status.standbyVersion.map { v in v + (status.standbyMode.map { " (\($0))" } ?? "") } ?? "-"),
            ("Checks", "\(status.checks.passed) passed, \(status.checks.failed) failed, \(status.checks.inconclusive) inconclusive"),
            ("Breaker", status.breaker.rawValue),
            ("Quarantined", status.quarantined.isEmpty ? "-" : status.quarantined.joined(separator: ", ")),
        ]
        rows += fleetRows(status)
        if let source = status.source { rows.append(("Source", source)) }
        if let reason = status.reason { rows.append(("Reason", reason)) }
        let width = rows.map(\.0.count).max() ?? 0
        var lines = rows.map { label, value in
            label + ":" + String(repeating: " ", count: width - label.count + 2) + value
        }
        if StatusLine.hasDrift(status) { lines.append(paint("Drift: \(driftText(status))", tint(for: status))) }
        lines += status.diagnostics.map(\.description)
        lines += replicaTable(status)
        return lines
    }

    private func driftText(_ status: MapStatus) -> String {
        var parts: [String] = []
        if status.phase == .invalid { parts.append("the last document is invalid; live \(status.liveVersion ?? "none") untouched") }
        if let desired = status.desiredVersion, status.liveVersion != desired {
            parts.append("live \(status.liveVersion ?? "none") ≠ desired \(desired)")
        }
        if !status.quarantined.isEmpty { parts.append("quarantined \(status.quarantined.joined(separator: ", "))") }
        let others = (status.replicas ?? []).filter { $0.liveVersion != status.liveVersion }
        if !others.isEmpty {
            parts.append(others.map { "\($0.replica) serves \($0.liveVersion ?? "none")" }.joined(separator: ", "))
        }
        if status.phase == .rolledBack && parts.isEmpty { parts.append("rolled back") }
        if let reason = status.reason { parts.append(reason) }
        return parts.joined(separator: "; ")
    }

    private func tint(for status: MapStatus) -> Table.Tint {
        if status.phase == .invalid || status.phase == .rolledBack || status.breaker == .open { return .danger }
        if StatusLine.hasDrift(status) || status.phase == .rollingOut || status.breaker == .halfOpen { return .warning }
        return .none
    }

    func paint(_ text: String, _ tint: Table.Tint) -> String {
        useColor && tint != .none ? tint.ansi + text + "\u{1B}[0m" : text
    }
}
