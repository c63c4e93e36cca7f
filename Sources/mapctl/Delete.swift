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

    @Argument(help: ArgumentHelp("The map.", valueName: "NAME"))
    var name: String

    @Argument(help: ArgumentHelp("The key, as text.", valueName: "KEY"))
    var key: String

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if key.isEmpty { throw ValidationError("KEY must not be empty") }
    }

    func run() async throws {
        try await Console.reporting {
            _ = try await client.makeClient().expectSuccess("DELETE", EntryPath.of(map: name, key: key))
        }
    }
}
