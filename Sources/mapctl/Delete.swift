import ArgumentParser
import Foundation

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete one entry.",
        discussion: """
            Removes KEY from the live map NAME.

            Exit status: 0 deleted; 1 no such key or map, or refused; 64 usage error; 69 the controller \
            cannot be reached.

            Example:
              mapctl delete user_cache u1
            """
    )

    @OptionGroup var entry: EntryArguments

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await Console.reporting {
            _ = try await client.makeClient().expectSuccess("DELETE", entry.path)
        }
    }
}
