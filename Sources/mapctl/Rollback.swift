import ArgumentParser
import Foundation
import MapController

struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Roll a map back to its predecessor, or to any version in its history.",
        discussion: """
            Without --to, switches NAME back to the version kept during the rollback window (a warm \
            standby is a switch with no data lost; a cold one is copied back). With --to, rebuilds NAME \
            at VERSION from its history. The version rolled back from is quarantined: the controller \
            does not apply it again from the directory until a document with another version or other \
            content arrives. The reason is recorded in `mapctl history`.

            The token is required (--token, $MAPCTL_TOKEN, or the state directory's token file).

            Exit status: 0 rolled back; 1 refused (nothing to roll back to, unknown map or version); \
            64 usage error; 69 the controller cannot be reached.

            Examples:
              mapctl rollback user_cache
              mapctl rollback user_cache --to 1.2.0 --reason "p99 regression in checkout"
            """
    )

    @Argument(help: ArgumentHelp("The map to roll back.", valueName: "NAME"))
    var name: String

    @Option(help: ArgumentHelp("A version from the map's history (default: the predecessor).", valueName: "VERSION"))
    var to: String?

    @Option(help: ArgumentHelp("Why, for the history.", valueName: "TEXT"))
    var reason: String?

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await Console.reporting {
            struct Body: Encodable {
                var to: String?
                var reason: String?
            }
            let body = try JSONEncoder().encode(Body(to: to, reason: reason))
            let data = try await client.makeClient().expectSuccess(
                "POST", "/v1/maps/\(ControllerClient.pathSegment(name))/rollback", body: body, contentType: "application/json"
            )
            if output.isJSON {
                Console.out(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                return
            }
            let status = try ControllerClient.decode(MapStatus.self, from: data)
            Console.out("\(status.name): rolled back to \(status.liveVersion ?? "nothing") (\(StatusLine.summary(of: status)))")
        }
    }
}
