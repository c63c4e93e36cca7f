/// Where and how `mapctl watch --resp ADDR` serves the maps over the Redis protocol.
public struct RESPConfiguration: Sendable {
    /// The listen address; off loopback, every command but `AUTH`, `HELLO … AUTH` and `QUIT` needs the
    /// API token first.
    public var host: String
    /// The listen port; 0 picks a free one (reported as `resp listening on HOST:PORT`).
    public var port: Int
    /// What one client may send.
    public var limits: RESPLimits
    /// Clients served at once (`--resp-max-connections`); past it a new connection gets
    /// `-ERR max number of clients reached` and is closed, as from Redis. Nil: ``defaultMaxConnections()``.
    public var maxConnections: Int?

    public init(host: String = "127.0.0.1", port: Int = 6380, limits: RESPLimits = RESPLimits(), maxConnections: Int? = nil) {
        self.host = host
        self.port = port
        self.limits = limits
        self.maxConnections = maxConnections
    }

    /// ``maxConnections`` or, when unset, the default.
    public var effectiveMaxConnections: Int { maxConnections ?? Self.defaultMaxConnections() }

    /// Half of the HTTP listener's default (``HTTPConnectionLimits/defaultMaxConnections()``), at least 16:
    /// 240 under an open-file limit of 1,024. The two listeners together then leave a quarter of the
    /// descriptors for the state database, the watcher, schema files and outgoing connections.
    public static func defaultMaxConnections() -> Int {
        max(16, HTTPConnectionLimits.defaultMaxConnections() / 2)
    }
}
