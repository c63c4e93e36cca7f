import Foundation
import Testing

@testable import mapctl

/// `mapctl history` in a git work tree: the table shows the commit as git's short form, JSON the whole.
@Suite("History's SOURCE column")
struct HistoryTableTests {
    static let commit = "8b8aa87d2f0c4e5a9b1c3d7e6f5a4b3c2d1e0f9a"

    @Test(
        "A trailing full commit is shortened to 7 digits; anything else is left alone",
        arguments: [
            ("schemas/users.yaml@\(commit)", "schemas/users.yaml@8b8aa87"),
            ("a@b/users.yaml@\(commit)", "a@b/users.yaml@8b8aa87"),
            ("schemas/users.yaml", "schemas/users.yaml"),
            ("apply:root@vm", "apply:root@vm"),
            ("apply:me@8b8aa87d", "apply:me@8b8aa87d"),
            ("controller", "controller"),
        ]
    )
    func abbreviation(source: String, shown: String) {
        #expect(History.abbreviatingCommit(source) == shown)
    }

    @Test("In a git work tree the table shows @8b8aa87 and -o json the full commit")
    func tableAndJSON() async throws {
        let layout = try DaemonProcess.Layout.make()
        defer { layout.remove() }
        // A detached HEAD is all the controller reads of `.git`.
        let git = layout.root.appendingPathComponent(".git")
        try FileManager.default.createDirectory(at: git, withIntermediateDirectories: true)
        try Data((Self.commit + "\n").utf8).write(to: git.appendingPathComponent("HEAD"))
        try layout.writeSchema("users.yaml", Fixture.schema("users", version: "1.0.0"))

        let session = try await Session.start(layout: layout)
        _ = try await session.waitForStatus("users") { $0["live_version"] as? String == "1.0.0" }
        let table = try await session.mapctl(["history", "users"])
        #expect(table.exitCode == 0, "\(table)")
        #expect(table.stdout.contains("users.yaml@8b8aa87 "), "\(table.stdout)")
        #expect(!table.stdout.contains(Self.commit))
        let entries = try await session.history("users")
        #expect((entries.first?["source"] as? String)?.hasSuffix("users.yaml@\(Self.commit)") == true, "\(entries)")
        _ = try await session.daemon.stop()
    }
}
