public import NIOCore

/// Frames commands out of the bytes a client sends: RESP arrays of bulk strings (what every client
/// library sends) and inline commands (a line of words, as `telnet` or `redis-cli` in a pipe send).
///
/// It resumes where it stopped: a large command arriving over many reads is scanned once, not again
/// from its start on every read. Every announced length is checked against ``RESPLimits`` before any
/// byte is awaited for it, so a hostile length is refused at once instead of buffered for.
public struct RESPRequestDecoder: Sendable {
    public let limits: RESPLimits
    /// The arguments of the command ``next(in:)`` completed, as absolute index ranges of the buffer it
    /// was given; valid until that buffer's reader index moves past the command.
    public private(set) var arguments: [Range<Int>] = []

    /// Arguments still expected by the array command in progress; 0 when none is in progress.
    private var remaining = 0
    /// Where scanning resumes (absolute index) while a command is in progress.
    private var scan = 0
    /// Wire bytes of the command in progress so far.
    private var requestBytes = 0

    /// A header line (`*N` or `$N`) longer than this is no length at all.
    private static let maxHeaderBytes = 32

    public init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    /// True while part of a command has arrived and the rest has not.
    public var isInProgress: Bool { remaining > 0 }

    /// Frames the next complete command of `buffer`.
    ///
    /// - Returns: the absolute index just past the command (the caller moves the reader index there
    ///   once it has used ``arguments``), or nil when no complete command is buffered yet.
    /// - Throws: ``RESPProtocolError`` for input that is no command: the connection cannot go on.
    public mutating func next(in buffer: inout ByteBuffer) throws(RESPProtocolError) -> Int? {
        while remaining == 0 {
            arguments.removeAll(keepingCapacity: true)
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
            guard first == UInt8(ascii: "*") else {
                guard let end = try inlineCommand(in: &buffer) else { return nil }
                if !arguments.isEmpty { return end }
                buffer.moveReaderIndex(to: end)  // an empty line: nothing to answer
                continue
            }
            guard let (count, lineEnd) = try header(in: buffer, at: buffer.readerIndex, what: "multibulk") else { return nil }
            guard count <= limits.maxArguments else { throw RESPProtocolError("invalid multibulk length") }
            if count <= 0 {
                // `*0` and `*-1` carry no command; Redis skips them too.
                buffer.moveReaderIndex(to: lineEnd)
                continue
            }
            remaining = count
            scan = lineEnd
            requestBytes = lineEnd - buffer.readerIndex
        }
        while remaining > 0 {
            guard let marker = buffer.getInteger(at: scan, as: UInt8.self) else { return nil }
            guard marker == UInt8(ascii: "$") else {
                throw RESPProtocolError("expected '$', got '\(Self.printable(marker))'")
            }
            guard let (length, dataStart) = try header(in: buffer, at: scan, what: "bulk") else { return nil }
            guard length >= 0, length <= limits.maxBulkBytes else { throw RESPProtocolError("invalid bulk length") }
            let end = dataStart + length + 2
            guard requestBytes + (end - scan) <= limits.maxRequestBytes else {
                throw RESPProtocolError("request larger than \(limits.maxRequestBytes) bytes")
            }
            guard end <= buffer.writerIndex else { return nil }
            guard buffer.getInteger(at: dataStart + length, as: UInt16.self) == Self.crlf else {
                throw RESPProtocolError("bulk string not followed by CRLF")
            }
            arguments.append(dataStart..<(dataStart + length))
            requestBytes += end - scan
            scan = end
            remaining -= 1
        }
        return scan
    }

    /// Shifts the saved positions after the caller discarded `count` bytes from the buffer's front
    /// (`discardReadBytes()` with the reader index at `count`).
    public mutating func rebase(discarding count: Int) {
        guard remaining > 0 else { return }
        scan -= count
        arguments = arguments.map { ($0.lowerBound - count)..<($0.upperBound - count) }
    }

    private static let crlf = UInt16(UInt8(ascii: "\r")) << 8 | UInt16(UInt8(ascii: "\n"))

    /// Reads `?N\r\n` at `index`: the number and the index after the line; nil while incomplete.
    private func header(in buffer: ByteBuffer, at index: Int, what: String) throws(RESPProtocolError) -> (Int, Int)? {
        let available = min(buffer.writerIndex - index, Self.maxHeaderBytes)
        let found: (Int, Int)?? = buffer.withUnsafeReadableBytes { bytes -> (Int, Int)?? in
            let base = index - buffer.readerIndex
            var value = 0
            var negative = false
            var digits = 0
            var offset = 1
            while offset < available {
                let byte = bytes[base + offset]
                if byte == UInt8(ascii: "\r") {
                    guard offset + 1 < available else { return .some(nil) }
                    guard bytes[base + offset + 1] == UInt8(ascii: "\n"), digits > 0 else { return nil }
                    return (negative ? -value : value, index + offset + 2)
                }
                if offset == 1, byte == UInt8(ascii: "-") {
                    negative = true
                } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 18 {
                    value = value * 10 + Int(byte - UInt8(ascii: "0"))
                    digits += 1
                } else {
                    return nil
                }
                offset += 1
            }
            return available >= Self.maxHeaderBytes ? nil : .some(nil)
        }
        guard let found else { throw RESPProtocolError("invalid \(what) length") }
        return found
    }

    /// Splits one line into words; returns the index after the line, nil while the line is incomplete.
    private mutating func inlineCommand(in buffer: inout ByteBuffer) throws(RESPProtocolError) -> Int? {
        let start = buffer.readerIndex
        let view = buffer.readableBytesView
        guard let newline = view.prefix(limits.maxInlineBytes + 1).firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > limits.maxInlineBytes { throw RESPProtocolError("too big inline request") }
            return nil
        }
        var wordStart: Int?
        for index in start..<newline {
            let byte = view[index]
            let isSpace = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
            if isSpace {
                if let begin = wordStart { arguments.append(begin..<index) }
                wordStart = nil
            } else if wordStart == nil {
                wordStart = index
            }
        }
        if let begin = wordStart { arguments.append(begin..<newline) }
        return newline + 1
    }

    static func printable(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }
}
