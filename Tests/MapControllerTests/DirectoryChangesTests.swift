import Foundation
import MapSchema
import Testing

@testable import MapController

/// `reconcileDirectory(_:prune:changedFiles:)`: a reconcile of the files a watcher saw change plans only
/// the maps they concern, and leaves the controller where a reconcile of the whole directory would.
@Suite("Controller: reconciling only the changed files", .serialized)
struct DirectoryChangesTests {
    final class Directory {
        let path: String
        init() throws {
            path = NSTemporaryDirectory() + "mapctl-changes-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        @discardableResult
        func write(_ name: String, _ text: String) throws -> String {
            let file = path + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
            return file
        }

        @discardableResult
        func remove(_ name: String) -> String {
            unlink(path + "/" + name)
            return path + "/" + name
        }
    }

    /// What two controllers must agree on for every map.
    static func summary(_ controller: Controller) async -> [String] {
        await controller.statuses().map { status in
            [
                status.name, status.liveVersion ?? "-", status.desiredVersion ?? "-", status.phase.rawValue,
                status.diagnostics.map(\.message).joined(separator: "|"),
            ].joined(separator: " ")
        }
    }

    @Test("A one-file change plans that map only; what the whole directory would give is what it gives")
    func plansOnlyTheChange() async throws {
        let environment = TestEnvironment()
        defer { environment.cleanUp() }
        let directory = try Directory()
        for index in 0..<50 { try directory.write("m\(index).yaml", schemaYAML("map_\(index)", version: "1.0.0")) }
        let controller = try await environment.makeController()
        let first = await controller.reconcileDirectory(directory.path, prune: true)
        #expect(first.plan.count == 50)

        let file = try directory.write("m7.yaml", schemaYAML("map_7", version: "1.1.0"))
        let report = await controller.reconcileDirectory(directory.path, prune: true, changedFiles: [file])
        #expect(report.plan.map(\.name) == ["map_7"])
        #expect(report.plan.first?.action == .update)
        #expect(try await controller.status(of: "map_7").liveVersion == "1.1.0")

        // A second file naming map_7: both documents are invalid, the live version stays.
        let second = try directory.write("z.yaml", schemaYAML("map_7", version: "2.0.0"))
        let duplicated = await controller.reconcileDirectory(directory.path, prune: true, changedFiles: [second])
        #expect(duplicated.plan.map(\.action) == [.invalid, .invalid])
        #expect(try await controller.status(of: "map_7").phase == .invalid)
        #expect(try await controller.status(of: "map_7").liveVersion == "1.1.0")
        let removed = directory.remove("z.yaml")
        _ = await controller.reconcileDirectory(directory.path, prune: true, changedFiles: [removed])
        #expect(try await controller.status(of: "map_7").phase != .invalid)

        // With --prune, a deleted file's map goes; the other 49 stay.
        let deleted = directory.remove("m3.yaml")
        let pruned = await controller.reconcileDirectory(directory.path, prune: true, changedFiles: [deleted])
        #expect(pruned.plan.map(\.action) == [.prune])
        #expect(await controller.statuses().count == 49)
        await controller.shutdown()
    }

    @Test("Random changes: a controller reconciling changed files and one reconciling the whole directory agree")
    func agreesWithWholeReconciles() async throws {
        let incremental = TestEnvironment()
        let whole = TestEnvironment()
        defer {
            incremental.cleanUp()
            whole.cleanUp()
        }
        let directory = try Directory()
        for index in 0..<20 { try directory.write("m\(index).yaml", schemaYAML("map_\(index)", version: "1.0.0")) }
        let a = try await incremental.makeController()
        let b = try await whole.makeController()
        _ = await a.reconcileDirectory(directory.path, prune: true)
        _ = await b.reconcileDirectory(directory.path, prune: true)
        var random = SystemRandomNumberGenerator()
        for round in 0..<40 {
            var changed: Set<String> = []
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let index = Int.random(in: 0..<24, using: &random)
                let name = "map_\(Int.random(in: 0..<3, using: &random) == 0 ? Int.random(in: 0..<24, using: &random) : index)"
                switch Int.random(in: 0..<6, using: &random) {
                case 0: changed.insert(directory.remove("m\(index).yaml"))
                case 1: changed.insert(try directory.write("m\(index).yaml", "name: \(name)\nversion: [\n"))
                case 2: changed.insert(try directory.write("m\(index).yaml", "key_type: string\n"))
                default:
                    let version = "1.\(Int.random(in: 0..<4, using: &random)).0"
                    let window = ["1m", "2m"].randomElement(using: &random)!
                    changed.insert(try directory.write("m\(index).yaml", schemaYAML(name, version: version, window: window)))
                }
            }
            _ = await a.reconcileDirectory(directory.path, prune: true, changedFiles: changed)
            _ = await b.reconcileDirectory(directory.path, prune: true)
            #expect(await Self.summary(a) == Self.summary(b), "round \(round)")
        }
        await a.shutdown()
        await b.shutdown()
    }
}
