public import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The arguments of one command, read in place from the connection's buffer (no copy until a
/// command needs one).
public struct RESPArguments {
    let buffer: ByteBuffer
    let ranges: [Range<Int>]

    public init(buffer: ByteBuffer, ranges: [Range<Int>]) {
        self.buffer = buffer
        self.ranges = ranges
    }

    public var count: Int { ranges.count }

    /// Calls `body` with argument `index`'s bytes.
    func withBytes<Result, Failure: Error>(
        _ index: Int, _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let range = ranges[index]
        let start = range.lowerBound - buffer.readerIndex
        let result = buffer.withUnsafeReadableBytes { all -> Swift.Result<Result, Failure> in
            do throws(Failure) {
                return .success(try body(UnsafeRawBufferPointer(rebasing: all[start..<(start + range.count)])))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Argument `index`'s bytes, copied.
    func bytes(_ index: Int) -> [UInt8] {
        buffer.getBytes(at: ranges[index].lowerBound, length: ranges[index].count) ?? []
    }

    /// Argument `index` as text, lossy: for names, options and messages.
    func text(_ index: Int) -> String {
        buffer.getString(at: ranges[index].lowerBound, length: ranges[index].count) ?? ""
    }

    /// Whether argument `index` is `word` (lowercase ASCII), ignoring case.
    func `is`(_ index: Int, _ word: StaticString) -> Bool {
        let range = ranges[index]
        guard range.count == word.utf8CodeUnitCount else { return false }
        return buffer.withUnsafeReadableBytes { all in
            let start = range.lowerBound - buffer.readerIndex
            for offset in 0..<range.count where all[start + offset] | 0x20 != word.utf8Start[offset] {
                return false
            }
            return true
        }
    }

    /// `bytes` as a String when they are valid UTF-8; nil otherwise.
    ///
    /// Faster than `String(validating:)` on this path (no generic metadata to look up per call): a
    /// pure-ASCII check, else a repairing decode whose result must equal the input byte for byte.
    static func utf8String(_ bytes: UnsafeRawBufferPointer) -> String? {
        let units = bytes.bindMemory(to: UInt8.self)
        var string = String(decoding: units, as: UTF8.self)
        var isASCII = true
        for byte in units where byte >= 0x80 {
            isASCII = false
            break
        }
        if isASCII { return string }
        let same = string.withUTF8 { decoded in
            decoded.count == units.count && (units.isEmpty || memcmp(decoded.baseAddress!, units.baseAddress!, units.count) == 0)
        }
        return same ? string : nil
    }

    /// Argument `index` as a decimal integer; nil when it is not one.
    func integer(_ index: Int) -> Int? {
        Int(text(index))
    }
}

/// A reply that is an error: its first word is the Redis error kind (`ERR`, `BUSY`, `NOAUTH`, …).
public struct RESPReplyError: Error, Sendable, Hashable {
    public var line: String

    public init(_ line: String) {
        self.line = line
    }

    static func wrongArity(_ command: String) -> RESPReplyError {
        RESPReplyError("ERR wrong number of arguments for '\(command)' command")
    }

    static var syntax: RESPReplyError { RESPReplyError("ERR syntax error") }
}
