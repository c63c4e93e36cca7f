import Foundation
import LiveMaps
import MapSchema
import TestServers
import Testing

@Suite("Footprint")
struct FootprintTests {
    static let bench = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/mapctl-bench").path

    /// Measured in a fresh process (`mapctl-bench maps --empty-maps`: 1,000 maps, the resident memory they
    /// add), since the tests of this process allocate concurrently.
    @Test(
        "An empty map of the default schema (sharded, 64 shards) costs at most 16 KiB",
        .enabled(if: FileManager.default.isExecutableFile(atPath: bench), "needs .build/debug/mapctl-bench (swift build)"))
    func emptyMapIsSmall() async throws {
        let output: String = try await onOwnThread {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.bench)
            process.arguments = ["maps", "--empty-maps"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        var perMap: [String: Double] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 4, fields[0] == "MEM" { perMap[String(fields[2])] = Double(fields[3]) }
        }
        let dynamic = try #require(perMap["empty-dynamic-map"], "output: \(output)")
        let typed = try #require(perMap["empty-livemap"], "output: \(output)")
        #expect(dynamic <= 16 * 1024, "an empty DynamicMap costs \(dynamic) bytes")
        #expect(typed <= 16 * 1024, "an empty LiveMap costs \(typed) bytes")
    }

    @Test("Shards created lazily still serve every operation and a consistent snapshot", arguments: Strategy.allCases)
    func lazyShards(strategy: Strategy) throws {
        let map = LiveMap<Int, Int>(configuration: .init(strategy: strategy, shards: 64))
        #expect(map.get(1) == nil)
        #expect(!map.contains(1))
        #expect(map.delete(1) == nil)
        #expect(map.count == 0)
        #expect(map.snapshot().isEmpty)
        #expect(try map.compareAndSet(1, expected: nil, new: 10))
        for key in 2..<300 { try map.put(key, key * 10) }
        #expect(map.count == 299)
        #expect(map.get(7) == 70)
        #expect(Set(map.snapshot().map(\.0)) == Set(1..<300))
        #expect(map.estimatedBytes > 0)
    }
}
