/// A failed map operation: what went wrong, as a stable code for machines and a message for people.
///
/// Codes are part of the daemon's API (they travel in `{"error": {"code", "message"}}`):
/// `bad_key`, `bad_value`, `bad_json`, `capacity`, `breaker_open`, `injected`, `fault`, `unsupported`.
/// The set may grow, so the type is a struct over a private enum rather than a public enum.
public struct MapError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: String, Sendable, Hashable {
        case badKey = "bad_key"
        case badValue = "bad_value"
        case badJSON = "bad_json"
        case capacity
        case breakerOpen = "breaker_open"
        case injected
        case fault
        case unsupported
    }

    private let base: Code
    /// Human-readable detail.
    public var message: String

    private init(_ base: Code, _ message: String) {
        self.base = base
        self.message = message
    }

    /// The stable machine-readable code, such as `"bad_key"`.
    public var code: String { base.rawValue }

    public var description: String { "\(code): \(message)" }

    /// Whether the caller is to blame (a 4xx in HTTP terms); faults and injected failures are not.
    public var isCallerError: Bool {
        switch base {
        case .badKey, .badValue, .badJSON, .capacity, .unsupported: true
        case .breakerOpen, .injected, .fault: false
        }
    }

    /// A key that does not parse as the map's `key_type` or is over `max_key_bytes`.
    public static func badKey(_ message: String) -> MapError { MapError(.badKey, message) }
    /// A value that does not match the map's `value_type` or is over `max_value_bytes`.
    public static func badValue(_ message: String) -> MapError { MapError(.badValue, message) }
    /// Bytes that are not valid JSON (syntax, UTF-8, depth or size).
    public static func badJSON(_ message: String) -> MapError { MapError(.badJSON, message) }
    /// The map is at `max_entries` and refuses new keys (`on_full: reject`).
    public static func capacity(_ message: String) -> MapError { MapError(.capacity, message) }
    /// The circuit breaker refuses writes (raised by the controller, not by the map).
    public static func breakerOpen(_ message: String) -> MapError { MapError(.breakerOpen, message) }
    /// A failure injected by `fault_injection.error_rate`.
    public static func injected(_ message: String = "injected error (fault_injection.error_rate)") -> MapError {
        MapError(.injected, message)
    }
    /// A failure that is not the caller's: an engine failure or `fault_injection.fault_rate`.
    public static func fault(_ message: String) -> MapError { MapError(.fault, message) }
    /// An operation the map does not support in its configuration.
    public static func unsupported(_ message: String) -> MapError { MapError(.unsupported, message) }
}
