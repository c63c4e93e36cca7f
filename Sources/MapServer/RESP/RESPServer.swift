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
    }

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
                    guard self.register(channel) else {
                        channel.close(promise: nil)
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

    /// Records a new connection; false once shutting down.
    private func register(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let accepted = state.withLock { state in
            guard !state.isShuttingDown else { return false }
            state.connections[id] = channel
            return true
        }
        if accepted {
            channel.closeFuture.whenComplete { [self] _ in
                _ = state.withLock { $0.connections.removeValue(forKey: id) }
            }
        }
        return accepted
    }

    static func text(of address: SocketAddress) -> String {
        let host = address.ipAddress ?? "?"
        let port = address.port ?? 0
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
