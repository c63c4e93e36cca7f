import Logging
import NIOCore
import Synchronization

/// Counts the HTTP server's open connections and turns away those over the cap.
///
/// Each accepted connection takes a slot until it closes. One that finds no slot is answered
/// 503 `too_many_connections` with `Connection: close` and closed at once, so that it costs a
/// descriptor for microseconds rather than waiting in a queue (``HTTPConnectionLimits``).
final class HTTPConnectionGate: Sendable {
    let maxConnections: Int
    private let open = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    /// When a refusal was last logged (seconds since the gate was made), so that a flood logs a line
    /// every 10 s, not one per connection.
    private let lastLog = Atomic<Int64>(Int64.min)
    private let origin = ContinuousClock.now
    private let logger: Logger

    init(maxConnections: Int, logger: Logger) {
        self.maxConnections = max(1, maxConnections)
        self.logger = logger
    }

    /// Connections open now.
    var openConnections: Int { open.load(ordering: .relaxed) }

    /// Takes a slot for `channel` until it closes; false (and nothing taken) when none is free.
    func admit(_ channel: any Channel) -> Bool {
        var current = open.load(ordering: .relaxed)
        while true {
            guard current < maxConnections else {
                noteRefusal()
                return false
            }
            let (exchanged, original) = open.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
        channel.closeFuture.whenComplete { [self] _ in
            open.subtract(1, ordering: .relaxed)
        }
        return true
    }

    private func noteRefusal() {
        let count = refused.add(1, ordering: .relaxed).newValue
        let now = (ContinuousClock.now - origin).components.seconds
        let last = lastLog.load(ordering: .relaxed)
        guard last == Int64.min || now - last >= 10,
            lastLog.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        logger.warning(
            "HTTP connection refused: the server is at its limit of open connections (--max-connections)",
            metadata: ["max_connections": "\(maxConnections)", "refused_so_far": "\(count)"]
        )
    }

    /// The whole answer to a connection over the cap, written before the request is read.
    static let refusal: [UInt8] = {
        let body = #"{"error":{"code":"too_many_connections","message":"the server has too many open connections; retry later"}}"#
        let head =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count + 1)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        return Array((head + body + "\n").utf8)
    }()
}

/// The only handler of a refused connection: writes its answer once active (``HTTPConnectionGate/refusal``
/// for HTTP), then closes.
final class RefusedConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let answer: [UInt8]

    init(answer: [UInt8] = HTTPConnectionGate.refusal) {
        self.answer = answer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The request is not read: the answer does not depend on it.
    }

    private var answered = false

    private func refuse(_ context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        let buffer = context.channel.allocator.buffer(bytes: answer)
        context.writeAndFlush(NIOAny(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
