/// A failure of the fleet's shared state: the database unreachable, a migration refused, a bad URL.
public struct FleetError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The `--fleet` URL cannot be used.
        case badLocation = "bad_location"
        /// PostgreSQL cannot be reached or dropped the connection: the replica is degraded.
        case unavailable
        /// The database holds tables from a newer mapctl.
        case newerSchema = "newer_schema"
        /// A write conflicts with what the fleet already holds (another document under the same version).
        case conflict
        /// Anything else the database refused.
        case database
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
