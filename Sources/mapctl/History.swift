import ArgumentParser
import Foundation
import MapController

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a map's record of applies, promotions, rollbacks and quarantines.",
        discussion: """
            Oldest first, one row per event: TIME (local), ACTION (apply, promote, rollback, quarantine, \
            invalid), VERSION, FROM (the version before), REPLICA (in a fleet: the replica that acted), \
            SOURCE (the file with its git commit shortened to 7 digits as git log --oneline prints it, or \
            the apply client), SHA (the first 12 hex digits of the document's SHA-256) and REASON. In a \
            fleet (watch --fleet) the history is the fleet's, shared by every replica. Any version listed \
            here can be restored:

              mapctl rollback NAME --to VERSION

            -o json prints the history entries as the API returns them: time (RFC 3339), action, \
            version, from_version, source (with the full commit), content_sha256, reason, and in a \
            fleet replica; newest last.

            Exit status: 0 shown; 1 no such map; 64 usage error; 69 the controller cannot be reached.

            Examples:
              mapctl history user_cache
              mapctl history user_cache -o json | jq '.[] | select(.action == "rollback")'
            """
    )

    @Argument(help: ArgumentHelp("The map.", valueName: "NAME"))
    var name: String

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await Console.reporting {
            let data = try await client.makeClient().expectSuccess("GET", "/v1/maps/\(ControllerClient.pathSegment(name))/history")
            if output.isJSON {
                Console.out(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                return
            }
            let entries = try Self.decodeEntries(data)
            if entries.isEmpty {
                Console.out("\(name): no history")
                return
            }
            Self.table(entries, useColor: output.useColor).forEach(Console.out)
        }
    }

    /// The table a person reads, oldest first; a REPLICA column when the entries name replicas (a fleet).
    static func table(_ entries: [HistoryEntry], useColor: Bool) -> [String] {
        // A fleet's history names the replica that acted on each entry; a daemon alone names none.
        let fleet = entries.contains { $0.replica != nil }
        var table = Table(header: ["TIME", "ACTION", "VERSION", "FROM"] + (fleet ? ["REPLICA"] : []) + ["SOURCE", "SHA", "REASON"])
        for entry in entries {
            let tint: Table.Tint =
                switch entry.action {
                case .rollback, .invalid: .danger
                case .quarantine: .warning
                case .promote: .good
                case .apply: .none
                }
            table.append(
                [
                    RFC3339.display(entry.time), entry.action.rawValue, entry.version ?? "-", entry.fromVersion ?? "-",
                ] + (fleet ? [entry.replica ?? "-"] : []) + [
                    entry.source.map(Self.abbreviatingCommit) ?? "-", entry.contentSHA256.map { String($0.prefix(12)) } ?? "-",
                    entry.reason ?? "",
                ],
                tint: tint
            )
        }
        return table.render(useColor: useColor)
    }

    /// `schemas/users.yaml@8b8aa87`: a source's trailing full git commit shortened to 7 hex digits,
    /// as `git log --oneline` prints it, so that the table fits a terminal. `-o json` keeps it whole.
    static func abbreviatingCommit(_ source: String) -> String {
        guard let at = source.lastIndex(of: "@") else { return source }
        let commit = source[source.index(after: at)...]
        guard commit.count == 40 || commit.count == 64, commit.allSatisfy(\.isHexDigit) else { return source }
        return String(source[...at]) + commit.prefix(7)
    }

    /// The entries, whether the API sends them as a bare array or under `history` / `entries`.
    static func decodeEntries(_ data: Data) throws -> [HistoryEntry] {
        if let entries = try? ControllerClient.decoder.decode([HistoryEntry].self, from: data) { return entries }
        struct Wrapped: Decodable {
            var history: [HistoryEntry]?
            var entries: [HistoryEntry]?
        }
        let wrapped = try ControllerClient.decode(Wrapped.self, from: data)
        guard let entries = wrapped.history ?? wrapped.entries else {
            throw CommandFailure("unexpected answer from the controller: no history entries")
        }
        return entries
    }
}
