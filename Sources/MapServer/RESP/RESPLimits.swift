/// Bounds on what one RESP client may send, so that bad or hostile input gets an error and a close
/// instead of an unbounded allocation.
///
/// Every length a client announces (`*N`, `$N`) is checked against these before anything is reserved
/// or buffered for it.
public struct RESPLimits: Sendable, Hashable {
    /// The largest bulk string (`$N`) accepted: a value, a key or any other argument.
    public var maxBulkBytes: Int
    /// The most arguments one command may have (`*N`).
    public var maxArguments: Int
    /// The most bytes one command may take on the wire, all its arguments together.
    public var maxRequestBytes: Int
    /// The longest inline command (a line of text, as `telnet` sends).
    public var maxInlineBytes: Int
    /// How deeply aggregates may nest in a parsed reply (``RESPValueParser``).
    public var maxDepth: Int
    /// The largest value `SET` and `MSET` take (the daemon sets the HTTP API's entry body limit).
    public var maxValueBytes: Int
    /// The largest reply one command may build (`MGET` of many large values).
    public var maxReplyBytes: Int

    public init(
        maxBulkBytes: Int = 4 << 20,
        maxArguments: Int = 1 << 20,
        maxRequestBytes: Int = 16 << 20,
        maxInlineBytes: Int = 64 << 10,
        maxDepth: Int = 32,
        maxValueBytes: Int = 1 << 20,
        maxReplyBytes: Int = 64 << 20
    ) {
        self.maxBulkBytes = maxBulkBytes
        self.maxArguments = maxArguments
        self.maxRequestBytes = maxRequestBytes
        self.maxInlineBytes = maxInlineBytes
        self.maxDepth = maxDepth
        self.maxValueBytes = maxValueBytes
        self.maxReplyBytes = maxReplyBytes
    }
}

/// The client broke the protocol: answered with `-ERR Protocol error: …`, then the connection closes.
public struct RESPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "Protocol error: \(message)" }
}
