import Foundation
import Testing

@testable import mapctl

#if canImport(Glibc)
    import Glibc
#endif

/// Global options before or after the command, as kubectl and argocd take them.
@Suite("Global options before or after the command")
struct GlobalOptionsTests {
    static func accepts(_ command: String) -> Set<GlobalOption>? { GlobalOption.acceptedByCommand[command] }

    @Test(
        "Options before the command move to just after its name",
        arguments: [
            (["--server", "http://h:1", "status"], ["status", "--server", "http://h:1"]),
            (["--server=http://h:1", "status", "user_cache"], ["status", "--server=http://h:1", "user_cache"]),
            (["-o", "json", "--no-color", "history", "m"], ["history", "-o", "json", "--no-color", "m"]),
            (
                ["--output=json", "--token", "t", "--state", "s", "apply", "-f", "x"],
                ["apply", "--output=json", "--token", "t", "--state", "s", "-f", "x"]
            ),
            (["--state", "status", "watch", "dir"], ["watch", "--state", "status", "dir"]),
            (["--server", "http://h:1", "put", "m", "k", "--", "-1"], ["put", "--server", "http://h:1", "m", "k", "--", "-1"]),
        ]
    )
    func moved(arguments: [String], expected: [String]) {
        #expect(GlobalOption.arranged(arguments, acceptedBy: Self.accepts) == expected)
    }

    @Test(
        "Anything else is left for ArgumentParser to judge",
        arguments: [
            ["status", "--server", "http://h:1"],  // already after the command
            ["--server", "http://h:1", "validate", "x.yaml"],  // validate has no --server
            ["--server", "http://h:1", "watch", "dir"],  // watch has --state only
            ["-o", "json", "get", "m", "k"],  // get has no -o
            ["--server", "http://h:1"],  // no command
            ["--server"],  // no value
            ["--server", "http://h:1", "--", "status"],  // `--` ends the options
            ["--server", "http://h:1", "frobnicate"],  // no such command
            ["--verbose", "--server", "http://h:1", "status"],  // not a global option first
            ["--no-color=yes", "status"],  // a flag takes no value
            [],
        ]
    )
    func unchanged(arguments: [String]) {
        #expect(GlobalOption.arranged(arguments, acceptedBy: Self.accepts) == arguments)
    }

    @Test("The table of accepted options matches every command's --help", arguments: CLIUsageTests.commands)
    func tableMatchesHelp(command: String) async throws {
        let help = try await CLIRunner().run([command, "--help"], environment: ["COLUMNS": "200"])
        let accepted = try #require(GlobalOption.acceptedByCommand[command])
        for option in GlobalOption.allCases {
            let shown = help.stdout.contains(option.longName + (option.takesValue ? " <" : ""))
            #expect(shown == accepted.contains(option), "\(command) \(option.longName): help shows it: \(shown)")
        }
    }
}

/// The real binary, with the options in both places.
@Suite("Global options with the real binary")
struct GlobalOptionsCLITests {
    let cli: CLIRunner

    init() throws { cli = try CLIRunner() }

    @Test(
        "--server works before and after the command, in both spellings",
        arguments: [
            ["--server", "URL", "status"], ["status", "--server", "URL"], ["--server=URL", "status"], ["status", "--server=URL"],
            ["--server", "URL", "-o", "json", "status", "user_cache"], ["status", "user_cache", "-o", "json", "--server", "URL"],
            ["--server", "URL", "--token", "t", "rollback", "user_cache"], ["--server", "URL", "get", "user_cache", "k"],
        ])
    func serverInEitherPlace(template: [String]) async throws {
        let server = try CLIUsageTests.closedPortURL()
        let arguments = template.map { $0.replacingOccurrences(of: "URL", with: server) }
        let result = try await cli.run(arguments, environment: ["MAPCTL_SERVER": "http://127.0.0.1:1"])
        // 69 naming the given server, not 64 (usage) nor the environment's server.
        #expect(result.exitCode == 69, "\(arguments): \(result)")
        #expect(result.stderr.contains("cannot reach the controller at \(server) "), "\(arguments): \(result)")
    }

    @Test("-o json and --no-color before validate")
    func outputBeforeValidate() async throws {
        let before = try await cli.run(["-o", "json", "--no-color", "validate", "schemas"])
        let after = try await cli.run(["validate", "schemas", "-o", "json", "--no-color"])
        #expect(before.exitCode == 0, "\(before)")
        #expect(before.stdout.hasPrefix("{"), "\(before)")
        #expect(before.stdout == after.stdout)
    }

    @Test("--state before watch is the daemon's state directory")
    func stateBeforeWatch() async throws {
        let layout = try DaemonProcess.Layout.make()
        defer { layout.remove() }
        let process = try cli.launch(
            ["--state", layout.state.path, "watch", layout.schemas.path, "--listen", "127.0.0.1:0"],
            environment: ["NO_COLOR": "1"], directory: layout.work)
        let output = try await process.waitForOutput(containing: "listening on http://")
        process.signal(SIGTERM)
        let result = try await process.wait()
        #expect(output != nil, "\(result)")
        #expect(result.exitCode == 0, "\(result)")
        #expect(FileManager.default.fileExists(atPath: layout.state.appendingPathComponent("token").path))
    }

    @Test(
        "A global option before a command that does not take it is a usage error",
        arguments: [
            ["--server", "http://127.0.0.1:1", "validate", "schemas"], ["-o", "json", "get", "m", "k"],
            ["--token", "t", "watch", "schemas"],
        ]
    )
    func notAccepted(arguments: [String]) async throws {
        let result = try await cli.run(arguments)
        #expect(result.exitCode == 64, "\(arguments): \(result)")
        #expect(result.stderr.contains("Unknown option"), "\(result)")
    }
}
