import Foundation
import MapSchema
import Testing

@Suite("Loading files and directories")
struct SchemaLoaderTests {
    private func write(_ text: String, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
    }

    private func schema(_ name: String) -> String { baseSchema.replacingOccurrences(of: "orders", with: name) }

    @Test("A directory is read recursively, skipping dotfiles, dot-directories, editor files and non-YAML files")
    func skipsNoise() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try write(schema("a"), to: root.appendingPathComponent("a.yaml"))
        try write(schema("b"), to: root.appendingPathComponent("nested/b.yml"))
        for noise in [".hidden.yaml", ".git/c.yaml", "a.yaml~", "#a.yaml#", ".a.yaml.swp", "4913", "notes.txt", "a.yaml.bak"] {
            try write("not: [a schema", to: root.appendingPathComponent(noise))
        }
        let files = try SchemaLoader.schemaFiles(in: root.path)
        #expect(files == [root.appendingPathComponent("a.yaml").path, root.appendingPathComponent("nested/b.yml").path])
        let set = SchemaLoader.load(paths: [root.path])
        #expect(set.filesScanned == 2)
        #expect(set.documents.map(\.schema.name) == ["a", "b"])
        #expect(set.diagnostics.isEmpty)
    }

    @Test("The Kubernetes ConfigMap layout is read through its symlinks, once per file")
    func configMapLayout() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let manager = FileManager.default
        try write(schema("a"), to: root.appendingPathComponent("..2024_06_01_12_00_00.123/a.yaml"))
        try write(schema("b"), to: root.appendingPathComponent("..2024_06_01_12_00_00.123/b.yaml"))
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("..data").path, withDestinationPath: "..2024_06_01_12_00_00.123")
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("a.yaml").path, withDestinationPath: "..data/a.yaml")
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("b.yaml").path, withDestinationPath: "..data/b.yaml")
        let set = SchemaLoader.load(paths: [root.path])
        #expect(set.documents.map(\.file) == [root.appendingPathComponent("a.yaml").path, root.appendingPathComponent("b.yaml").path])
        #expect(set.diagnostics.isEmpty)
    }

    @Test("A symlink that leads outside the directory is not followed")
    func outsideLinks() throws {
        let root = try makeTemporaryDirectory()
        let outside = try makeTemporaryDirectory()
        defer {
            try? FileManager.default.removeItem(at: root)
            try? FileManager.default.removeItem(at: outside)
        }
        try write(schema("secret"), to: outside.appendingPathComponent("secret.yaml"))
        try write(schema("a"), to: root.appendingPathComponent("a.yaml"))
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("secret.yaml").path, withDestinationPath: outside.appendingPathComponent("secret.yaml").path
        )
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("loop").path, withDestinationPath: root.path)
        #expect(SchemaLoader.load(paths: [root.path]).documents.map(\.schema.name) == ["a"])
    }

    @Test("Two files with the same map name are both reported, each pointing at the other")
    func duplicateNames() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let a = root.appendingPathComponent("a.yaml").path
        let b = root.appendingPathComponent("b.yaml").path
        try write(schema("orders"), to: URL(fileURLWithPath: a))
        try write("# again\n" + schema("orders"), to: URL(fileURLWithPath: b))
        let set = SchemaLoader.load(paths: [root.path])
        #expect(set.documents.isEmpty)
        #expect(set.invalid.count == 2)
        #expect(
            set.diagnostics.map(\.description) == [
                "\(a):1:7: error: map name 'orders' is also used at \(b):2:7",
                "\(b):2:7: error: duplicate map name 'orders' (first used at \(a):1:7)",
            ]
        )
    }

    @Test("Errors of every file are reported in one run, and a missing path is a diagnostic")
    func allFiles() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try write(schema("a") + "shards: 3\n", to: root.appendingPathComponent("a.yaml"))
        try write(schema("b") + "ttl: 5\n", to: root.appendingPathComponent("b.yaml"))
        try write(schema("c"), to: root.appendingPathComponent("c.yaml"))
        let missing = root.appendingPathComponent("missing.yaml").path
        let set = SchemaLoader.load(paths: [root.path, missing])
        #expect(set.filesScanned == 3)
        #expect(set.documents.map(\.schema.name) == ["c"])
        #expect(set.diagnostics.map(\.line) == [5, 5, 0])
        #expect(set.diagnostics.last?.description == "\(missing): error: no such file or directory")
    }
}
