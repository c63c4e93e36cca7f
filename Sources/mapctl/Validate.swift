import ArgumentParser
import Foundation
import MapSchema

/// `mapctl validate PATH...`: checks schema files offline, as a compiler checks sources.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate schema files or directories offline.",
        discussion: """
            Reads each file, each directory (recursively: *.yaml and *.yml, skipping dotfiles and editor \
            temp files) and '-' for stdin, and reports every problem of every file as \
            FILE:LINE:COLUMN: error: MESSAGE on stderr, then a summary.

            Exit status: 0 every map is valid; 1 something is invalid; 64 usage error.

            Examples:
              mapctl validate schemas
              mapctl validate examples/bad/typos.yaml -o json
              git show HEAD:schemas/user_cache.yaml | mapctl validate -
            """
    )

    @OptionGroup var outputOptions: OutputOptions

    @Flag(help: "Accept fault_injection, as the daemon does when started with --enable-fault-injection.")
    var enableFaultInjection = false

    @Argument(help: ArgumentHelp("Schema files or directories; - reads stdin.", valueName: "path"))
    var paths: [String] = []

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one PATH to validate (a file, a directory, or - for stdin)") }
    }

    func run() async throws {
        let set = SchemaLoader.load(paths: paths, options: SchemaDecoder.Options(allowFaultInjection: enableFaultInjection))
        if outputOptions.isJSON {
            print(try ValidationReport(set).json())
        } else {
            let color = outputOptions.usesColor(on: STDERR_FILENO)
            for diagnostic in set.diagnostics { Terminal.printError(Self.format(diagnostic, color: color)) }
            print(Self.summary(set))
        }
        if set.errorCount > 0 || !set.invalid.isEmpty { throw ExitCode.failure }
    }

    static func format(_ diagnostic: Diagnostic, color: Bool) -> String {
        let location = diagnostic.line > 0 ? "\(diagnostic.file):\(diagnostic.line):\(diagnostic.column)" : diagnostic.file
        let severity =
            diagnostic.severity == .error
            ? Terminal.paint("error:", .red, enabled: color) : Terminal.paint("warning:", .yellow, enabled: color)
        return "\(location): \(severity) \(diagnostic.message)"
    }

    /// `3 files, 2 maps valid, 1 error`.
    static func summary(_ set: SchemaSet) -> String {
        func plural(_ count: Int, _ word: String) -> String { "\(count) \(word)\(count == 1 ? "" : "s")" }
        return "\(plural(set.filesScanned, "file")), \(plural(set.documents.count, "map")) valid, \(plural(set.errorCount, "error"))"
    }
}

/// The JSON shape of `mapctl validate -o json`.
struct ValidationReport: Encodable {
    struct Valid: Encodable {
        var name: String
        var version: String
        var file: String
        var contentSHA256: String

        enum CodingKeys: String, CodingKey {
            case name, version, file
            case contentSHA256 = "content_sha256"
        }
    }

    struct Problem: Encodable {
        var file: String
        var line: Int
        var column: Int
        var severity: String
        var message: String
    }

    var files: Int
    var valid: [Valid]
    var diagnostics: [Problem]

    init(_ set: SchemaSet) {
        files = set.filesScanned
        valid = set.documents.map {
            Valid(name: $0.schema.name, version: $0.schema.version.description, file: $0.file, contentSHA256: $0.contentSHA256)
        }
        diagnostics = set.diagnostics.map {
            Problem(file: $0.file, line: $0.line, column: $0.column, severity: $0.severity.rawValue, message: $0.message)
        }
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
