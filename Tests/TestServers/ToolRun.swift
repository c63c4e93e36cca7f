import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs a command to its exit with `posix_spawn` and `waitpid`, outputs to files.
///
/// Not Foundation's `Process`: on Linux it learns that a child ended when a socket it hands the child is
/// closed by every holder, and `pg_ctl start` leaves the server it starts holding that socket, so a
/// `waitUntilExit()` on `pg_ctl start` never returns (the tool is left a zombie). `waitpid` on the child's
/// pid sees the exit itself, whoever else holds its descriptors.
enum ToolRun {
    struct Outcome {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs `command` (an absolute path and its arguments) in `directory`, standard input from
    /// `/dev/null`, and waits for it on the calling thread.
    static func run(_ command: [String], in directory: String) throws -> Outcome {
        let scratch = FileManager.default.temporaryDirectory.path
        let token = UUID().uuidString
        let outputPath = "\(scratch)/tool-\(token).stdout"
        let errorsPath = "\(scratch)/tool-\(token).stderr"
        defer {
            unlink(outputPath)
            unlink(errorsPath)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorsPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // The shell changes directory (posix_spawn_file_actions_addchdir_np is not visible from Swift here).
        let shell = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory] + command
        let arguments: [UnsafeMutablePointer<CChar>?] = shell.map { strdup($0) } + [nil]
        defer { for argument in arguments { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, shell[0], &actions, nil, arguments, environ)
        guard spawned == 0 else { throw ToolFailure("cannot start \(command[0]): \(String(cString: strerror(spawned)))") }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw ToolFailure("waitpid for \(command[0]): errno \(errno)") }
        }
        let exited = status & 0x7f == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: errorsPath, encoding: .utf8)) ?? ""
        return Outcome(status: code, output: output, errors: errors)
    }

    /// ``run(_:in:)`` off the concurrency pool (``onOwnThread(_:)``).
    static func runDetached(_ command: [String], in directory: String) async throws -> Outcome {
        try await onOwnThread { try run(command, in: directory) }
    }
}

struct ToolFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
