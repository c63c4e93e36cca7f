import ArgumentParser
import Foundation
import MapServer

@main
struct Mapctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mapctl",
        abstract: "A GitOps controller for concurrent in-memory maps.",
        discussion: """
            Each map is described by a versioned YAML schema file. `mapctl watch DIR` runs the \
            controller: it hosts a live, thread-safe map per schema, rebuilds a map with its data when \
            its version changes, and rolls a bad version back on its own. The other commands talk to a \
            running controller over HTTP, in the manner of kubectl.

            The client commands find the controller with --server or $MAPCTL_SERVER (default \
            http://127.0.0.1:7468) and read the token from --token, $MAPCTL_TOKEN or the state \
            directory (--state, default .mapctl). These options, -o/--output and --no-color go \
            before or after the command: mapctl --server URL status is mapctl status --server URL.

            Exit status: 0 success; 1 the operation failed (invalid input, refused rollback, diff found \
            changes); 64 usage error; 69 the controller cannot be reached.

            Examples:
              mapctl watch schemas
              mapctl apply -f schemas/ --wait
              mapctl status
              mapctl rollback user_cache --reason "latency"
            """,
        subcommands: [
            Validate.self, Apply.self, Diff.self, Rollback.self, Status.self, History.self,
            Get.self, Put.self, Delete.self, Watch.self,
        ]
    )

    /// Runs the command line with the global options moved after the command's name, so that
    /// `mapctl --server URL status` works as `mapctl status --server URL` does.
    static func main() async {
        let arguments = GlobalOption.arranged(Array(CommandLine.arguments.dropFirst()))
        if arguments.first == "watch", ProcessInfo.processInfo.environment["MAPCTL_EXECUTOR"] == "nio" {
            EventLoopExecutor.install()
        }
        await main(arguments)
    }
}
