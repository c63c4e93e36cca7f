import HTTPTypes
import Hummingbird
import HummingbirdCore
import MapController
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Prometheus

/// Answers `GET`, `PUT` and `DELETE /v1/maps/{name}/entries/{key}` on the event loop that read them,
/// without the router, the request's task on the concurrency pool or its logger.
///
/// The profile of an entry GET put most of a request's time in the hops between NIO's event loop and the
/// concurrency pool, then in per-request set-up (logger metadata, request context, middleware chain). An
/// entry call is synchronous (``EntryAccess``), so it runs here, where the request was read. The answer is
/// the routed handler's, byte for byte in its body and status, from the same checks: `Host` and token
/// (``APIAuthorization/denial(of:_:)``), percent-decoded segments, the body limit, the same counters of
/// `mapctl_http_requests_total`.
///
/// It sits after Hummingbird's connection-state handler, which so still sees every request and answer
/// (idle timeout, graceful shutdown), and the connection-policy handler shapes its answers as any other
/// (`Connection`, HTTP/1.0). Everything else goes on to Hummingbird: other routes and methods, `HEAD`, a
/// path in any but the canonical form, `Expect: 100-continue`, a declared body over the limit. While a
/// request handed on is unanswered, the next ones are handed on too, so answers keep the requests' order.
final class EntryFastPathHandler<Entries: EntryAccess>: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What every connection's handler shares.
    struct Settings: Sendable {
        var entries: Entries
        var authorization: APIAuthorization
        /// Largest `PUT` body (413 `too_large` beyond).
        var maxBodyBytes: Int
        var counters: HTTPRequestCounters
        /// The `Server` field, as Hummingbird sets it on routed answers.
        var serverName: String
    }

    private enum State {
        /// Between requests.
        case idle
        /// The request being read is Hummingbird's.
        case handingOn
        /// The request being read is answered here when its end arrives.
        case collecting(EntryRequest)
    }

    private let settings: Settings
    private var state = State.idle
    /// Requests handed to Hummingbird and not yet answered.
    private var handedOn = 0
    /// An answer is written and not flushed: flushed at the end of the read, with the others of the batch.
    private var needsFlush = false
    /// A `read` held back while the channel is not writable: a client that sends and never reads gets no
    /// more read from it than the socket buffers hold.
    private var readHeld = false
    private var date = HTTPDateCache()
    private var counterCache: [CounterKey: Prometheus.Counter] = [:]

    init(settings: Settings) {
        self.settings = settings
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            if handedOn == 0, let request = EntryRequest(head: head, maxBodyBytes: settings.maxBodyBytes) {
                state = .collecting(request)
            } else {
                handedOn += 1
                state = .handingOn
                context.fireChannelRead(data)
            }
        case (.collecting(var request), .body(let chunk)):
            state = .idle  // the request leaves the enum while it grows, so that its buffer is not copied
            request.append(chunk, limit: settings.maxBodyBytes)
            state = .collecting(request)
        case (.collecting(let request), .end):
            state = .idle
            answer(request, context: context)
        case (.handingOn, .end):
            state = .idle
            context.fireChannelRead(data)
        default:
            // The rest of a request handed on; or parts out of order, which the decoder never sends:
            // Hummingbird deals with them as it would without this handler.
            context.fireChannelRead(data)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard case .collecting(let request) = state, error is HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        // The request being read here was cut by a malformed part: it is answered here, as the routed
        // handler answers a body it cannot read, and the connection-policy handler then closes.
        state = .idle
        let answer = APIResponse.errorAnswer(.badRequest, code: "bad_body", message: "cannot read the request body: \(error)")
        write(answer, for: request, context: context)
        context.flush()
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), handedOn > 0 { handedOn -= 1 }
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        guard context.channel.isWritable else {
            readHeld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if readHeld, context.channel.isWritable {
            readHeld = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Answering

    private func answer(_ request: EntryRequest, context: ChannelHandlerContext) {
        let answer: APIAnswer
        if let denied = settings.authorization.denial(of: request.head, .offLoopback) {
            answer = denied
        } else {
            answer = respond(to: request)
        }
        write(answer, for: request, context: context)
    }

    private func respond(to request: EntryRequest) -> APIAnswer {
        if request.bodyTooLarge { return APIInput.tooLarge(settings.maxBodyBytes) }
        do throws(ControlPlaneError) {
            let name = try APIInput.pathSegment(request.name, what: "map name")
            let key = try APIInput.pathSegment(request.key, what: "key")
            switch request.head.method {
            case .get:
                return APIResponse.rawAnswer(try settings.entries.readEntry(map: name, key: key))
            case .put:
                guard let body = request.body, body.readableBytes > 0 else { throw APIInput.emptyValue }
                try settings.entries.writeEntry(map: name, key: key, json: Array(buffer: body))
                return APIResponse.noContentAnswer()
            default:
                try settings.entries.removeEntry(map: name, key: key)
                return APIResponse.noContentAnswer()
            }
        } catch {
            return APIResponse.errorAnswer(error)
        }
    }

    private func write(_ answer: APIAnswer, for request: EntryRequest, context: ChannelHandlerContext) {
        var head = HTTPResponse(status: answer.status, headerFields: answer.headers)
        head.headerFields[.date] = date.now()
        head.headerFields[.server] = settings.serverName
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if answer.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        needsFlush = true
        count(request.head.method, status: answer.status.code)
    }

    private struct CounterKey: Hashable {
        var method: HTTPRequest.Method
        var status: Int
    }

    private func count(_ method: HTTPRequest.Method, status: Int) {
        let key = CounterKey(method: method, status: status)
        if let counter = counterCache[key] {
            counter.increment()
            return
        }
        let counter = settings.counters.counter(method, route: EntryRequest.route, status: status)
        counterCache[key] = counter
        counter.increment()
    }
}
