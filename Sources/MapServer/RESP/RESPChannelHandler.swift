import NIOCore

/// One client connection: frames the commands of each read, runs them in order on this event loop,
/// and writes all their replies with one flush when the read is done (pipelining).
///
/// A protocol error is answered with `-ERR Protocol error: …` and the connection closed. While the
/// socket does not take the replies (a client that pipelines and never reads), no more commands are run
/// and no more is read: replies are written as they pass ``flushThreshold``, and when the channel stops
/// being writable the rest of the read waits. So a connection's memory stays bounded by ``RESPLimits``,
/// the threshold and the channel's write watermarks.
final class RESPChannelHandler<Backend: RESPBackend>: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: RESPSession<Backend>
    private var decoder: RESPRequestDecoder
    /// Bytes read and not yet framed into whole commands.
    private var cumulation: ByteBuffer?
    /// Replies not yet written.
    private var output: ByteBuffer?
    private var isClosing = false
    /// A `read` held back while the channel was not writable.
    private var heldRead = false
    /// Commands left in `cumulation` until the channel is writable again.
    private var isPaused = false
    /// Replies are written once this many bytes have piled up, without waiting for the read to end.
    static var flushThreshold: Int { 256 << 10 }

    init(session: RESPSession<Backend>, limits: RESPLimits) {
        self.session = session
        self.decoder = RESPRequestDecoder(limits: limits)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosing else { return }
        var incoming = unwrapInboundIn(data)
        if var buffered = cumulation, buffered.readableBytes > 0 {
            cumulation = nil  // keep the storage uniquely referenced while appending
            buffered.writeBuffer(&incoming)
            cumulation = buffered
        } else {
            cumulation = incoming
        }
        if !isPaused { process(context: context) }
    }

    private func process(context: ChannelHandlerContext) {
        guard var buffer = cumulation else { return }
        cumulation = nil
        var out = output ?? context.channel.allocator.buffer(capacity: 256)
        output = nil
        do {
            while let end = try decoder.next(in: &buffer) {
                let outcome = session.execute(RESPArguments(buffer: buffer, ranges: decoder.arguments), into: &out)
                buffer.moveReaderIndex(to: end)
                if case .close = outcome {
                    isClosing = true
                    break
                }
                if out.readableBytes >= Self.flushThreshold {
                    context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                    out = context.channel.allocator.buffer(capacity: 256)
                    if !context.channel.isWritable {
                        isPaused = true
                        break
                    }
                }
            }
        } catch {
            out.writeRESPError("ERR \(error)")
            isClosing = true
        }
        if buffer.readableBytes > 0, buffer.readerIndex >= 16 << 10, buffer.readerIndex * 2 >= buffer.capacity {
            let discarded = buffer.readerIndex
            buffer.discardReadBytes()
            decoder.rebase(discarding: discarded)
        }
        cumulation = buffer.readableBytes == 0 ? nil : buffer
        output = out
        if isClosing {
            // Close once the last replies (the error, QUIT's +OK) are written.
            let channel = context.channel
            if let out = output, out.readableBytes > 0 {
                output = nil
                context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushOutput(context: context)
        context.fireChannelReadComplete()
    }

    private func flushOutput(context: ChannelHandlerContext) {
        guard let out = output, out.readableBytes > 0 else { return }
        output = nil
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        guard context.channel.isWritable, !isPaused else {
            heldRead = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, isPaused {
            isPaused = false
            process(context: context)
            flushOutput(context: context)
        }
        if context.channel.isWritable, !isPaused, heldRead {
            heldRead = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset by the peer or similar: nothing to answer.
        context.close(promise: nil)
    }
}
