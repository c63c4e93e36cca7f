/// A failure of the state database, with what to do about it where there is something to do.
public struct StateStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case cannotOpen = "cannot_open"
            case corrupt
            case newerSchema = "newer_schema"
            case documentConflict = "document_conflict"
            case invalidArgument = "invalid_argument"
            case io
            case lostState = "lost_state"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The directory or the file cannot be created or opened.
        public static let cannotOpen = Code(.cannotOpen)
        /// The file is not a SQLite database, or its content does not make sense.
        public static let corrupt = Code(.corrupt)
        /// The database was written by a newer mapctl with migrations this one does not know.
        public static let newerSchema = Code(.newerSchema)
        /// The same (name, version) with other content: the version must be bumped.
        public static let documentConflict = Code(.documentConflict)
        /// The caller passed something the store cannot keep.
        public static let invalidArgument = Code(.invalidArgument)
        /// Reading or writing failed.
        public static let io = Code(.io)
        /// The database is missing or empty in a state directory that was used before.
        public static let lostState = Code(.lostState)

        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
