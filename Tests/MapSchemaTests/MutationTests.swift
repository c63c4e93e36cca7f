import Foundation
import MapSchema
import Testing

/// SplitMix64: a small seeded generator, so that every run mutates the same way.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Randomized mutations of valid schemas")
struct MutationTests {
    static let caseCount = 12_000

    static func mutate(_ text: String, using generator: inout SeededGenerator) -> [UInt8] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var bytes: [UInt8]
        let operations = Int.random(in: 1...3, using: &generator)
        for _ in 0..<operations where !lines.isEmpty {
            let i = Int.random(in: 0..<lines.count, using: &generator)
            let j = Int.random(in: 0..<lines.count, using: &generator)
            switch Int.random(in: 0..<8, using: &generator) {
            case 0: lines.remove(at: i)
            case 1: lines.insert(lines[i], at: j)
            case 2: lines.swapAt(i, j)
            case 3 where !lines[i].isEmpty:
                var scalars = Array(lines[i].unicodeScalars)
                let k = Int.random(in: 0..<scalars.count, using: &generator)
                let replacements: [Unicode.Scalar] = [
                    ":", " ", "-", "[", "{", "\"", "'", "#", "&", "*", "!", "|", ">", "?", "x", "9", "\t", "é", "%", "@", "`", ",", "]",
                    "}",
                ]
                scalars[k] = replacements.randomElement(using: &generator)!
                lines[i] = String(String.UnicodeScalarView(scalars))
            case 4 where !lines[i].isEmpty:
                var scalars = Array(lines[i].unicodeScalars)
                scalars.remove(at: Int.random(in: 0..<scalars.count, using: &generator))
                lines[i] = String(String.UnicodeScalarView(scalars))
            case 5: lines[i] = "  " + lines[i]
            default:
                var scalars = Array(lines[i].unicodeScalars)
                if !scalars.isEmpty { scalars.removeLast(Int.random(in: 0...scalars.count, using: &generator)) }
                lines[i] = String(String.UnicodeScalarView(scalars))
            }
        }
        bytes = Array(lines.joined(separator: "\n").utf8)
        switch Int.random(in: 0..<10, using: &generator) {
        case 0 where !bytes.isEmpty: bytes.removeLast(Int.random(in: 0..<bytes.count, using: &generator))
        case 1 where !bytes.isEmpty:
            bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
        default: break
        }
        return bytes
    }

    @Test("Twelve thousand seeded mutations: no crash, no hang, and valid or a diagnostic inside the file")
    func mutations() throws {
        let directory = repositoryRoot.appendingPathComponent("schemas").path
        var corpus = try SchemaLoader.schemaFiles(in: directory).map { try String(contentsOfFile: $0, encoding: .utf8) }
        corpus.append(seedSchema)
        var generator = SeededGenerator(state: 20_240_601)
        let decoder = SchemaDecoder()
        let clock = ContinuousClock()
        var slowest = Duration.zero
        var validCount = 0
        var failures: [String] = []
        for index in 0..<Self.caseCount {
            let original = corpus[index % corpus.count]
            let bytes = Self.mutate(original, using: &generator)
            var result = SchemaFileResult()
            let elapsed = clock.measure { result = decoder.decode(bytes, file: "m.yaml") }
            slowest = max(slowest, elapsed)
            let lineCount = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            if result.documents.count == 1 && result.diagnostics.isEmpty && result.invalid.isEmpty {
                validCount += 1
                continue
            }
            let inside = result.diagnostics.contains { diagnostic in
                diagnostic.line == 0 || (1...max(1, lineCount + 1)).contains(diagnostic.line) && diagnostic.column >= 1
            }
            if result.diagnostics.isEmpty || !inside {
                failures.append("case \(index): \(result.diagnostics) for \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        // A hang backstop, not a speed check (the benchmarks time decoding): no mutation may send
        // the decoder into an exponential path.
        #expect(slowest < .seconds(20), "slowest case took \(slowest)")
        #expect(validCount > 0 && validCount < Self.caseCount)
    }
}
