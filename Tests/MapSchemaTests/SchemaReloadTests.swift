import Foundation
import Testing

@testable import MapSchema

/// `SchemaLoader.reload`: a load of only the files a watcher saw change gives what a load of the whole
/// directory gives, reads only those files, and says which maps the change concerns.
@Suite("Schema loader: reloading only the changed files")
struct SchemaReloadTests {
    final class Directory {
        let path: String
        init() throws {
            path = NSTemporaryDirectory() + "mapctl-reload-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        /// Writes `text` to `name` by a rename over it, as editors and git do; returns the path.
        @discardableResult
        func write(_ name: String, _ text: String) throws -> String {
            let file = path + "/" + name
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
            return file
        }

        @discardableResult
        func remove(_ name: String) -> String {
            let file = path + "/" + name
            unlink(file)
            return file
        }
    }

    static func schema(_ name: String, version: String = "1.0.0", description: String = "x") -> String {
        "name: \(name)\nversion: \(version)\nkey_type: string\nvalue_type: string\ndescription: \(description)\n"
    }

    /// What a load says, in a form two loads can be compared by.
    static func summary(_ set: SchemaSet) -> [String] {
        set.documents.map { "valid \($0.file) \($0.schema.name) \($0.contentSHA256)" }
            + set.invalid.map { "invalid \($0.file) \($0.name ?? "-") \($0.diagnostics.map(\.message))" }
            + ["files \(set.filesScanned)", "diagnostics \(set.diagnostics.map(\.message))"]
    }

    @Test("Random edits, creations, deletions, broken files and duplicate names: a reload equals a whole load")
    func matchesWholeLoads() throws {
        let directory = try Directory()
        let cache = SchemaLoader.DecodeCache()
        for index in 0..<40 { try directory.write("m\(index).yaml", Self.schema("map_\(index % 37)")) }
        _ = SchemaLoader.load(paths: [directory.path], cache: cache)
        var random = SystemRandomNumberGenerator()
        for round in 0..<60 {
            var changed: Set<String> = []
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let index = Int.random(in: 0..<48, using: &random)
                switch Int.random(in: 0..<5, using: &random) {
                case 0: changed.insert(directory.remove("m\(index).yaml"))
                case 1: changed.insert(try directory.write("m\(index).yaml", "name: [unclosed\n"))
                case 2: changed.insert(try directory.write("m\(index).yaml", Self.schema("map_\(Int.random(in: 0..<40, using: &random))")))
                default:
                    changed.insert(try directory.write("m\(index).yaml", Self.schema("map_\(index)", description: "r\(round)")))
                }
            }
            let before = cache.decodedFiles
            let reloaded = try #require(SchemaLoader.reload(directory: directory.path, changed: changed, cache: cache), "round \(round)")
            #expect(cache.decodedFiles - before <= changed.count, "round \(round): read more than the changed files")
            let whole = SchemaLoader.load(paths: [directory.path])
            #expect(Self.summary(reloaded.set) == Self.summary(whole), "round \(round)")
        }
    }

    @Test("One changed file in a thousand is the only one read; the maps it named before and names now are concerned")
    func readsOnlyTheChangedFile() throws {
        let directory = try Directory()
        let cache = SchemaLoader.DecodeCache()
        for index in 0..<1000 { try directory.write("m\(index).yaml", Self.schema("map_\(index)")) }
        #expect(SchemaLoader.load(paths: [directory.path], cache: cache).documents.count == 1000)
        let before = cache.decodedFiles
        let file = try directory.write("m7.yaml", Self.schema("renamed_map", version: "1.1.0"))
        let reloaded = try #require(SchemaLoader.reload(directory: directory.path, changed: [file], cache: cache))
        #expect(cache.decodedFiles == before + 1)
        #expect(reloaded.changedFiles == [file])
        #expect(reloaded.affectedNames == ["map_7", "renamed_map"])
        #expect(reloaded.set.documents.count == 1000)
        #expect(reloaded.set.filesScanned == 1000)

        // Events for a file whose content did not change (a touch of its attributes is another fingerprint,
        // a second event for the same write is not) read nothing more and concern nothing.
        let again = try #require(SchemaLoader.reload(directory: directory.path, changed: [file], cache: cache))
        #expect(cache.decodedFiles == before + 1)
        #expect(again.changedFiles.isEmpty && again.affectedNames.isEmpty)
    }

    @Test("A second file naming the same map makes both invalid; removing one makes the other valid again")
    func duplicateNames() throws {
        let directory = try Directory()
        let cache = SchemaLoader.DecodeCache()
        try directory.write("a.yaml", Self.schema("orders"))
        try directory.write("b.yaml", Self.schema("users"))
        _ = SchemaLoader.load(paths: [directory.path], cache: cache)
        let second = try directory.write("c.yaml", Self.schema("orders", version: "2.0.0"))
        let duplicated = try #require(SchemaLoader.reload(directory: directory.path, changed: [second], cache: cache))
        #expect(duplicated.affectedNames == ["orders"])
        #expect(duplicated.set.documents.map(\.schema.name) == ["users"])
        #expect(Set(duplicated.set.invalid.map(\.file)) == [directory.path + "/a.yaml", second])
        let removed = directory.remove("a.yaml")
        let single = try #require(SchemaLoader.reload(directory: directory.path, changed: [removed], cache: cache))
        #expect(single.affectedNames == ["orders"])
        #expect(single.changedFiles == [removed])
        #expect(single.set.documents.map { "\($0.schema.name) \($0.schema.version)" } == ["users 1.0.0", "orders 2.0.0"])
        #expect(single.set.invalid.isEmpty)
    }

    @Test("Paths spelled another way are the loader's paths: a trailing slash, doubled slashes, a subdirectory")
    func spellings() throws {
        let directory = try Directory()
        let cache = SchemaLoader.DecodeCache()
        try directory.write("a.yaml", Self.schema("orders"))
        try directory.write("sub/b.yaml", Self.schema("users"))
        _ = SchemaLoader.load(paths: [directory.path + "/"], cache: cache)
        try directory.write("sub/b.yaml", Self.schema("users", version: "1.1.0"))
        let reloaded = try #require(
            SchemaLoader.reload(directory: directory.path + "/", changed: [directory.path + "//sub/b.yaml"], cache: cache))
        #expect(reloaded.changedFiles == [directory.path + "/sub/b.yaml"])
        #expect(Self.summary(reloaded.set) == Self.summary(SchemaLoader.load(paths: [directory.path + "/"])))
    }

    @Test(
        "What a reload cannot follow file by file gives nil: a directory, a hidden or non-schema name, a link, a new subdirectory, another root"
    )
    func refusals() throws {
        let directory = try Directory()
        let cache = SchemaLoader.DecodeCache()
        try directory.write("a.yaml", Self.schema("orders"))
        try directory.write("sub/b.yaml", Self.schema("users"))
        #expect(SchemaLoader.reload(directory: directory.path, changed: [directory.path + "/a.yaml"], cache: cache) == nil, "never loaded")
        _ = SchemaLoader.load(paths: [directory.path], cache: cache)
        for path in [
            directory.path + "/sub", directory.path + "/..data", directory.path + "/.a.yaml.swp", directory.path + "/notes.txt",
            directory.path + "/new/c.yaml", "/elsewhere/a.yaml", "(overflow)", directory.path,
        ] {
            #expect(SchemaLoader.reload(directory: directory.path, changed: [path], cache: cache) == nil, "\(path)")
        }
        try FileManager.default.createDirectory(atPath: directory.path + "/new", withIntermediateDirectories: true)
        let created = try directory.write("new/c.yaml", Self.schema("carts"))
        #expect(SchemaLoader.reload(directory: directory.path, changed: [created], cache: cache) == nil, "a directory not loaded yet")
        #expect(symlink(directory.path + "/a.yaml", directory.path + "/link.yaml") == 0)
        #expect(SchemaLoader.reload(directory: directory.path, changed: [directory.path + "/link.yaml"], cache: cache) == nil)
        // A whole load that meets a link does not prime the cache: every later change is a whole load too.
        _ = SchemaLoader.load(paths: [directory.path], cache: cache)
        #expect(SchemaLoader.reload(directory: directory.path, changed: [directory.path + "/a.yaml"], cache: cache) == nil)
        #expect(SchemaLoader.reload(directory: directory.path, changed: [], cache: cache) == nil)
    }
}
