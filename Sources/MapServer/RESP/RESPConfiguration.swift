/// Where and how `mapctl watch --resp ADDR` serves the maps over the Redis protocol.
public struct RESPConfiguration: Sendable {
    /// The listen address; off loopback, every command but `AUTH`, `HELLO … AUTH` and `QUIT` needs the
    /// API token first.
    public var host: String
    /// The listen port; 0 picks a free one (reported as `resp listening on HOST:PORT`).
    public var port: Int
    /// What one client may send.
    public var limits: RESPLimits

    public init(host: String = "127.0.0.1", port: Int = 6380, limits: RESPLimits = RESPLimits()) {
        self.host = host
        self.port = port
        self.limits = limits
    }
}
