import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// The daemon's HTTP/1 connections: Hummingbird's `HTTP1Channel` with the connection hygiene of
/// ``HTTPConnectionLimits`` around it.
///
/// Pipeline of an admitted connection, front to back: ``RequestHeadTimeoutHandler`` (raw bytes), NIO's
/// response encoder and request decoder, ``HTTP1ConnectionPolicyHandler``, then Hummingbird's conversion
/// to HTTP types and its connection-state handler, whose idle timeout is ``HTTPConnectionLimits/idleTimeout``
/// (it also closes idle connections on a graceful shutdown), then the daemon's ``EntryFastPathHandler``
/// when it has one. A connection over the cap gets only a ``RefusedConnectionHandler``.
struct MapctlHTTP1Channel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
        /// Nil for a refused connection: it is answered 503 and closed by its only handler.
        let http: HTTP1Channel.Value?
    }

    let http1: HTTP1Channel
    let limits: HTTPConnectionLimits
    let gate: HTTPConnectionGate
    /// Makes a connection's entry fast path.
    let fastPath: (@Sendable () -> any ChannelHandler)?

    init(
        responder: @escaping HTTPChannelHandler.Responder, limits: HTTPConnectionLimits, gate: HTTPConnectionGate,
        fastPath: (@Sendable () -> any ChannelHandler)?
    ) {
        self.http1 = HTTP1Channel(responder: responder, configuration: .init(idleTimeout: TimeAmount(limits.idleTimeout)))
        self.limits = limits
        self.gate = gate
        self.fastPath = fastPath
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard gate.admit(channel) else {
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RefusedConnectionHandler())
                return Value(channel: channel, http: nil)
            }
        }
        let headerTimeout = limits.headerTimeout
        let fastPath = fastPath
        return http1.setup(channel: channel, logger: logger).flatMapThrowing { http in
            let pipeline = channel.pipeline.syncOperations
            let timeout = RequestHeadTimeoutHandler(timeout: headerTimeout)
            try pipeline.addHandler(timeout, position: .first)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(HTTP1ConnectionPolicyHandler(headTimeout: timeout), position: .after(decoder))
            if let fastPath {
                let state = try pipeline.handler(type: HTTPConnectionStateHandler.self)
                try pipeline.addHandler(fastPath(), position: .after(state))
            }
            return Value(channel: channel, http: http)
        }
    }

    func handle(value: Value, logger: Logger) async {
        guard let http = value.http else { return }
        await http1.handle(value: http, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with the daemon's connection limits; `gate` counts the connections; `fastPath` makes each
    /// connection's entry fast path.
    static func mapctl(
        limits: HTTPConnectionLimits, gate: HTTPConnectionGate, fastPath: (@Sendable () -> any ChannelHandler)? = nil
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            MapctlHTTP1Channel(responder: responder, limits: limits, gate: gate, fastPath: fastPath)
        }
    }
}
