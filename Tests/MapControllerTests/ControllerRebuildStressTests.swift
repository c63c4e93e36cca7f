import Foundation
import LiveMaps
import MapSchema
import Synchronization
import TestServers
import Testing

@testable import Governance
@testable import MapController

/// Writers go through the controller's governed maps (typed handles) while the controller rebuilds
/// and rolls back; what they acknowledged is checked against the map at the end.
@Suite("Controller: concurrent writers during rebuilds and rollbacks", .heavy)
struct ControllerRebuildStressTests {
    final class Model: Sendable {
        let values = Locked<[String: Int?]>([:])
    }

    final class StopFlag: Sendable {
        private let flag = Atomic<Bool>(false)
        func stop() { flag.store(true, ordering: .releasing) }
        var isStopped: Bool { flag.load(ordering: .acquiring) }
    }

    /// Runs writers on `handle` until `action` is done; returns the last acknowledged value of every key.
    static func withWriters(
        _ handle: TypedMapHandle<Int>, writers: Int = 3, during action: @escaping @Sendable () async throws -> Void
    ) async throws -> [String: Int?] {
        let stop = StopFlag()
        let models = (0..<writers).map { _ in Model() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                let model = models[writer]
                group.addTask {
                    var generator = SplitMix(seed: UInt64(writer * 7 + 3))
                    var ops = 0
                    while ops < 600 || !stop.isStopped {
                        let key = "w\(writer)-\(generator.next() % 300)"
                        if generator.next() % 4 == 0 {
                            do {
                                _ = try handle.delete(key)
                                model.values.withLock { $0[key] = .some(nil) }
                            } catch {
                                Issue.record("delete failed: \(error)")
                            }
                        } else {
                            let value = Int(generator.next() % 1_000_000)
                            do {
                                try handle.put(key, value)
                                model.values.withLock { $0[key] = .some(value) }
                            } catch {
                                Issue.record("put failed: \(error)")
                            }
                        }
                        ops += 1
                        if ops % 32 == 0 { await Task.yield() }
                    }
                }
            }
            group.addTask {
                defer { stop.stop() }
                try await action()
            }
            try await group.waitForAll()
        }
        var merged: [String: Int?] = [:]
        for model in models { merged.merge(model.values.withLock { $0 }) { $1 } }
        return merged
    }

    static func expectMatches(_ handle: TypedMapHandle<Int>, _ model: [String: Int?], _ what: String) throws {
        var mismatches = 0
        for (key, expected) in model.sorted(by: { $0.key < $1.key }) {
            let actual = try handle.get(key)
            if actual != expected {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("\(what): \(key) is \(String(describing: actual)), acknowledged \(String(describing: expected))")
                }
            }
        }
        #expect(mismatches == 0, "\(what): \(mismatches) keys lost or resurrected")
        #expect(handle.count == model.values.count { $0 != nil }, "\(what): entries nobody acknowledged")
    }

    @Test(
        "rebuilds, warm rollbacks and cold rollbacks under writers lose and resurrect nothing",
        arguments: ["sharded", "mutex", "rwlock", "snapshot", "serialized"])
    func rebuildAndRollbacks(strategy: String) async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        let extra = "strategy: \(strategy)\n"
        let handle = try controller.map("users", as: Int.self)
        try await controller.apply(schemaYAML(version: "1.0.0", extra: extra))
        let model = try await Self.withWriters(handle) {
            var minor = 1
            for round in 0..<4 {
                try await Task.sleep(for: .milliseconds(3))
                // Rebuild into a new version (warm or cold standby), then roll it back while writers go on.
                let standby = round % 2 == 0 ? "warm" : "cold"
                let report = try await controller.apply(schemaYAML(version: "1.\(minor).0", standby: standby, extra: extra))
                #expect(report.plan.first?.action == .update)
                minor += 1
                try await Task.sleep(for: .milliseconds(3))
                let status = try await controller.rollback(name: "users", to: nil, reason: "stress \(round)", source: "test")
                #expect(status.phase == .rolledBack)
            }
            // And one last rebuild that stays.
            try await controller.apply(schemaYAML(version: "1.\(minor).0", extra: extra))
        }
        try Self.expectMatches(handle, model, strategy)
        let metrics = await controller.metricsSnapshot()
        #expect(metrics.rollbacks.first { $0.reason == "manual" }?.count == 4)
    }
}
