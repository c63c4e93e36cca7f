#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How long the HTTP server waits on a client, and how many clients it serves at once.
///
/// Every open connection costs a file descriptor. Without limits, idle or half-sent connections pile up
/// until the process runs out of descriptors, and then the directory reconcile, the state database and
/// the watcher fail with EMFILE. So a connection that sends nothing for ``idleTimeout`` is closed; a
/// request whose head (request line and headers) is not complete ``headerTimeout`` after its first byte
/// gets 408 and is closed; and past ``maxConnections`` open connections a new one is answered 503
/// `too_many_connections` and closed at once, which keeps descriptors for the rest of the daemon.
public struct HTTPConnectionLimits: Sendable, Equatable {
    /// A connection with no request in progress is closed after this long without a byte (`--idle-timeout`,
    /// 60 s). Also bounds the wait for the next part of a request body.
    public var idleTimeout: Duration
    /// From a request's first byte, its head must be complete within this (`--header-timeout`, 10 s);
    /// otherwise 408 `request_timeout` and the connection is closed.
    public var headerTimeout: Duration
    /// Open HTTP connections served at once (`--max-connections`); nil: ``defaultMaxConnections()``.
    public var maxConnections: Int?

    public init(idleTimeout: Duration = .seconds(60), headerTimeout: Duration = .seconds(10), maxConnections: Int? = nil) {
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.maxConnections = maxConnections
    }

    /// ``maxConnections`` or, when unset, the default for this process's descriptor limit.
    public var effectiveMaxConnections: Int { maxConnections ?? Self.defaultMaxConnections() }

    /// Half of what the open-file limit (`RLIMIT_NOFILE`, soft) leaves after 64 descriptors for the
    /// daemon's own files, at least 16: 480 under the common limit of 1,024, 96 under 256. The other half
    /// stays for the state database, the watcher, schema files being read, the RESP listener's clients and
    /// outgoing connections.
    public static func defaultMaxConnections() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 480 }
        return defaultMaxConnections(openFileLimit: limit.rlim_cur)
    }

    static func defaultMaxConnections(openFileLimit: rlim_t) -> Int {
        // RLIM_INFINITY, or anything past what an Int holds, counts as a million.
        let files = openFileLimit > 1 << 20 ? 1 << 20 : Int(openFileLimit)
        return max(16, (files - 64) / 2)
    }
}
