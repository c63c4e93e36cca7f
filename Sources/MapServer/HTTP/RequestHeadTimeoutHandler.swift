import NIOCore

/// The header timeout: from the first byte of a request, its head (request line and headers) must be
/// complete within ``HTTPConnectionLimits/headerTimeout``, or the client gets 408 `request_timeout` and
/// the connection is closed.
///
/// It sits first in the pipeline, on raw bytes, because only there is a request's first byte seen; the
/// ``HTTP1ConnectionPolicyHandler`` after the HTTP decoder tells it when a head is complete and when
/// every request read so far is answered. Bytes that arrive while a request is in progress (its body,
/// or a pipelined request behind it) start no timer: the idle timeout bounds those.
final class RequestHeadTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    /// True while no request is in progress: the next byte starts a head.
    private var awaitingHead = true
    private var timer: Scheduled<Void>?

    init(timeout: Duration) {
        self.timeout = TimeAmount(timeout)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if awaitingHead, timer == nil {
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                timer = nil
                expire(context)
            }
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancel()
    }

    /// A request's head is complete: the timer stops until every request is answered.
    func headReceived() {
        awaitingHead = false
        cancel()
    }

    /// Every request read so far is answered: the next byte starts a new head.
    func allAnswered() {
        awaitingHead = true
    }

    private func cancel() {
        timer?.cancel()
        timer = nil
    }

    /// No response is in flight (no request is in progress), so the 408 goes straight to the socket.
    private func expire(_ context: ChannelHandlerContext) {
        guard awaitingHead, context.channel.isActive else { return }
        let seconds = timeout.nanoseconds / 1_000_000_000
        let shown = seconds > 0 ? "\(seconds) s" : "\(timeout.nanoseconds / 1_000_000) ms"
        let body = #"{"error":{"code":"request_timeout","message":"the request head was not complete within \#(shown)"}}"# + "\n"
        let head =
            "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        let buffer = context.channel.allocator.buffer(string: head + body)
        context.writeAndFlush(NIOAny(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
