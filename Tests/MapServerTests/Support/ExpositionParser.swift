/// A small, strict reader of the Prometheus text format (0.0.4), for tests: label values come back
/// unescaped, so a test can check that what was rendered is what a scraper reads.
struct ExpositionPage {
    struct Sample: Hashable, CustomStringConvertible {
        var name: String
        var labels: [String: String]
        var value: String

        var description: String {
            let labels = self.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.debugDescription)" }
            return "\(name){\(labels.joined(separator: ","))} \(value)"
        }
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    var samples: [Sample] = []
    /// `# TYPE` by family name.
    var types: [String: String] = [:]
    /// `# HELP` by family name, unescaped.
    var help: [String: String] = [:]

    init(_ bytes: [UInt8]) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.isEmpty || text.hasSuffix("\n") else { throw ParseError(line: 0, message: "no final line feed") }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            var reader = Reader(Array(line.utf8), line: index + 1)
            if line.hasPrefix("#") {
                try readComment(&reader)
            } else if !line.isEmpty {
                samples.append(try Self.readSample(&reader))
            }
        }
    }

    /// The samples of `name` whose labels include `labels`.
    func values(_ name: String, _ labels: [String: String] = [:]) -> [String] {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }.map(\.value)
    }

    private mutating func readComment(_ reader: inout Reader) throws {
        reader.skip("#")
        reader.skip(" ")
        let keyword = reader.word()
        guard keyword == "HELP" || keyword == "TYPE" else { return }
        reader.skip(" ")
        let name = reader.word()
        reader.skip(" ")
        if keyword == "TYPE" {
            let type = reader.rest()
            guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(type) else {
                throw reader.error("unknown type \(type)")
            }
            guard types.updateValue(type, forKey: name) == nil else { throw reader.error("second TYPE for \(name)") }
        } else {
            help[name] = try reader.escaped(until: nil, quotes: false)
        }
    }

    private static func readSample(_ reader: inout Reader) throws -> Sample {
        let name = reader.word(stoppingAt: [UInt8(ascii: "{")])
        guard !name.isEmpty else { throw reader.error("no metric name") }
        var labels: [String: String] = [:]
        if reader.peek == UInt8(ascii: "{") {
            reader.skip("{")
            while reader.peek != UInt8(ascii: "}") {
                let label = reader.word(stoppingAt: [UInt8(ascii: "=")])
                guard !label.isEmpty, reader.skip("="), reader.skip("\"") else { throw reader.error("bad label in \(name)") }
                let value = try reader.escaped(until: UInt8(ascii: "\""), quotes: true)
                guard labels.updateValue(value, forKey: label) == nil else { throw reader.error("label \(label) twice") }
                if !reader.skip(",") { break }
            }
            guard reader.skip("}") else { throw reader.error("no closing brace in \(name)") }
        }
        guard reader.skip(" ") else { throw reader.error("no value for \(name)") }
        let value = reader.word()
        guard value == "+Inf" || value == "-Inf" || value == "NaN" || Double(value) != nil else {
            throw reader.error("bad value \(value)")
        }
        return Sample(name: name, labels: labels, value: value)
    }

    private struct Reader {
        var bytes: [UInt8]
        var index = 0
        let line: Int

        init(_ bytes: [UInt8], line: Int) {
            self.bytes = bytes
            self.line = line
        }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        func error(_ message: String) -> ParseError { ParseError(line: line, message: message) }

        @discardableResult
        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard peek == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        mutating func word(stoppingAt stops: Set<UInt8> = []) -> String {
            let start = index
            while let byte = peek, byte != UInt8(ascii: " "), !stops.contains(byte) { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func rest() -> String {
            defer { index = bytes.count }
            return String(decoding: bytes[index...], as: UTF8.self)
        }

        /// Reads up to `end` (consumed) or the end of the line, undoing `\\`, `\n` and, in a label
        /// value, `\"`; any other escape is an error, and so is a bare `"` in a label value.
        mutating func escaped(until end: UInt8?, quotes: Bool) throws -> String {
            var out: [UInt8] = []
            while let byte = peek {
                index += 1
                if byte == end { return String(decoding: out, as: UTF8.self) }
                guard byte == UInt8(ascii: "\\") else {
                    out.append(byte)
                    continue
                }
                switch peek {
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "\"") where quotes: out.append(UInt8(ascii: "\""))
                default: throw error("bad escape")
                }
                index += 1
            }
            if end != nil { throw error("unterminated label value") }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
