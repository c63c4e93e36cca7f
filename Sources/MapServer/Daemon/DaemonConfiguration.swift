public import Logging
import MapController

/// Everything `mapctl watch` sets: what to watch, where to listen, where state lives.
public struct DaemonConfiguration: Sendable {
    /// The watched schema directory.
    public var directory: String
    /// Listen address; `127.0.0.1` by default. Anything else but loopback makes every
    /// endpoint but health ask for the token.
    public var host: String
    /// Listen port; 7468 by default, 0 picks a free one (reported through `onListening`).
    public var port: Int
    /// The state directory (`--state`): SQLite state and the API token.
    public var stateDirectory: String
    /// Drop live maps whose schema file is gone (`--prune`).
    public var prune: Bool
    /// Poll the directory at this interval instead of inotify (`--poll`).
    public var pollInterval: Duration?
    /// Accept `fault_injection` in schemas (`--enable-fault-injection`).
    public var enableFaultInjection: Bool
    /// How the command line formats logs. The daemon logs to the `Logger` it is given;
    /// ``LogFormat/makeHandler(label:)`` makes the handler for the `LoggingSystem` bootstrap.
    public var logFormat: LogFormat
    /// Reconcile the directory this often even without file events.
    public var resyncInterval: Duration?
    /// Body limits and endpoints of the HTTP API.
    public var routes: MapctlRoutesConfiguration
    /// `Host` names answered besides loopback ones when listening on loopback (`--allowed-host`).
    public var allowedHosts: [String]
    /// How long SIGTERM waits for requests in flight before cancelling them (3 s).
    public var shutdownGracePeriod: Duration = .seconds(3)
    /// Idle and header timeouts and the connection cap of the HTTP server (`--idle-timeout`,
    /// `--header-timeout`, `--max-connections`).
    public var http = HTTPConnectionLimits()
    /// Entry requests are answered on the event loop that read them (``EntryFastPathHandler``); false
    /// sends them through the router like every other request. Not a flag: for tests and benchmarks that
    /// compare the two (`MAPCTL_HTTP_FAST_PATH=off` sets it for `mapctl watch`).
    public var entryFastPath = true
    /// The Redis-protocol listener (`--resp ADDR`); nil, the default, serves none.
    public var resp: RESPConfiguration?
    /// Entry writes get 503 `memory_limit` while resident memory is over this (`--max-memory`); nil: no limit.
    public var maxMemoryBytes: Int?
    /// The fleet's PostgreSQL database (`--fleet URL`, SPEC §8); nil: this daemon judges alone.
    public var fleetURL: String?
    /// Replicas with the same database and fleet name are one fleet (`--fleet-name`).
    public var fleetName: String = "default"
    /// This replica's id (`--replica`); nil: the hostname and the port.
    public var replica: String?
    /// The Prometheus server that `rollout.queries` run against (`--prometheus`, SPEC §8.1); nil: none,
    /// and a schema with queries is refused.
    public var prometheusURL: String?

    public init(
        directory: String,
        host: String = "127.0.0.1",
        port: Int = 7468,
        stateDirectory: String = ".mapctl",
        prune: Bool = false,
        pollInterval: Duration? = nil,
        enableFaultInjection: Bool = false,
        logFormat: LogFormat = .text,
        resyncInterval: Duration? = .seconds(30),
        routes: MapctlRoutesConfiguration = MapctlRoutesConfiguration(),
        allowedHosts: [String] = [],
        resp: RESPConfiguration? = nil
    ) {
        self.directory = directory
        self.host = host
        self.port = port
        self.stateDirectory = stateDirectory
        self.prune = prune
        self.pollInterval = pollInterval
        self.enableFaultInjection = enableFaultInjection
        self.logFormat = logFormat
        self.resyncInterval = resyncInterval
        self.routes = routes
        self.allowedHosts = allowedHosts
        self.resp = resp
    }

    /// Parses `--max-memory`: `512MiB`, `2GiB`, `64KiB`, `1000000` (bytes), `500MB` (powers of 1000);
    /// nil for anything else or zero.
    public static func parseByteSize(_ text: String) -> Int? { MemoryLimit.parseBytes(text) }

    /// Parses `--listen`: `HOST:PORT`, `[IPv6]:PORT`, `:PORT` (loopback) or `PORT`.
    ///
    /// - Returns: the host and port.
    /// - Throws: ``ListenAddressError`` for anything else, or a port outside 0...65535.
    public static func parseListenAddress(_ text: String) throws(ListenAddressError) -> (host: String, port: Int) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ListenAddressError(text: text)
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon].isEmpty ? "127.0.0.1" : text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = "127.0.0.1"
            portText = text[...]
        }
        guard !host.isEmpty, !host.contains(":") || text.hasPrefix("["), let port = Int(portText), (0...65535).contains(port) else {
            throw ListenAddressError(text: text)
        }
        return (String(host), port)
    }
}

/// `--listen` is not `HOST:PORT`.
public struct ListenAddressError: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var description: String { "invalid listen address '\(text)': expected HOST:PORT, [IPv6]:PORT or PORT (0 picks a free port)" }
}

/// `--log-format`.
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's stream handler: `2024-… info label: message`.
    case text
    /// One JSON object per line (``JSONLogHandler``).
    case json

    /// The handler to bootstrap `LoggingSystem` with, writing to standard error.
    public func makeHandler(label: String) -> any LogHandler {
        switch self {
        case .text: StreamLogHandler.standardError(label: label)
        case .json: JSONLogHandler(label: label)
        }
    }
}
