import ArgumentParser
import Foundation

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one entry's value as JSON.",
        discussion: """
            Reads KEY from the live map NAME and prints its value as JSON (42, "text", {"id": "u1"}). \
            KEY is sent percent-encoded, so any key (with /, spaces, %) works as written.

            Exit status: 0 found; 1 no such key or map, or a bad key; 64 usage error; 69 the \
            controller cannot be reached.

            Examples:
              mapctl get user_cache u1
              mapctl get counters 42 | jq .
            """
    )

    @OptionGroup var entry: EntryArguments

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await Console.reporting {
            let data = try await client.makeClient().expectJSON("GET", entry.path)
            Console.out(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}
