import ArgumentParser
import Foundation

/// The exit codes the README and every command's `--help` promise, which users' scripts rely on.
enum ExitStatus {
    /// The operation failed: invalid input, a refused rollback, `diff` found changes.
    static let failure = ExitCode(1)
    /// `diff` itself failed (kubectl diff's "> 1").
    static let diffError = ExitCode(2)
    /// A usage error (ArgumentParser's own `ExitCode.validationFailure`, EX_USAGE).
    static let usage = ExitCode.validationFailure
    /// The controller cannot be reached (EX_UNAVAILABLE).
    static let unavailable = ExitCode(69)
}

/// An error a command reports to the user before exiting with a code of its own.
///
/// `Mapctl` commands throw it instead of `ExitCode` so that the message and the
/// code travel together; ``Console/reporting(_:)`` prints and converts it.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    /// Compiler-style lines printed after the message.
    var details: [String]
    var exitCode: ExitCode

    init(_ message: String, details: [String] = [], exitCode: ExitCode = ExitStatus.failure) {
        self.message = message
        self.details = details
        self.exitCode = exitCode
    }

    var description: String { message }

    /// The controller is not there: say how to start it.
    static func unreachable(server: String, reason: String) -> CommandFailure {
        CommandFailure(
            "cannot reach the controller at \(server) (\(reason)); start it with: mapctl watch schemas",
            exitCode: ExitStatus.unavailable
        )
    }
}

/// Writing to the terminal's streams.
enum Console {
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func err(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Runs a command body, turning a ``CommandFailure`` into its message on stderr and its exit code.
    static func reporting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as CommandFailure {
            if !failure.message.isEmpty { err("mapctl: \(failure.message)") }
            for line in failure.details { err(line) }
            throw failure.exitCode
        }
    }
}

extension Duration {
    /// Whole and fractional seconds, for time-outs and sleeps.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
