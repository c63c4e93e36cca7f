import Foundation
import LiveMaps
import Logging
import MapController
import MapSchema
import Synchronization

/// One target of `mapctl-bench governed`: what a read or a write of the user cache goes through.
enum GovernedTargetKind: Equatable {
    /// `Mutex<[String: User]>`: what a Swift programmer writes without this project.
    case dictionary
    /// The bare engine, `LiveMap<String, User>`.
    case live(Strategy)
    /// The governed typed handle an embedding service holds.
    case typed(Strategy)
    /// The daemon's governed JSON entry path (key parse, JSON parse or serialize), without HTTP.
    case dynamic(Strategy)
    /// The typed handle during a rollback window, with a warm standby taking every write too.
    case window(Strategy)

    static let all: [GovernedTargetKind] =
        [.dictionary] + Strategy.allCases.map(Self.live) + Strategy.allCases.map(Self.typed)
        + Strategy.allCases.map(Self.dynamic) + Strategy.allCases.map(Self.window)

    var name: String {
        switch self {
        case .dictionary: "dictionary"
        case .live(let strategy): "live-\(strategy.rawValue)"
        case .typed(let strategy): "typed-\(strategy.rawValue)"
        case .dynamic(let strategy): "dynamic-\(strategy.rawValue)"
        case .window(let strategy): "window-\(strategy.rawValue)"
        }
    }

    init?(name: String) {
        guard let kind = Self.all.first(where: { $0.name == name }) else { return nil }
        self = kind
    }
}

/// Builds each target, prefilled with the 100,000 users, runs the workloads on it, and tears it down.
///
/// Each governed target gets its own `Controller` with a fresh state directory, so that no target
/// measures another's leftovers (a standby, a rollout, counters).
enum GovernedTargets {
    static let mapName = "bench_users"

    static func run(_ kind: GovernedTargetKind, data: UserCacheData, options: GovernedBench.Options) async throws {
        switch kind {
        case .dictionary:
            let target = DictionaryUserTarget(users: data.users)
            prefill(target, data: data)
            GovernedBench.runWorkloads(target, name: kind.name, data: data, options: options)
        case .live(let strategy):
            let target = LiveUserTarget(map: LiveMap(configuration: .init(strategy: strategy)), users: data.users)
            prefill(target, data: data)
            GovernedBench.runWorkloads(target, name: kind.name, data: data, options: options)
        case .dynamic(let strategy):
            let bench = try BenchController()
            try await bench.start()
            try await bench.apply(schemaYAML(strategy: strategy, version: "1.0.0", window: false), expecting: "1.0.0")
            let target = DynamicUserTarget(controller: bench.controller, userJSON: data.userJSON)
            prefill(target, data: data)
            try await bench.expect(entries: data.keys.count)
            GovernedBench.runWorkloads(target, name: kind.name, data: data, options: options)
            await bench.close()
        case .typed(let strategy):
            let bench = try BenchController()
            let target = TypedUserTarget(handle: try bench.controller.map(mapName, as: User.self), users: data.users)
            try await bench.start()
            try await bench.apply(schemaYAML(strategy: strategy, version: "1.0.0", window: false), expecting: "1.0.0")
            prefill(target, data: data)
            try await bench.expect(entries: data.keys.count)
            GovernedBench.runWorkloads(target, name: kind.name, data: data, options: options)
            await bench.close()
        case .window(let strategy):
            let bench = try BenchController()
            let target = TypedUserTarget(handle: try bench.controller.map(mapName, as: User.self), users: data.users)
            try await bench.start()
            try await bench.apply(schemaYAML(strategy: strategy, version: "1.0.0", window: true), expecting: "1.0.0")
            prefill(target, data: data)
            try await bench.apply(schemaYAML(strategy: strategy, version: "1.1.0", window: true), expecting: "1.1.0")
            try await bench.expect(entries: data.keys.count, standby: "1.0.0")
            GovernedBench.runWorkloads(target, name: kind.name, data: data, options: options)
            await bench.close()
        }
    }

    /// Stores every key once, as the Go peer does before its first point (`users[i & 1023]`).
    static func prefill<Target: UserCacheTarget>(_ target: Target, data: UserCacheData) {
        for (index, key) in data.keys.enumerated() {
            precondition(target.store(key, index & (GovernedBench.userCount - 1)), "prefill refused \(key)")
        }
    }

    /// The bench schema for `strategy`; `window` adds the long rollback window and the warm standby.
    ///
    /// The rollout thresholds are as loose as the schema allows, so that no check could roll back a
    /// version under the load of the benchmark (the bench runs no check loop anyway).
    static func schemaYAML(strategy: Strategy, version: String, window: Bool) -> String {
        var yaml = """
            name: \(mapName)
            version: \(version)
            key_type: string
            value_type: User
            fields:
              id: string
              name: string
              email: string
              verified: bool
            strategy: \(strategy.rawValue)

            """
        if strategy == .serialized {
            yaml += "batch:\n  max_size: 256\n  max_delay: 2ms\n"
        }
        yaml += "rollback_window: \(window ? "1h" : "5m")\n"
        yaml += """
            rollout:
              standby: warm
              interval: 1s
              min_ops: 100
              failure_limit: 1000
              max_error_rate: 1
              max_faults: 1000000000
              max_p99_latency: 1h

            """
        return yaml
    }
}

/// A real `Controller` on a temporary state directory, quiet, with no check loop running.
final class BenchController: Sendable {
    let controller: Controller
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mapctl-bench-\(UUID().uuidString)").path
        controller = try Controller(
            configuration: .init(stateDirectory: directory),
            logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        )
    }

    func start() async throws { try await controller.start() }

    /// Applies `yaml` and checks that `version` went live.
    func apply(_ yaml: String, expecting version: String) async throws {
        let report = try await controller.apply(yaml: Array(yaml.utf8), source: "bench", isDryRun: false, prune: false)
        guard !report.hasFailures else { throw BenchSetupError("apply \(version) failed: \(report.plan)") }
        try await waitFor("\(GovernedTargets.mapName) live at \(version)") { $0.liveVersion == version }
    }

    /// Checks that the live instance holds `entries` (and, for the window target, that the standby is warm).
    func expect(entries: Int, standby: String? = nil) async throws {
        try await waitFor("\(entries) entries, standby \(standby ?? "none")") { status in
            status.entries == entries
                && (standby == nil || (status.standbyVersion == standby && status.standbyMode == "warm"))
        }
    }

    /// Waits for the map's status to satisfy `condition` (a rebuild may finish off the actor); fails after 120 s.
    private func waitFor(_ what: String, _ condition: (MapStatus) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            let status = try await controller.status(of: GovernedTargets.mapName)
            if condition(status) { return }
            if ContinuousClock.now > deadline { throw BenchSetupError("expected \(what), status is \(status)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func close() async {
        await controller.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct BenchSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Targets

/// The baseline: Swift's `Dictionary` behind `Synchronization.Mutex`. A read copies the `User` out, as the
/// maps do, rather than reading one field under the lock.
final class DictionaryUserTarget: UserCacheTarget {
    let storage = Mutex<[String: User]>([:])
    let users: [User]

    init(users: [User]) { self.users = users }

    func load(_ key: String) -> LoadResult {
        guard let user = storage.withLock({ $0[key] }) else { return .failed }
        return user.verified ? .verified : .present
    }

    func store(_ key: String, _ user: Int) -> Bool {
        let value = users[user]
        storage.withLock { $0[key] = value }
        return true
    }
}

/// The bare engine with its counters on, as governed instances have them.
struct LiveUserTarget: UserCacheTarget {
    let map: LiveMap<String, User>
    let users: [User]

    @inline(__always) func load(_ key: String) -> LoadResult {
        guard let user = map.get(key) else { return .failed }
        return user.verified ? .verified : .present
    }

    @inline(__always) func store(_ key: String, _ user: Int) -> Bool {
        (try? map.put(key, users[user])) != nil
    }
}

/// The daemon's entry path without HTTP: the key parsed, the body parsed and checked on a write; the
/// value serialized to JSON bytes on a read (a client would decode them; that is not timed).
struct DynamicUserTarget: UserCacheTarget {
    let controller: Controller
    let userJSON: [[UInt8]]

    func load(_ key: String) -> LoadResult {
        guard let bytes = try? controller.readEntry(map: GovernedTargets.mapName, key: key), !bytes.isEmpty else { return .failed }
        return .verified
    }

    func store(_ key: String, _ user: Int) -> Bool {
        (try? controller.writeEntry(map: GovernedTargets.mapName, key: key, json: userJSON[user])) != nil
    }
}

/// The governed typed handle an embedding service holds, bound before `start()`: values stored natively.
struct TypedUserTarget: UserCacheTarget {
    let handle: TypedMap<String, User>
    let users: [User]

    func load(_ key: String) -> LoadResult {
        guard let user = try? handle.get(key) else { return .failed }
        return user.verified ? .verified : .present
    }

    func store(_ key: String, _ user: Int) -> Bool {
        (try? handle.put(key, users[user])) != nil
    }
}
