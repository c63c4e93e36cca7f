import Foundation
import NIOCore
import NIOHTTP1

/// What HTTP/1 says about a connection's life, applied between NIO's HTTP decoder and the conversion to
/// Swift HTTP types (which drops the version).
///
/// - A request that does not keep the connection alive (HTTP/1.0 without `Connection: keep-alive`, or
///   `Connection: close` in any version) gets `Connection: close` in its answer, and the connection is
///   closed once that answer is written. An HTTP/1.0 request that asks for keep-alive gets
///   `Connection: keep-alive` and the connection stays open. Answers to HTTP/1.0 requests carry their
///   version, so that no chunked body goes to a client that cannot read one.
/// - When the request is malformed, Hummingbird answers a bare 400 with no body. That answer is replaced
///   by the API's JSON error: 400 `bad_request`, 405 `method_not_allowed` for a method the parser does
///   not know, 431 `headers_too_large` for headers over the limit. After a parse error the connection is
///   closed once the requests read before it are answered (a body cut by the error is answered by its
///   handler, 400 `bad_body`).
/// - It tells the ``RequestHeadTimeoutHandler`` when a request head is complete and when every request
///   is answered.
final class HTTP1ConnectionPolicyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private struct PendingRequest {
        var version: HTTPVersion
        var keepAlive: Bool
        var isHead: Bool
    }

    private let headTimeout: RequestHeadTimeoutHandler?
    /// Requests read and not yet answered, oldest first (HTTP/1.1 answers in order).
    private var pending = CircularBuffer<PendingRequest>(initialCapacity: 2)
    /// The parse error that the decoder reported, until its answer is written.
    private var parseError: HTTPParserError?
    /// The JSON body that replaces the empty one of the parse-error answer being written.
    private var replacementBody: ByteBuffer?
    /// The answer being written is the connection's last.
    private var closeAfterAnswer = false
    /// The connection is being closed: nothing more is read from it.
    private var closing = false
    /// A request's head is read and its end is not.
    private var readingRequest = false
    /// The parse error cut a request short: its handler answers it (400 `bad_body`), then the connection ends.
    private var closeWhenAnswered = false

    init(headTimeout: RequestHeadTimeoutHandler?) {
        self.headTimeout = headTimeout
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        guard case .head(var head) = unwrapInboundIn(data) else {
            if case .end = unwrapInboundIn(data) { readingRequest = false }
            context.fireChannelRead(data)
            return
        }
        readingRequest = true
        let keepAlive = head.isKeepAlive
        pending.append(PendingRequest(version: head.version, keepAlive: keepAlive, isHead: head.method == .HEAD))
        headTimeout?.headReceived()
        if !keepAlive, head.headers["connection"] != ["close"] {
            // Hummingbird ends its request loop on exactly `Connection: close`.
            head.headers.replaceOrAdd(name: "connection", value: "close")
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError, parseError == nil {
            parseError = error
            closeWhenAnswered = readingRequest
        }
        context.fireErrorCaught(error)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response):
            if response.status.code < 200, response.status != .switchingProtocols {
                context.write(data, promise: promise)  // informational: the real answer follows
                return
            }
            if let request = pending.first {
                shape(&response, for: request)
            } else if let error = parseError {
                // Nothing is pending: this is Hummingbird's bare 400 for a malformed request.
                let (status, body) = Self.answer(to: error, allocator: context.channel.allocator)
                response = HTTPResponseHead(version: .http1_1, status: status)
                response.headers.add(name: "content-type", value: APIResponse.jsonContentType)
                response.headers.add(name: "content-length", value: String(body.readableBytes))
                response.headers.add(name: "connection", value: "close")
                replacementBody = body
                closeAfterAnswer = true
            }
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .body:
            if replacementBody != nil {
                promise?.succeed()
            } else {
                context.write(data, promise: promise)
            }
        case .end:
            if let body = replacementBody {
                replacementBody = nil
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            }
            if !pending.isEmpty { pending.removeFirst() }
            // A request cut by a parse error: nothing more can be read, so the connection ends with its answer.
            // (An error between requests is answered by the replaced 400 above, which closes.)
            if closeWhenAnswered, pending.isEmpty { closeAfterAnswer = true }
            if closeAfterAnswer {
                closing = true
                let end = context.eventLoop.makePromise(of: Void.self)
                if let promise { end.futureResult.cascade(to: promise) }
                context.writeAndFlush(data, promise: end)
                end.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                return
            }
            context.write(data, promise: promise)
            if pending.isEmpty { headTimeout?.allAnswered() }
        }
    }

    /// `Connection` and version of an answer to `request`; marks the connection for closing when the
    /// request did not keep it alive, or when an HTTP/1.0 client could not tell where the body ends.
    private func shape(_ response: inout HTTPResponseHead, for request: PendingRequest) {
        var keepAlive = request.keepAlive
        let isHTTP10 = request.version.major == 1 && request.version.minor == 0
        if keepAlive, isHTTP10, response.headers["content-length"].isEmpty, !request.isHead,
            response.status != .noContent, response.status != .notModified
        {
            keepAlive = false  // no length and no chunked encoding in HTTP/1.0: the close ends the body
        }
        if isHTTP10 { response.version = .http1_0 }
        if keepAlive {
            if isHTTP10 { response.headers.replaceOrAdd(name: "connection", value: "keep-alive") }
        } else {
            response.headers.replaceOrAdd(name: "connection", value: "close")
            closeAfterAnswer = true
        }
    }

    /// The JSON answer to a request the parser refused.
    static func answer(to error: HTTPParserError, allocator: ByteBufferAllocator) -> (HTTPResponseStatus, ByteBuffer) {
        let status: HTTPResponseStatus
        let code: String
        let message: String
        switch error {
        case .invalidMethod:
            status = .methodNotAllowed
            code = "method_not_allowed"
            message = "the request method is not one this server knows; the API uses GET, HEAD, POST, PUT and DELETE"
        case .headerOverflow:
            status = .requestHeaderFieldsTooLarge
            code = "headers_too_large"
            message = "the request's header fields are over the server's limit"
        default:
            status = .badRequest
            code = "bad_request"
            message = "malformed HTTP request: \(error)"
        }
        let body = APIResponse.ErrorBody(error: .init(code: code, message: message))
        var bytes: [UInt8] =
            (try? APIResponse.makeEncoder().encode(body)).map { Array($0) } ?? Array(#"{"error":{"code":"bad_request"}}"#.utf8)
        bytes.append(UInt8(ascii: "\n"))
        return (status, allocator.buffer(bytes: bytes))
    }
}
