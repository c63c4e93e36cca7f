import Foundation
import Testing

/// `promtool check metrics`, when installed (`apt-get install prometheus`; `.ci/run` installs it).
enum Promtool {
    static var path: String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(directory)/promtool"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// True when promtool is on the PATH: tests that need it are `.enabled(if: Promtool.isInstalled)`,
    /// so that a run without it shows them as skipped instead of passing them silently.
    static var isInstalled: Bool { path != nil }

    /// The reason shown for a test skipped without promtool.
    static let missing: Comment = "promtool is not installed (apt-get install -y prometheus)"

    /// Runs `promtool check metrics` on `text`.
    ///
    /// - Returns: nil when promtool is absent (the caller prints that it skipped), else
    ///   the exit status and what promtool said.
    static func checkMetrics(_ text: [UInt8]) throws -> (status: Int32, output: String)? {
        guard let path else {
            print("SKIPPED promtool check metrics: promtool is not installed (apt-get install -y prometheus)")
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(text))
        try input.fileHandleForWriting.close()
        let said = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: said, as: UTF8.self))
    }
}
