import ArgumentParser

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a command reports: text for people, JSON for scripts.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text
    case json
}

/// `-o/--output text|json` and `--no-color`, shared by every command that reports
/// (`@OptionGroup var output: OutputOptions`).
struct OutputOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Output format: text for people, json for scripts.")
    var output: OutputFormat = .text

    @Flag(help: "Never colour the output, as with NO_COLOR set.")
    var noColor = false

    var isJSON: Bool { output == .json }

    /// Colour on stdout: only on a terminal, never with `--no-color` or `NO_COLOR`.
    var useColor: Bool { usesColor(on: STDOUT_FILENO) }

    /// Colour on `descriptor`: only on a terminal, never with `--no-color` or `NO_COLOR`.
    func usesColor(on descriptor: Int32) -> Bool {
        !noColor && Terminal.usesColor(on: descriptor)
    }
}

/// Decides on and applies terminal colour (https://no-color.org).
enum Terminal {
    /// True when `descriptor` is a TTY and `NO_COLOR` is not set.
    static func usesColor(on descriptor: Int32) -> Bool {
        isatty(descriptor) == 1 && getenv("NO_COLOR") == nil
    }

    enum Color: String {
        case red = "31"
        case green = "32"
        case yellow = "33"
        case bold = "1"
    }

    /// `text` wrapped in an ANSI colour when `enabled`.
    static func paint(_ text: String, _ color: Color, enabled: Bool) -> String {
        enabled ? "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// Writes a line to stderr.
    static func printError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            written += count
        }
    }
}
