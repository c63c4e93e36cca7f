import ArgumentParser
import Fleet
import Foundation
import Logging
import MapSchema
import MapServer

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the controller: watch DIR, host its maps and serve the HTTP API.",
        discussion: """
            Validates every schema file in DIR (*.yaml, *.yml; recursively, dotfiles and editor temp \
            files ignored), builds a live map for each, and keeps them reconciled as files are created, \
            changed, renamed or deleted (inotify, or polling with --poll; Kubernetes ConfigMap volumes \
            work). A new version is judged during its rollback window and rolled back on its own when \
            its health checks fail. Maps, the control API and Prometheus metrics are served over HTTP.

            Prints `listening on http://HOST:PORT` on standard output once it serves (--listen with port \
            0 picks a free port). State (applied versions, history, quarantines) and the API token live \
            in the state directory (--state); a restart restores every map at its last live version. \
            SIGTERM or SIGINT shuts down cleanly with exit status 0 (requests still in flight after 3 s \
            are cancelled); SIGHUP resyncs DIR; SIGUSR1, SIGUSR2 and SIGALRM are logged and ignored. \
            Logs go to standard error.

            Exit status: 0 shut down by a signal; 1 could not start (state unreadable, address in use); \
            64 usage error.

            Examples:
              mapctl watch schemas
              mapctl watch /etc/maps --listen 0.0.0.0:7468 --state /var/lib/mapctl
              mapctl watch schemas --log-format json --poll 500ms
              mapctl watch schemas --listen 127.0.0.1:0 --enable-fault-injection
              mapctl watch schemas --prometheus http://prometheus:9090
            """
    )

    /// `--log-format`.
    enum LogFormatOption: String, ExpressibleByArgument, CaseIterable {
        case text, json

        var format: LogFormat {
            switch self {
            case .text: .text
            case .json: .json
            }
        }
    }

    /// `--log-level`, swift-log's levels.
    enum LogLevelOption: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, notice, warning, error, critical

        var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
    }

    @Argument(help: ArgumentHelp("The directory of schema files to watch.", valueName: "DIR"))
    var directory: String

    @Option(
        help: ArgumentHelp(
            "Where to serve: HOST:PORT, [IPv6]:PORT, :PORT or PORT; port 0 picks a free one. Off loopback, every endpoint but health needs the token.",
            valueName: "ADDR"
        )
    )
    var listen: String = "127.0.0.1:7468"

    @Option(
        name: .customLong("allowed-host"),
        help: ArgumentHelp(
            "On loopback, also answer requests whose Host header is NAME (repeatable); by default only localhost, 127.0.0.0/8 and [::1] are answered, against DNS rebinding.",
            valueName: "NAME"
        )
    )
    var allowedHosts: [String] = []

    @Option(
        help: ArgumentHelp(
            "Also serve the maps over the Redis protocol (RESP2/RESP3) on ADDR, e.g. 127.0.0.1:6380 or :0; keys are MAP:KEY. Prints `resp listening on HOST:PORT`. Off loopback, clients must AUTH with the token. Off by default.",
            valueName: "ADDR"
        )
    )
    var resp: String?

    @Option(
        help: ArgumentHelp(
            "RESP clients served at once (with --resp); past it a new connection gets '-ERR max number of clients reached' and is closed. Default: half of --max-connections' default (240 under ulimit -n 1024).",
            valueName: "N"
        )
    )
    var respMaxConnections: Int?

    @Option(help: ArgumentHelp("The state directory: SQLite state and the API token.", valueName: "DIR"))
    var state: String = ".mapctl"

    @Flag(help: "Drop a live map when its schema file is removed (default: keep it).")
    var prune = false

    @Option(help: ArgumentHelp("Poll DIR at this interval instead of using inotify, e.g. 500ms or 2s.", valueName: "INTERVAL"))
    var poll: String?

    @Flag(
        help:
            "Accept a fault_injection section in schemas (added latency, errors, faults, a crash after N ops), for tests and demos; refused otherwise."
    )
    var enableFaultInjection = false

    @Option(
        help: ArgumentHelp(
            "Refuse entry writes with 503 memory_limit while the daemon's resident memory is over BYTES (e.g. 512MiB, 2GiB, 1000000); reads and deletes go on. No limit by default.",
            valueName: "BYTES"
        )
    )
    var maxMemory: String?

    @Option(
        help: ArgumentHelp(
            "/readyz answers 503 reconcile_stalled while a reconcile or apply has run longer than this (default 30s).",
            valueName: "DURATION"
        )
    )
    var maxReconcile: String = "30s"

    @Option(
        help: ArgumentHelp(
            "Join a fleet whose shared state is in this PostgreSQL database (postgres://USER@HOST:PORT/DB, or postgresql:///DB?host=/socket/dir): one leader judges every window for all replicas.",
            valueName: "URL"
        )
    )
    var fleet: String?

    @Option(help: ArgumentHelp("Replicas with the same --fleet database and this name are one fleet.", valueName: "NAME"))
    var fleetName: String = "default"

    @Option(help: ArgumentHelp("This replica's id in the fleet (default: the hostname and the port).", valueName: "ID"))
    var replica: String?

    @Option(
        help: ArgumentHelp(
            "The Prometheus server (base URL, http or https) that schemas' rollout.queries run against each interval; without it, a schema with queries is refused.",
            valueName: "URL"
        )
    )
    var prometheus: String?

    @Option(
        help: ArgumentHelp(
            "Close an HTTP connection that sends nothing for this long, between requests or inside a body (default 60s).",
            valueName: "DURATION"
        )
    )
    var idleTimeout: String = "60s"

    @Option(
        help: ArgumentHelp(
            "Answer 408 and close when a request's head is not complete this long after its first byte (default 10s).",
            valueName: "DURATION"
        )
    )
    var headerTimeout: String = "10s"

    @Option(
        help: ArgumentHelp(
            "Open HTTP connections served at once; past it a new connection gets 503 too_many_connections and is closed. Default: half of the open-file limit less 64 (480 under ulimit -n 1024).",
            valueName: "N"
        )
    )
    var maxConnections: Int?

    @Option(help: "Log format: text for people, json for machines.")
    var logFormat: LogFormatOption = .text

    @Option(help: "The lowest level logged.")
    var logLevel: LogLevelOption = .info

    func validate() throws {
        do {
            _ = try DaemonConfiguration.parseListenAddress(listen)
        } catch {
            throw ValidationError("--listen: \(error)")
        }
        if let resp {
            do {
                _ = try DaemonConfiguration.parseListenAddress(resp)
            } catch {
                throw ValidationError("--resp: \(error)")
            }
        }
        if let poll {
            guard let interval = try? GoDuration.parse(poll), interval > .zero else {
                throw ValidationError("--poll must be a positive duration such as 500ms or 2s, not '\(poll)'")
            }
        }
        for name in allowedHosts where HostAllowList(extraHosts: [name]).extraHosts.isEmpty {
            throw ValidationError("--allowed-host must be a host name or address such as mapctl.internal, not '\(name)'")
        }
        if let maxMemory, DaemonConfiguration.parseByteSize(maxMemory) == nil {
            throw ValidationError("--max-memory must be a positive size such as 512MiB, 2GiB or 1000000, not '\(maxMemory)'")
        }
        if let fleet {
            do {
                _ = try FleetLocation(parsing: fleet)
            } catch {
                throw ValidationError("--fleet: \(error)")
            }
        }
        if let prometheus {
            do {
                _ = try DaemonConfiguration.parsePrometheusURL(prometheus)
            } catch {
                throw ValidationError("--prometheus: \(error)")
            }
        }
        if fleet == nil, replica != nil || fleetName != "default" {
            throw ValidationError("--replica and --fleet-name need --fleet URL")
        }
        if fleetName.isEmpty || fleetName.count > 200 {
            throw ValidationError("--fleet-name must be 1 to 200 characters")
        }
        guard let limit = try? GoDuration.parse(maxReconcile), limit > .zero else {
            throw ValidationError("--max-reconcile must be a positive duration such as 30s, not '\(maxReconcile)'")
        }
        for (flag, text) in [("--idle-timeout", idleTimeout), ("--header-timeout", headerTimeout)] {
            guard let duration = try? GoDuration.parse(text), duration > .zero else {
                throw ValidationError("\(flag) must be a positive duration such as 30s or 500ms, not '\(text)'")
            }
        }
        if let maxConnections, maxConnections < 1 {
            throw ValidationError("--max-connections must be at least 1, not \(maxConnections)")
        }
        if let respMaxConnections, respMaxConnections < 1 {
            throw ValidationError("--resp-max-connections must be at least 1, not \(respMaxConnections)")
        }
        if respMaxConnections != nil, resp == nil {
            throw ValidationError("--resp-max-connections needs --resp ADDR")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("DIR '\(directory)' is not a directory")
        }
    }

    func run() async throws {
        let (host, port) = try DaemonConfiguration.parseListenAddress(listen)
        var configuration = DaemonConfiguration(
            directory: directory,
            host: host,
            port: port,
            stateDirectory: state,
            prune: prune,
            pollInterval: try poll.map { try GoDuration.parse($0) },
            enableFaultInjection: enableFaultInjection,
            logFormat: logFormat.format,
            allowedHosts: allowedHosts,
            resp: try resp.map { text in
                let (host, port) = try DaemonConfiguration.parseListenAddress(text)
                return RESPConfiguration(host: host, port: port, maxConnections: respMaxConnections)
            }
        )
        configuration.maxMemoryBytes = maxMemory.flatMap { DaemonConfiguration.parseByteSize($0) }
        configuration.fleetURL = fleet
        configuration.fleetName = fleetName
        configuration.replica = replica
        configuration.prometheusURL = try prometheus.map { try DaemonConfiguration.parsePrometheusURL($0) }
        configuration.routes.maxReconcileDuration = try GoDuration.parse(maxReconcile)
        configuration.http = HTTPConnectionLimits(
            idleTimeout: try GoDuration.parse(idleTimeout), headerTimeout: try GoDuration.parse(headerTimeout),
            maxConnections: maxConnections)
        // For benchmarks that compare the entry fast path with the router (BENCHMARKS.md, "HTTP").
        if ProcessInfo.processInfo.environment["MAPCTL_HTTP_FAST_PATH"] == "off" { configuration.entryFastPath = false }
        let format = logFormat.format
        let level = logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = format.makeHandler(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "mapctl")
        logger.logLevel = level
        try await Console.reporting {
            do {
                try await Daemon.run(
                    configuration: configuration, logger: logger,
                    onListening: { url in
                        print("listening on \(url)")
                        fflush(nil)
                    },
                    onRESPListening: { address in
                        print("resp listening on \(address)")
                        fflush(nil)
                    }
                )
            } catch {
                throw CommandFailure("watch: \(error)")
            }
        }
    }
}
