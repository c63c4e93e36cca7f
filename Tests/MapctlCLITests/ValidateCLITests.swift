import Foundation
import Testing

@Suite("mapctl validate, end to end")
struct ValidateCLITests {
    let cli: CLIRunner

    init() throws { cli = try CLIRunner() }

    @Test("Valid schemas exit 0 with a summary and nothing on stderr")
    func valid() async throws {
        let result = try await cli.run(["validate", "schemas"])
        #expect(result.exitCode == 0, "\(result)")
        let count = try FileManager.default.contentsOfDirectory(atPath: CLIRunner.packageRoot.appendingPathComponent("schemas").path)
            .filter { $0.hasSuffix(".yaml") && !$0.hasPrefix(".") }.count
        #expect(count >= 5)
        #expect(result.stdout == "\(count) files, \(count) maps valid, 0 errors\n")
        #expect(result.stderr.isEmpty)
    }

    @Test("Invalid files exit 1 with compiler-style errors on stderr for every file")
    func invalid() async throws {
        let result = try await cli.run(["validate", "examples/bad", "schemas/user_cache.yaml"], environment: ["NO_COLOR": "1"])
        #expect(result.exitCode == 1, "\(result)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains("examples/bad/typos.yaml:4:11: error: unknown key_type 'strng' (did you mean 'string'?)"))
        #expect(
            lines.contains(
                "examples/bad/wrong_strategy_options.yaml:7:1: error: shards applies only to strategy sharded (strategy is mutex)"))
        #expect(Set(lines.map { $0.split(separator: ":")[0] }).count == 6)
        #expect(lines.allSatisfy { $0.contains(": error: ") })
        #expect(!result.stderr.contains("\u{1B}["))
        #expect(result.stdout.hasPrefix("7 files, 1 map valid, "))
    }

    @Test("-o json prints the files, the valid maps and the diagnostics on stdout")
    func json() async throws {
        let result = try await cli.run(["validate", "-o", "json", "examples/bad/typos.yaml", "schemas/routing_table.yaml"])
        #expect(result.exitCode == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["files"] as? Int == 2)
        let valid = try #require(object["valid"] as? [[String: Any]])
        #expect(valid.first?["name"] as? String == "routing_table")
        #expect(valid.first?["version"] as? String == "1.0.0")
        #expect(valid.first?["file"] as? String == "schemas/routing_table.yaml")
        let diagnostics = try #require(object["diagnostics"] as? [[String: Any]])
        #expect(diagnostics.count == 3)
        #expect(diagnostics.first?["file"] as? String == "examples/bad/typos.yaml")
        #expect(diagnostics.first?["line"] as? Int == 4)
        #expect(diagnostics.first?["column"] as? Int == 11)
        #expect(diagnostics.first?["message"] as? String == "unknown key_type 'strng' (did you mean 'string'?)")
        #expect(result.stderr.isEmpty)
    }

    @Test("- reads a schema from stdin")
    func standardInput() async throws {
        let result = try await cli.run(["validate", "-"], stdin: "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: strng\n")
        #expect(result.exitCode == 1)
        #expect(result.stderr == "<stdin>:4:13: error: unknown value_type 'strng' (did you mean 'string'?)\n")
    }

    @Test("fault_injection is accepted only with --enable-fault-injection")
    func faultInjection() async throws {
        let yaml = "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: string\nfault_injection: {error_rate: 0.5}\n"
        let refused = try await cli.run(["validate", "-"], stdin: yaml)
        #expect(refused.exitCode == 1)
        #expect(refused.stderr.contains("fault injection is disabled; start the daemon with --enable-fault-injection"))
        let accepted = try await cli.run(["validate", "--enable-fault-injection", "-"], stdin: yaml)
        #expect(accepted.exitCode == 0, "\(accepted)")
    }

    @Test("No path and an unknown flag are usage errors (64); a missing path is a failure (1)")
    func usage() async throws {
        let none = try await cli.run(["validate"])
        #expect(none.exitCode == 64)
        #expect(none.stderr.contains("give at least one PATH"))
        let flag = try await cli.run(["validate", "--frobnicate", "schemas"])
        #expect(flag.exitCode == 64)
        let format = try await cli.run(["validate", "-o", "yaml", "schemas"])
        #expect(format.exitCode == 64)
        let missing = try await cli.run(["validate", "no/such/dir"])
        #expect(missing.exitCode == 1)
        #expect(missing.stderr == "no/such/dir: error: no such file or directory\n")
    }

    @Test("validate --help describes the command")
    func help() async throws {
        let result = try await cli.run(["validate", "--help"])
        #expect(result.exitCode == 0)
        #expect(result.stdout.contains("USAGE: mapctl validate"))
        #expect(result.stdout.contains("--output"))
    }
}
