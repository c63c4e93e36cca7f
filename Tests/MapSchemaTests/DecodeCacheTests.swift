import Foundation
import MapSchema
import Testing

/// A directory load with a cache reads only the files that changed since the last load.
@Suite("Schema loader: only changed files are read again")
struct DecodeCacheTests {
    static func schema(_ index: Int, description: String = "first") -> String {
        baseSchema.replacingOccurrences(of: "orders", with: "map_\(index)") + "description: \(description)\n"
    }

    @Test("After a first load, each load decodes exactly the files edited, replaced or added")
    func readsOnlyChanges() throws {
        let directory = NSTemporaryDirectory() + "mapctl-cache-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let count = 300
        for index in 0..<count { try Self.schema(index).write(toFile: directory + "/m\(index).yaml", atomically: false, encoding: .utf8) }
        let cache = SchemaLoader.DecodeCache()
        #expect(SchemaLoader.load(paths: [directory], cache: cache).documents.count == count)
        #expect(cache.decodedFiles == count)
        #expect(SchemaLoader.load(paths: [directory], cache: cache).documents.count == count)
        #expect(cache.decodedFiles == count, "nothing changed, nothing read")

        var random = SystemRandomNumberGenerator()
        for round in 1...5 {
            let before = cache.decodedFiles
            let edited = Int.random(in: 0..<count, using: &random)
            let replaced = (edited + 1 + Int.random(in: 0..<(count - 1), using: &random)) % count
            // Same length as before: only the times tell the edit apart.
            try Self.schema(edited, description: "edit\(round)").write(
                toFile: directory + "/m\(edited).yaml", atomically: false, encoding: .utf8)
            try Self.schema(replaced, description: "swap\(round)").write(toFile: directory + "/.tmp", atomically: false, encoding: .utf8)
            #expect(rename(directory + "/.tmp", directory + "/m\(replaced).yaml") == 0)
            let set = SchemaLoader.load(paths: [directory], cache: cache)
            #expect(cache.decodedFiles - before == 2, "round \(round)")
            let byName = Dictionary(uniqueKeysWithValues: set.documents.map { ($0.schema.name, $0.schema.description) })
            #expect(byName["map_\(edited)"] == "edit\(round)")
            #expect(byName["map_\(replaced)"] == "swap\(round)")
            #expect(set.documents.count == count)
        }
        #expect(unlink(directory + "/m0.yaml") == 0)
        let before = cache.decodedFiles
        let set = SchemaLoader.load(paths: [directory], cache: cache)
        #expect(set.documents.count == count - 1)
        #expect(cache.decodedFiles == before)
        try Self.schema(0, description: "back").write(toFile: directory + "/m0.yaml", atomically: false, encoding: .utf8)
        #expect(SchemaLoader.load(paths: [directory], cache: cache).documents.count == count)
        #expect(cache.decodedFiles == before + 1)
    }
}
