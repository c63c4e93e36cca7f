import ArgumentParser
import Foundation
import MapController
import MapSchema

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send schema documents to the controller; print the plan and the result.",
        discussion: """
            Reads PATH (a schema file, a directory searched recursively for *.yaml and *.yml files as \
            `mapctl validate` searches it, or - for standard input, which may hold many documents \
            separated by ---) and sends every document in one request to the controller. For each map \
            it prints what happened: created, updated FROM → TO (compatible, lossy or breaking, with the \
            changes and the entries dropped), unchanged, or invalid with compiler-style diagnostics on \
            standard error. Nothing is applied when a document is invalid or refused.

            The token is required: --token, $MAPCTL_TOKEN, or the file token in the controller's state \
            directory (--state, default .mapctl), which `mapctl watch` creates.

            Exit status: 0 applied; 1 a document was invalid or refused, or --wait saw a rollback; \
            64 usage error; 69 the controller cannot be reached.

            Examples:
              mapctl apply -f schemas/
              mapctl apply -f schemas/user_cache.yaml --dry-run
              cat maps.yaml | mapctl apply -f - --wait
              mapctl apply -f schemas/ --prune -o json
            """
    )

    @Option(
        name: [.customShort("f"), .customLong("filename")],
        help: ArgumentHelp("A schema file, a directory of them, or - for standard input.", valueName: "PATH")
    )
    var path: String

    @Flag(help: "Show what would change without changing anything.")
    var dryRun = false

    @Flag(help: "Also remove live maps that none of the documents names.")
    var prune = false

    @Flag(help: "After applying, wait until the new versions are live; exit 1 if one is rolled back instead.")
    var wait = false

    @Option(help: ArgumentHelp("How long --wait waits, e.g. 30s or 5m.", valueName: "DURATION"))
    var timeout: String = "5m"

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (try? GoDuration.parse(timeout)) != nil else {
            throw ValidationError("--timeout must be a duration such as 30s or 5m, not '\(timeout)'")
        }
    }

    func run() async throws {
        try await Console.reporting {
            let bundle = try DocumentBundle.load(path)
            let report = try await ApplyRequest(client: client.makeClient(), bundle: bundle, isDryRun: dryRun, prune: prune)
                .send(printRawJSON: output.isJSON)
            let printer = PlanPrinter(mood: dryRun ? .dryRun : .applied, bundle: bundle)
            for entry in report.plan {
                if !output.isJSON { printer.lines(for: entry).forEach(Console.out) }
                printer.diagnostics(for: entry).forEach(Console.err)
            }
            if !output.isJSON && !dryRun {
                for status in report.results where report.plan.contains(where: { $0.name == status.name && $0.action != .unchanged }) {
                    Console.out("\(status.name): \(StatusLine.summary(of: status))")
                }
            }
            if report.hasFailures {
                let failed = report.plan.filter { $0.action == .invalid }.map(\.name)
                throw CommandFailure(
                    "not applied: \(failed.joined(separator: ", ")) (\(dryRun ? "would be " : "")invalid or refused)"
                )
            }
            if wait && !dryRun {
                let seconds = (try? GoDuration.parse(timeout)).map(\.seconds) ?? 300
                try await RolloutWaiter(client: client.makeClient(), timeout: seconds).wait(for: report.plan)
            }
        }
    }
}

/// `POST /v1/apply` with the bundle, shared by `apply` and `diff`.
struct ApplyRequest {
    var client: ControllerClient
    var bundle: DocumentBundle
    var isDryRun: Bool
    var prune: Bool

    /// The report; an error answer becomes a failure with the server's message and the diagnostics remapped.
    func send(printRawJSON: Bool) async throws -> ApplyReport {
        var query: [String: String] = [:]
        if isDryRun { query["dry_run"] = "true" }
        if prune { query["prune"] = "true" }
        var timed = client
        timed.timeout = 600
        let response = try await timed.send("POST", "/v1/apply", query: query, body: bundle.body, contentType: "application/yaml")
        if printRawJSON { Console.out(response.text.trimmingCharacters(in: .whitespacesAndNewlines)) }
        if response.isSuccess { return try ControllerClient.decode(ApplyReport.self, from: response.body) }
        // An invalid apply is a 422 whose error body carries the report (plan with diagnostics). Any other
        // error (a 503 when the state could not be written) is a failure even when a report comes with it.
        struct Refused: Decodable { var report: ApplyReport? }
        if response.status == 422, let report = (try? ControllerClient.decoder.decode(Refused.self, from: response.body))?.report,
            !report.plan.isEmpty
        {
            return report
        }
        var failure = ControllerClient.failure(from: response)
        if let body = try? JSONDecoder().decode(ControllerClient.ErrorBody.self, from: response.body) {
            let diagnostics = body.diagnostics ?? body.error.diagnostics ?? []
            failure.details = diagnostics.map { bundle.locate($0).description }
        }
        if printRawJSON { failure.message = "" }
        if printRawJSON { failure.details = [] }
        throw failure
    }
}
