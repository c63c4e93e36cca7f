import Logging
public import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// The RESP listener: a NIO server whose connections run their commands on their event loops (see
/// ``RESPChannelHandler``), as one Service of the daemon's group.
///
/// ``bind()`` listens before the group runs, so that a port in use fails the start like the HTTP
/// listener's; ``run()`` waits for the graceful shutdown, then stops accepting and closes every open
/// connection (each after the command it is running), before the controller saves and stops.
public final class RESPServer<Backend: RESPBackend>: Service, Sendable {
    private let configuration: RESPConfiguration
    private let backend: Backend
    private let authorization: RESPAuthorization
    private let metrics: RESPCommandMetrics?
    private let logger: Logger
    private let group: any EventLoopGroup
    private let state = Mutex(State())
    private let nextClientID = Atomic<Int>(1)

    private struct State {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var isShuttingDown = false
        /// Connections turned away at the cap, and when that was last logged.
        var refused = 0
        var lastRefusalLog: ContinuousClock.Instant?
    }

    /// What a client over the cap reads before its connection is closed (Redis' words for it).
    static var refusal: [UInt8] { Array("-ERR max number of clients reached\r\n".utf8) }

    public init(
        configuration: RESPConfiguration,
        backend: Backend,
        authorization: RESPAuthorization,
        metrics: RESPCommandMetrics?,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.backend = backend
        self.authorization = authorization
        self.metrics = metrics
        self.logger = logger
        self.group = group
    }

    /// Listens on the configured address.
    ///
    /// - Returns: `HOST:PORT` as bound (the port actually picked when 0 was asked for).
    public func bind() async throws -> String {
        let limits = configuration.limits
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    switch self.register(channel) {
                    case .accepted:
                        break
                    case .shuttingDown:
                        channel.close(promise: nil)
                        return
                    case .full:
                        // Answered and closed at once: the descriptor is held for microseconds, not queued.
                        try channel.pipeline.syncOperations.addHandler(RefusedConnectionHandler(answer: Self.refusal))
                        return
                    }
                    let session = RESPSession(
                        backend: self.backend, authorization: self.authorization, metrics: self.metrics,
                        clientID: self.nextClientID.wrappingAdd(1, ordering: .relaxed).oldValue,
                        peer: channel.remoteAddress.map(Self.text(of:)) ?? "", limits: limits
                    )
                    try channel.pipeline.syncOperations.addHandler(RESPChannelHandler(session: session, limits: limits))
                }
            }
        let listener: any Channel
        do {
            listener = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            throw DaemonError("resp: cannot listen on \(configuration.host):\(configuration.port): \(error)")
        }
        state.withLock { $0.listener = listener }
        return listener.localAddress.map(Self.text(of:)) ?? "\(configuration.host):\(configuration.port)"
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Stops accepting, then closes every connection and waits for them.
    public func close() async {
        let (listener, connections) = state.withLock { state in
            state.isShuttingDown = true
            let taken = (state.listener, Array(state.connections.values))
            state.listener = nil
            return taken
        }
        try? await listener?.close().get()
        for connection in connections {
            try? await connection.close().get()
        }
        logger.debug("resp listener closed", metadata: ["connections": "\(connections.count)"])
    }

    private enum Admission {
        case accepted
        case shuttingDown
        /// At ``RESPConfiguration/effectiveMaxConnections``.
        case full
    }

    /// Records a new connection, unless the server is shutting down or at its cap.
    private func register(_ channel: any Channel) -> Admission {
        let id = ObjectIdentifier(channel)
        let cap = configuration.effectiveMaxConnections
        let (admission, refusedSoFar) = state.withLock { state -> (Admission, Int?) in
            guard !state.isShuttingDown else { return (.shuttingDown, nil) }
            guard state.connections.count < cap else {
                state.refused += 1
                // A flood logs a line every 10 s, not one per connection.
                let now = ContinuousClock.now
                guard state.lastRefusalLog.map({ now - $0 >= .seconds(10) }) ?? true else { return (.full, nil) }
                state.lastRefusalLog = now
                return (.full, state.refused)
            }
            state.connections[id] = channel
            return (.accepted, nil)
        }
        if let refusedSoFar {
            logger.warning(
                "RESP connection refused: the listener is at its limit of clients (--resp-max-connections)",
                metadata: ["max_connections": "\(cap)", "refused_so_far": "\(refusedSoFar)"])
        }
        if admission == .accepted {
            channel.closeFuture.whenComplete { [self] _ in
                _ = state.withLock { $0.connections.removeValue(forKey: id) }
            }
        }
        return admission
    }

    static func text(of address: SocketAddress) -> String {
        let host = address.ipAddress ?? "?"
        let port = address.port ?? 0
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
