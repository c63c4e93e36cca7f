import NIOCore
import Testing

@testable import MapServer

/// A small deterministic generator, so that a failing case can be run again from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random RESP values and commands; each is parsed whole, and split at every byte boundary, and must
/// come out the same.
@Suite("RESP parsing")
struct RESPParserTests {
    // MARK: - Generators

    static func randomBytes(_ rng: inout SplitMix64, maxCount: Int) -> [UInt8] {
        let count = Int.random(in: 0...maxCount, using: &rng)
        // Bias towards the protocol's own bytes, which a parser could mistake for framing.
        let alphabet: [UInt8] = Array("\r\n*$+-:_#,%~>0123456789abc".utf8) + [0, 0xFF]
        return (0..<count).map { _ in
            Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
        }
    }

    static func randomLine(_ rng: inout SplitMix64) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz ABC-_:0123456789")
        return String((0..<Int.random(in: 0...12, using: &rng)).map { _ in letters.randomElement(using: &rng)! })
    }

    static func randomValue(_ rng: inout SplitMix64, depth: Int) -> RESPValue {
        let aggregate = depth < 4 && Int.random(in: 0..<4, using: &rng) == 0
        if aggregate {
            let elements = (0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) }
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: return .array(elements)
            case 1: return .set(elements)
            default:
                return .map(stride(from: 0, to: elements.count - 1, by: 2).map { RESPPair(elements[$0], elements[$0 + 1]) })
            }
        }
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: return .simpleString(randomLine(&rng))
        case 1: return .error("ERR " + randomLine(&rng))
        case 2: return .integer(Int.random(in: Int.min...Int.max, using: &rng))
        case 3: return .null
        case 4: return .boolean(Bool.random(using: &rng))
        case 5: return .double(String(Double.random(in: -1e9...1e9, using: &rng)))
        default: return .bulkString(randomBytes(&rng, maxCount: 40))
        }
    }

    static func encoded(_ values: [RESPValue]) -> [UInt8] {
        var buffer = ByteBuffer()
        for value in values { value.write(to: &buffer, version: .resp3) }
        return Array(buffer.readableBytesView)
    }

    /// Parses `bytes` fed in the given chunks, as a connection receives them.
    static func parseValues(_ bytes: [UInt8], splitAt cuts: [Int]) throws -> [RESPValue] {
        let parser = RESPValueParser()
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        var start = 0
        for end in cuts + [bytes.count] where end >= start {
            buffer.writeBytes(bytes[start..<end])
            start = end
            while let value = try parser.next(in: &buffer) { values.append(value) }
        }
        #expect(buffer.readableBytes == 0)
        return values
    }

    /// The commands `bytes` holds, as their arguments, fed in the given chunks.
    static func parseCommands(_ bytes: [UInt8], splitAt cuts: [Int]) throws -> [[[UInt8]]] {
        var decoder = RESPRequestDecoder()
        var buffer = ByteBuffer()
        var commands: [[[UInt8]]] = []
        var start = 0
        for end in cuts + [bytes.count] where end >= start {
            buffer.writeBytes(bytes[start..<end])
            start = end
            while let next = try decoder.next(in: &buffer) {
                commands.append(decoder.arguments.map { buffer.getBytes(at: $0.lowerBound, length: $0.count)! })
                buffer.moveReaderIndex(to: next)
            }
            // Compact now and then, as the handler does, to exercise the rebase.
            if buffer.readerIndex > 0, Bool.random() {
                let discarded = buffer.readerIndex
                buffer.discardReadBytes()
                decoder.rebase(discarding: discarded)
            }
        }
        return commands
    }

    static func encodedCommand(_ arguments: [[UInt8]]) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeRESPArrayHeader(arguments.count)
        for argument in arguments { buffer.writeRESPBulkString(argument) }
        return Array(buffer.readableBytesView)
    }

    // MARK: - Properties

    @Test("Random values parse the same whole and split at every byte boundary")
    func valuesSplitAnywhere() throws {
        var rng = SplitMix64(state: 0x5EED_0001)
        for _ in 0..<200 {
            let values = (0..<Int.random(in: 1...4, using: &rng)).map { _ in Self.randomValue(&rng, depth: 0) }
            let bytes = Self.encoded(values)
            #expect(try Self.parseValues(bytes, splitAt: []) == values)
            for cut in 0...bytes.count {
                #expect(try Self.parseValues(bytes, splitAt: [cut]) == values, "cut at \(cut) of \(bytes.count)")
            }
            // And one byte at a time.
            #expect(try Self.parseValues(bytes, splitAt: Array(0..<bytes.count)) == values)
        }
    }

    @Test("Random pipelined commands decode the same whole and split at every byte boundary")
    func commandsSplitAnywhere() throws {
        var rng = SplitMix64(state: 0x5EED_0002)
        for _ in 0..<200 {
            let commands = (0..<Int.random(in: 1...5, using: &rng)).map { _ in
                (0..<Int.random(in: 1...5, using: &rng)).map { _ in Self.randomBytes(&rng, maxCount: 30) }
            }
            let bytes = commands.flatMap(Self.encodedCommand)
            #expect(try Self.parseCommands(bytes, splitAt: []) == commands)
            for cut in 0...bytes.count {
                #expect(try Self.parseCommands(bytes, splitAt: [cut]) == commands, "cut at \(cut) of \(bytes.count)")
            }
            var cuts: [Int] = []
            var position = 0
            while position < bytes.count {
                position += Int.random(in: 1...7, using: &rng)
                cuts.append(min(position, bytes.count))
            }
            #expect(try Self.parseCommands(bytes, splitAt: cuts) == commands)
        }
    }

    @Test("Inline commands split into words; empty lines are skipped")
    func inlineCommands() throws {
        let bytes = Array("PING\r\n\r\nSET  a:b   c\nECHO x\r\n".utf8)
        let expected = [["PING"], ["SET", "a:b", "c"], ["ECHO", "x"]].map { $0.map { Array($0.utf8) } }
        for cut in 0...bytes.count {
            #expect(try Self.parseCommands(bytes, splitAt: [cut]) == expected)
        }
    }

    // MARK: - Hostile input

    static func decoderError(_ text: String, limits: RESPLimits = RESPLimits()) -> RESPProtocolError? {
        var decoder = RESPRequestDecoder(limits: limits)
        var buffer = ByteBuffer(string: text)
        do {
            while let next = try decoder.next(in: &buffer) { buffer.moveReaderIndex(to: next) }
            return nil
        } catch {
            return error
        }
    }

    @Test("A 1 GB bulk length, an absurd array length, a nested array and a bad length are refused at once")
    func hostileCommands() {
        #expect(Self.decoderError("*1\r\n$1073741824\r\n")?.message == "invalid bulk length")
        #expect(Self.decoderError("*99999999999\r\n")?.message == "invalid multibulk length")
        #expect(Self.decoderError("*2\r\n*1\r\n$1\r\na\r\n")?.message == "expected '$', got '*'")
        #expect(Self.decoderError("*1\r\n$abc\r\n")?.message == "invalid bulk length")
        #expect(Self.decoderError("*1\r\n$-5\r\n")?.message == "invalid bulk length")
        #expect(Self.decoderError("*1\r\n$3\r\nabcXY")?.message == "bulk string not followed by CRLF")
        // A header that never ends: refused after a few bytes, not buffered.
        #expect(Self.decoderError("*" + String(repeating: "1", count: 40))?.message == "invalid multibulk length")
        // An inline line without end, beyond its limit.
        #expect(Self.decoderError(String(repeating: "a", count: 70_000))?.message == "too big inline request")
        // Many bulks each within the limit, together beyond the request limit: refused when announced.
        let limits = RESPLimits(maxBulkBytes: 1 << 20, maxRequestBytes: 2 << 20)
        #expect(
            Self.decoderError("*3\r\n$1048576\r\n" + String(repeating: "x", count: 1 << 20) + "\r\n$1048576\r\n", limits: limits) != nil)
    }

    @Test("A truncated command waits for the rest without consuming anything")
    func truncated() throws {
        var decoder = RESPRequestDecoder()
        var buffer = ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$5\r\nab")
        #expect(try decoder.next(in: &buffer) == nil)
        #expect(decoder.isInProgress)
        #expect(buffer.readerIndex == 0)
    }

    @Test("A nesting bomb is refused at the depth limit, not by exhausting the stack")
    func nestingBomb() {
        let parser = RESPValueParser()
        var buffer = ByteBuffer(string: String(repeating: "*1\r\n", count: 100_000))
        #expect(throws: RESPProtocolError.self) { _ = try parser.next(in: &buffer) }
        var huge = ByteBuffer(string: "$1073741824\r\n")
        #expect(throws: RESPProtocolError.self) { _ = try parser.next(in: &huge) }
        var wide = ByteBuffer(string: "*4294967296\r\n")
        #expect(throws: RESPProtocolError.self) { _ = try parser.next(in: &wide) }
    }
}
