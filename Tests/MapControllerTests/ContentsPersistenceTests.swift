import Foundation
import LiveMaps
import Testing

@testable import MapController

/// Map contents survive a clean restart, never come back stale, and a damaged save is refused.
@Suite("Controller: map contents across restarts")
struct ContentsPersistenceTests {
    /// Values of every shape, including keys and numbers that a careless round trip would change.
    static func entries(count: Int) -> [(key: String, json: String)] {
        (0..<count).map { index in
            let key =
                switch index % 4 {
                case 0: "k\(index)"
                case 1: "caf\u{E9}-\(index)"
                case 2: "cafe\u{301}-\(index)"
                default: "tab\t\"quoted\"\n\(index)"
                }
            let json =
                switch index % 5 {
                case 0: "\(index)"
                case 1: "123456789012345678901234567890\(index)"
                case 2: "\"line\\nbreak \\u00e9 \(index)\""
                case 3: "{\"a\":[1,2.5,null,true],\"n\":{\"x\":\"\(index)\"}}"
                default: "[\(index),-\(index),0.1]"
                }
            return (key, json)
        }
    }

    @Test("Five hundred entries of every shape survive a clean shutdown and a restart, exactly")
    func survivesCleanRestart() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let written = Self.entries(count: 500)
        do {
            let controller = try await env.makeController()
            try await controller.apply(schemaYAML("docs", version: "1.0.0", valueType: "json"))
            for (key, json) in written { try await controller.put("docs", key, json) }
            await controller.shutdown()
        }
        let restarted = try await env.makeController()
        #expect(try await restarted.status(of: "docs").entries == 500)
        for (key, json) in written {
            let expected = String(decoding: try JSONValueText.canonical(json), as: UTF8.self)
            #expect(try await restarted.value("docs", key) == expected)
        }
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: env.directory + "/contents")) ?? []
        #expect(leftovers.filter { !$0.hasPrefix(".") }.isEmpty, "a restored file is removed")
    }

    @Test("After a crash nothing stale comes back: only the last run's clean save is restored")
    func crashRestoresNothingStale() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        do {
            let controller = try await env.makeController()
            try await controller.apply(schemaYAML("docs", version: "1.0.0", valueType: "json"))
            try await controller.put("docs", "old", "1")
            await controller.shutdown()
        }
        do {
            let controller = try await env.makeController()
            #expect(try await controller.value("docs", "old") == "1")
            _ = try await controller.deleteEntry(map: "docs", key: "old")
            // No shutdown(): the process crashed.
        }
        let restarted = try await env.makeController()
        #expect(try await restarted.status(of: "docs").entries == 0)
    }

    /// Ways a saved file goes bad, each with the words the refusal must contain.
    static let damages: [(String, String, @Sendable ([UInt8]) -> [UInt8])] = [
        (
            "a flipped bit", "checksum mismatch",
            { bytes in
                var bytes = bytes
                bytes[bytes.count / 2] ^= 0x04
                return bytes
            }
        ),
        ("a cut at half", "cut short", { Array($0.prefix($0.count / 2)) }),
        ("an empty file", "cut short", { _ in [] }),
        (
            "a missing last line", "cut short",
            { bytes in
                Array(bytes.prefix(upTo: bytes.dropLast().lastIndex(of: 0x0A)! + 1))
            }
        ),
    ]

    @Test("A damaged save is refused with a clear message and a history entry; the map starts empty", arguments: 0..<4)
    func damagedSaveRefused(damage index: Int) async throws {
        let (label, words, damage) = Self.damages[index]
        let env = TestEnvironment()
        defer { env.cleanUp() }
        do {
            let controller = try await env.makeController()
            try await controller.apply(schemaYAML("docs", version: "1.0.0", valueType: "json"))
            for (key, json) in Self.entries(count: 50) { try await controller.put("docs", key, json) }
            await controller.shutdown()
        }
        let path = env.directory + "/contents/docs.contents"
        let saved = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        try Data(damage(saved)).write(to: URL(fileURLWithPath: path))

        let restarted = try await env.makeController()
        #expect(try await restarted.status(of: "docs").entries == 0, "\(label)")
        let last = try #require(try await restarted.history(of: "docs").last)
        #expect(last.action == .invalid)
        #expect(last.reason?.hasPrefix("saved contents refused: ") == true, "\(label): \(last.reason ?? "")")
        #expect(last.reason?.contains(words) == true, "\(label): \(last.reason ?? "")")
        #expect(last.reason?.hasSuffix("the map starts empty") == true)
        #expect(FileManager.default.fileExists(atPath: path + ".damaged"), "the damaged file is kept aside")
        #expect(!FileManager.default.fileExists(atPath: path))
        // It serves, empty.
        try await restarted.put("docs", "k", "1")
        #expect(try await restarted.value("docs", "k") == "1")
    }
}

/// The compact form the daemon serves a JSON text in.
enum JSONValueText {
    static func canonical(_ json: String) throws -> [UInt8] { try JSONValue(parsing: json).serialized() }
}
