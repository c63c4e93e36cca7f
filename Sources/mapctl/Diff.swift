import ArgumentParser
import Foundation
import MapController

struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what an apply would change, per map, without changing anything.",
        discussion: """
            Sends the documents of PATH (a file, a directory searched recursively, or - for standard \
            input) to the controller as a dry run and prints, per map: create VERSION; update FROM → TO \
            (compatible, lossy or breaking) with each change and the entries that would be dropped; \
            unchanged; or invalid, with compiler-style diagnostics on standard error.

            Exit status: as kubectl diff, 0 nothing would change; 1 something would change; 2 an error \
            (an invalid document, a refused request); 64 usage error; 69 the controller cannot be reached.

            Examples:
              mapctl diff -f schemas/
              mapctl diff -f schemas/user_cache.yaml --server http://10.0.0.5:7468
              git show HEAD:schemas/user_cache.yaml | mapctl diff -f -
            """
    )

    @Option(
        name: [.customShort("f"), .customLong("filename")],
        help: ArgumentHelp("A schema file, a directory of them, or - for standard input.", valueName: "PATH")
    )
    var path: String

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await Console.reporting {
            let bundle: DocumentBundle
            let report: ApplyReport
            do {
                bundle = try DocumentBundle.load(path)
                report = try await ApplyRequest(client: client.makeClient(), bundle: bundle, isDryRun: true, prune: false)
                    .send(printRawJSON: output.isJSON)
            } catch var failure as CommandFailure {
                // 1 means "changes" for diff; its own failures are 2, as kubectl diff's.
                if failure.exitCode == ExitStatus.failure { failure.exitCode = ExitStatus.diffError }
                throw failure
            }
            let printer = PlanPrinter(mood: .diff, bundle: bundle)
            for entry in report.plan {
                if !output.isJSON { printer.lines(for: entry).forEach(Console.out) }
                printer.diagnostics(for: entry).forEach(Console.err)
            }
            if report.hasFailures { throw CommandFailure("", exitCode: ExitStatus.diffError) }
            if report.plan.contains(where: PlanPrinter.changesLiveState) { throw ExitStatus.failure }
        }
    }
}
