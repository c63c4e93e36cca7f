import Foundation
import TestServers

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Several real daemons in one fleet on a throwaway PostgreSQL, each with its own schema directory and
/// state, for the fleet scenarios of SPEC §8.
final class FleetHarness: Sendable {
    let postgres: ThrowawayPostgres
    let cli: CLIRunner
    let fleetName: String

    init() async throws {
        postgres = try await ThrowawayPostgres(database: "fleet")
        cli = try CLIRunner()
        fleetName = "f\(UUID().uuidString.prefix(6).lowercased())"
    }

    /// Starts replica `id` with `--fleet` on its own layout (or `layout`, to restart it on its state).
    func start(_ id: String, layout: DaemonProcess.Layout? = nil, extra: [String] = []) async throws -> Session {
        let daemon = try await DaemonProcess.start(
            cli, layout: layout ?? .make(),
            arguments: ["--enable-fault-injection", "--fleet", postgres.url, "--fleet-name", fleetName, "--replica", id] + extra)
        return Session(cli: cli, daemon: daemon)
    }

    func stop() {
        postgres.stop()
    }
}

/// Plain HTTP against one daemon's API, fast enough to poll every few milliseconds.
struct FleetAPI: Sendable {
    let baseURL: String

    func status(_ name: String) async -> [String: Any]? {
        guard let url = URL(string: "\(baseURL)/v1/maps/\(name)"),
            let (data, response) = try? await URLSession.shared.data(from: url),
            (response as? HTTPURLResponse)?.statusCode == 200
        else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    func history(_ name: String) async -> [[String: Any]] {
        guard let url = URL(string: "\(baseURL)/v1/maps/\(name)/history"),
            let (data, _) = try? await URLSession.shared.data(from: url),
            let object = try? JSONSerialization.jsonObject(with: data)
        else { return [] }
        if let entries = object as? [[String: Any]] { return entries }
        return (object as? [String: Any])?["history"] as? [[String: Any]] ?? []
    }

    /// Polls the map's status every 20 ms until `condition` holds; nil after `timeout`.
    func wait(
        for name: String, timeout: Duration = .seconds(60), _ condition: @Sendable ([String: Any]) -> Bool
    ) async -> [String: Any]? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = await status(name), condition(status) { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

/// Writers on one replica: unique keys, and the record of what was acknowledged.
final class FleetWriters: Sendable {
    let client: EntryClient
    let stopFlag = StopFlag()
    let acknowledged = Counter()
    let task: Task<[Int], Never>

    init(baseURL: String, map: String, workers: Int = 2) {
        let client = EntryClient(baseURL: baseURL)
        self.client = client
        let stopFlag = self.stopFlag
        let acknowledged = self.acknowledged
        task = Task {
            await withTaskGroup(of: [Int].self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        var done: [Int] = []
                        var index = worker
                        while !stopFlag.isSet {
                            let status = await client.put(map: map, key: "k\(index)", json: String(index))
                            if (200..<300).contains(status) {
                                done.append(index)
                                acknowledged.increment()
                            }
                            index += workers
                            // Paced: the keys are all read back at the end, one request each.
                            try? await Task.sleep(for: .milliseconds(5))
                        }
                        return done
                    }
                }
                var all: [Int] = []
                for await part in group { all += part }
                return all
            }
        }
    }

    /// Stops the writers and returns every acknowledged key index.
    func finish() async -> [Int] {
        stopFlag.set()
        return await task.value
    }

    /// Keys acknowledged but not readable with their value now.
    func lost(_ acknowledged: [Int], map: String) async -> [Int] {
        let client = self.client
        return await withTaskGroup(of: [Int].self) { group in
            for part in 0..<8 {
                group.addTask {
                    var lost: [Int] = []
                    for index in stride(from: part, to: acknowledged.count, by: 8).map({ acknowledged[$0] }) {
                        let (status, body) = await client.get(map: map, key: "k\(index)")
                        if status != 200 || body.trimmingCharacters(in: .whitespacesAndNewlines) != String(index) { lost.append(index) }
                    }
                    return lost
                }
            }
            var lost: [Int] = []
            for await part in group { lost += part }
            return lost.sorted()
        }
    }
}

enum FleetFixture {
    /// A map judged every `interval`, with a warm standby; `bad` adds faults on half the operations.
    static func schema(version: String, interval: String = "1s", failureLimit: Int = 2, window: String = "10m", bad: Bool = false)
        -> String
    {
        var text = """
            name: hot
            version: \(version)
            key_type: string
            value_type: int64
            rollback_window: \(window)
            rollout:
              standby: warm
              interval: \(interval)
              min_ops: 10
              failure_limit: \(failureLimit)
              max_faults: 0

            """
        if bad { text += "fault_injection:\n  fault_rate: 0.5\n" }
        return text
    }
}
