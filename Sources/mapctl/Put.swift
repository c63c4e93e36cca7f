import ArgumentParser
import Foundation

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one entry; VALUE is JSON.",
        discussion: """
            Writes VALUE under KEY in the live map NAME. VALUE is a JSON value checked against the map's \
            value type: 42, true, "text" (quote strings for the shell: '"text"'), {"id": "u1"}; - reads \
            it from standard input. The command returns when the write is acknowledged.

            Exit status: 0 written; 1 refused (not JSON, wrong type, too large, no such map, circuit \
            breaker open); 64 usage error; 69 the controller cannot be reached.

            Examples:
              mapctl put counters hits 42
              mapctl put user_cache u1 '{"id": "u1", "name": "Ada"}'
              jq -c . user.json | mapctl put user_cache u2 -
            """
    )

    @OptionGroup var entry: EntryArguments

    @Argument(help: ArgumentHelp("The value as JSON, or - for standard input.", valueName: "VALUE"))
    var value: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await Console.reporting {
            let body = value == "-" ? FileHandle.standardInput.readDataToEndOfFile() : Data(value.utf8)
            guard (try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])) != nil else {
                throw CommandFailure(
                    "VALUE is not JSON: write strings in quotes ('\"text\"'), numbers, true/false, arrays or objects"
                )
            }
            _ = try await client.makeClient().expectSuccess(
                "PUT", entry.path, body: body, contentType: "application/json"
            )
        }
    }
}
