/// A problem found in a schema file, positioned as a compiler positions it.
///
/// `description` is the line printed on stderr:
/// `schemas/user_cache.yaml:7:12: error: unknown strategy 'shardd' (did you mean 'sharded'?)`.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible, Codable {
    public enum Severity: String, Sendable, Hashable, Codable {
        case error
        case warning
    }

    /// The path as the user gave it (or `<stdin>`, or the apply client's name).
    public var file: String
    /// 1-based; 0 when the problem concerns the file as a whole.
    public var line: Int
    /// 1-based; 0 when the problem concerns the file as a whole.
    public var column: Int
    public var severity: Severity
    public var message: String

    public init(file: String, line: Int, column: Int, severity: Severity = .error, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.severity = severity
        self.message = message
    }

    public var description: String {
        line > 0 ? "\(file):\(line):\(column): \(severity.rawValue): \(message)" : "\(file): \(severity.rawValue): \(message)"
    }
}
