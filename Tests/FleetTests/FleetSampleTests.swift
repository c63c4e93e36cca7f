import Fleet
import Foundation
import Testing

@Suite("Fleet store: samples, checks, replicas", .enabled(if: FleetTesting.postgresAvailable))
struct FleetSampleTests {
    static let window = FleetTesting.t0

    static func sample(_ interval: Int, _ replica: String, ops: UInt64, errors: UInt64 = 0, buckets: [UInt64] = [1, 2, 3]) -> FleetSample {
        FleetSample(
            name: "users", version: "1.3.0", windowStart: window, interval: interval, replica: replica, ops: ops, errors: errors,
            faults: 1, latencyBuckets: buckets, publishedAt: window.addingTimeInterval(Double(interval + 1) * 10)
        )
    }

    @Test("Samples: one row per (interval, replica), republishing replaces it; other windows and versions apart")
    func samplesUpsert() async throws {
        try await FleetTesting.withStore { store in
            try await store.publish(Self.sample(0, "r1", ops: 10))
            try await store.publish(Self.sample(0, "r2", ops: 20))
            try await store.publish(Self.sample(1, "r1", ops: 5))
            try await store.publish(Self.sample(0, "r1", ops: 15, errors: 3, buckets: [4, 0, 0, 9]))
            var otherWindow = Self.sample(0, "r1", ops: 99)
            otherWindow.windowStart = Self.window.addingTimeInterval(600)
            try await store.publish(otherWindow)
            var otherVersion = Self.sample(0, "r1", ops: 98)
            otherVersion.version = "1.4.0"
            try await store.publish(otherVersion)

            let samples = try await store.samples(name: "users", version: "1.3.0", windowStart: Self.window)
            #expect(
                samples == [
                    Self.sample(0, "r1", ops: 15, errors: 3, buckets: [4, 0, 0, 9]), Self.sample(0, "r2", ops: 20),
                    Self.sample(1, "r1", ops: 5),
                ])
            #expect(try await store.samples(name: "users", version: "1.3.0", windowStart: otherWindow.windowStart).map(\.ops) == [99])
            #expect(try await store.samples(name: "users", version: "1.4.0", windowStart: Self.window).map(\.ops) == [98])
            #expect(try await store.samples(name: "other", version: "1.3.0", windowStart: Self.window).isEmpty)

            // Counters past Int64 are clamped, not trapped on.
            try await store.publish(Self.sample(2, "r1", ops: .max, buckets: [.max, 0]))
            let clamped = try await store.samples(name: "users", version: "1.3.0", windowStart: Self.window).last
            #expect(clamped?.ops == UInt64(Int64.max))
            #expect(clamped?.latencyBuckets == [UInt64(Int64.max), 0])

            #expect(try await store.pruneSamples(before: otherWindow.windowStart) == 5)
            #expect(try await store.samples(name: "users", version: "1.3.0", windowStart: Self.window).isEmpty)
            #expect(try await store.samples(name: "users", version: "1.3.0", windowStart: otherWindow.windowStart).count == 1)
        }
    }

    @Test("A check is recorded once: the first verdict stays")
    func checksOnce() async throws {
        try await FleetTesting.withStore { store in
            #expect(try await store.recordCheck(name: "users", version: "1.3.0", windowStart: Self.window, interval: 0, result: "fail"))
            #expect(try await !store.recordCheck(name: "users", version: "1.3.0", windowStart: Self.window, interval: 0, result: "pass"))
            #expect(
                try await store.recordCheck(name: "users", version: "1.3.0", windowStart: Self.window, interval: 1, result: "inconclusive"))
            #expect(try await store.recordCheck(name: "users", version: "1.4.0", windowStart: Self.window, interval: 0, result: "pass"))
            #expect(try await store.checks(name: "users", version: "1.3.0", windowStart: Self.window) == [0: "fail", 1: "inconclusive"])
            #expect(try await store.checks(name: "users", version: "1.3.0", windowStart: Self.window.addingTimeInterval(1)).isEmpty)

            // Many leaders racing on one interval (there should be one, but the key is the guard): one wins.
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await store.recordCheck(
                            name: "users", version: "1.3.0", windowStart: Self.window, interval: 5, result: "r\(index)")
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
        }
    }

    @Test("Heartbeats: one row per replica, replaced each time, last_seen from the database's clock")
    func heartbeats() async throws {
        try await FleetTesting.withStore { store in
            let before = try await store.now()
            try await store.heartbeat(
                ReplicaReport(replica: "r1", maps: [ReplicaMap(name: "users", liveVersion: "1.3.0", entries: 42)], lastSeen: .distantPast))
            try await store.heartbeat(ReplicaReport(replica: "r2", maps: [], lastSeen: .distantPast))
            var replicas = try await store.replicas()
            #expect(replicas.map(\.replica) == ["r1", "r2"])
            #expect(replicas[0].maps == [ReplicaMap(name: "users", liveVersion: "1.3.0", entries: 42)])
            #expect(replicas.allSatisfy { $0.lastSeen >= before })

            try await Task.sleep(for: .milliseconds(20))
            try await store.heartbeat(
                ReplicaReport(replica: "r1", maps: [ReplicaMap(name: "users", liveVersion: nil, entries: 0)], lastSeen: .distantPast)
            )
            let again = try await store.replicas()
            #expect(again.count == 2)
            #expect(again[0].maps == [ReplicaMap(name: "users", liveVersion: nil, entries: 0)])
            #expect(again[0].lastSeen > replicas[0].lastSeen)

            #expect(try await store.forgetReplicas(notSeenSince: again[0].lastSeen) == 1)
            replicas = try await store.replicas()
            #expect(replicas.map(\.replica) == ["r1"])
        }
    }

    @Test("The database's clock is close to ours")
    func clock() async throws {
        try await FleetTesting.withStore { store in
            let now = try await store.now()
            #expect(abs(now.timeIntervalSinceNow) < 5)
        }
    }
}
