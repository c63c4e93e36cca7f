import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The command line's contract without a daemon: help texts, usage errors (64) and an
/// unreachable controller (69), as users' scripts rely on them.
@Suite("mapctl usage and exit codes, without a daemon")
struct CLIUsageTests {
    let cli: CLIRunner

    init() throws { cli = try CLIRunner() }

    static let commands = ["validate", "apply", "diff", "rollback", "status", "history", "watch", "get", "put", "delete"]

    @Test("Every command has --help with an abstract, examples and exit 0", arguments: commands)
    func help(command: String) async throws {
        let result = try await cli.run([command, "--help"])
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.stdout.contains("OVERVIEW: "))
        #expect(result.stdout.contains("USAGE: mapctl \(command)"))
        if command != "validate" { #expect(result.stdout.contains("Exit status:")) }
    }

    @Test("On an 80-column terminal no example line of --help wraps", arguments: [""] + commands)
    func examplesDoNotWrap(command: String) async throws {
        let result = try await cli.run((command.isEmpty ? [] : [command]) + ["--help"], environment: ["COLUMNS": "80"])
        var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).drop { !$0.hasPrefix("Example") }
        #expect(!lines.isEmpty, "\(command): no examples")
        lines = lines.dropFirst().prefix { !$0.isEmpty }
        // An example is indented; a line the help wrapped to the terminal starts at column 0.
        for line in lines { #expect(line.hasPrefix("  ") && line.count <= 80, "\(command): '\(line)'") }
    }

    @Test("The root help lists every command")
    func rootHelp() async throws {
        let result = try await cli.run(["--help"])
        #expect(result.exitCode == 0)
        for command in Self.commands { #expect(result.stdout.contains("  \(command) "), "missing \(command)") }
    }

    @Test(
        "Usage errors exit 64 with a message",
        arguments: [
            ["frobnicate"],
            ["apply"],
            ["apply", "-f"],
            ["diff"],
            ["apply", "-f", "x.yaml", "--timeout", "soon"],
            ["status", "-o", "yaml"],
            ["status", "--server", "not a url"],
            ["status", "--server", "ftp://127.0.0.1:7468"],
            ["rollback"],
            ["history"],
            ["get", "user_cache"],
            ["get", "user_cache", ""],
            ["put", "user_cache", "k"],
            ["delete"],
            ["watch"],
            ["watch", "schemas", "--listen", "nope"],
            ["watch", "schemas", "--listen", "127.0.0.1:99999"],
            ["watch", "schemas", "--listen", "::1:80"],
            ["watch", "schemas", "--poll", "often"],
            ["watch", "schemas", "--log-format", "xml"],
            ["watch", "does-not-exist"],
        ]
    )
    func usageError(arguments: [String]) async throws {
        let result = try await cli.run(arguments, environment: ["NO_COLOR": "1"])
        #expect(result.exitCode == 64, "\(arguments): \(result)")
        #expect(result.stderr.contains("Error: ") || result.stderr.contains("Usage: "), "\(result)")
        #expect(result.stdout.isEmpty)
    }

    @Test("MAPCTL_SERVER that is not a URL is a usage error")
    func badServerEnvironment() async throws {
        let result = try await cli.run(["status"], environment: ["MAPCTL_SERVER": "localhost 7468"])
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("MAPCTL_SERVER"))
    }

    @Test(
        "Every client command exits 69 against a closed port, saying how to start the controller",
        arguments: [
            ["status"],
            ["status", "user_cache"],
            ["history", "user_cache"],
            ["rollback", "user_cache"],
            ["rollback", "user_cache", "--to", "1.0.0", "--reason", "test"],
            ["get", "user_cache", "k"],
            ["put", "user_cache", "k", "42"],
            ["delete", "user_cache", "k"],
            ["apply", "-f", "schemas"],
            ["apply", "-f", "schemas", "--dry-run"],
            ["diff", "-f", "schemas"],
            ["status", "-o", "json"],
        ]
    )
    func unreachable(arguments: [String]) async throws {
        let server = try Self.closedPortURL()
        let result = try await cli.run(arguments + ["--server", server], timeout: .seconds(20))
        #expect(result.exitCode == 69, "\(arguments): \(result)")
        #expect(
            result.stderr.contains("mapctl: cannot reach the controller at \(server) (connection refused); start it with: mapctl watch"))
        #expect(result.stdout.isEmpty)
    }

    @Test("MAPCTL_SERVER is used when --server is absent, and the default is 127.0.0.1:7468")
    func serverFromEnvironment() async throws {
        let server = try Self.closedPortURL()
        let fromEnvironment = try await cli.run(["status"], environment: ["MAPCTL_SERVER": server])
        #expect(fromEnvironment.exitCode == 69)
        #expect(fromEnvironment.stderr.contains(server))
        let flagWins = try await cli.run(["status", "--server", server], environment: ["MAPCTL_SERVER": "http://127.0.0.1:1"])
        #expect(flagWins.stderr.contains(server))
    }

    @Test("apply and diff of a missing path fail before contacting anyone: apply 1, diff 2")
    func missingPath() async throws {
        let server = try Self.closedPortURL()
        let apply = try await cli.run(["apply", "-f", "no/such/dir", "--server", server])
        #expect(apply.exitCode == 1, "\(apply)")
        #expect(apply.stderr.contains("no/such/dir"))
        let diff = try await cli.run(["diff", "-f", "no/such/dir", "--server", server])
        #expect(diff.exitCode == 2, "\(diff)")
    }

    @Test("put refuses a VALUE that is not JSON with a hint, exit 1")
    func putNotJSON() async throws {
        let server = try Self.closedPortURL()
        let result = try await cli.run(["put", "user_cache", "k", "not json", "--server", server])
        #expect(result.exitCode == 1, "\(result)")
        #expect(result.stderr.contains("not JSON"))
    }

    /// A URL on a loopback port that was free a moment ago and has nothing listening.
    static func closedPortURL() throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw DaemonError("socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw DaemonError("bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw DaemonError("getsockname() failed") }
        return "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
    }
}
