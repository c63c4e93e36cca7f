// Fleet tests run a throwaway PostgreSQL (initdb in a temp dir) and real daemons.
import Fleet
import Foundation
import Logging
import TestServers
import Testing

/// What the fleet store tests share: one PostgreSQL server per test process (``ThrowawayPostgres/shared()``),
/// each test in a fleet of its own name (the scoping under test keeps them apart), or its own database where
/// the schema itself is under test.
enum FleetTesting {
    static var postgresAvailable: Bool { ThrowawayPostgres.isAvailable }

    static let quiet = Logger(label: "mapctl.fleet.test") { _ in SwiftLogNoOpLogHandler() }

    /// A fleet name no other test uses.
    static func uniqueFleet(_ prefix: String = "test") -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// A whole-millisecond time: PostgreSQL keeps microseconds, SQLite a Double.
    static let t0 = Date(timeIntervalSince1970: 1_750_000_000.125)

    /// Runs `body` with migrated stores, one per fleet name in `fleets` (on `url`, else the shared server),
    /// their pools running; stops the pools afterwards, whether `body` threw or not.
    static func withStores<T: Sendable>(
        _ fleets: [String],
        url: String? = nil,
        // Generous: under the whole suite, a debug build's first connections and migrations queue behind others.
        timeout: Duration = .seconds(60),
        migrate: Bool = true,
        _ body: ([FleetStore]) async throws -> T
    ) async throws -> T {
        var resolved = url
        if resolved == nil { resolved = try await ThrowawayPostgres.shared().url }
        let location = try FleetLocation(parsing: resolved ?? "")
        let stores = fleets.map { FleetStore(location: location, fleet: $0, logger: quiet, timeout: timeout) }
        let runs = stores.map { store in Task { await store.run() } }
        do {
            if migrate { for store in stores { try await store.migrate() } }
            let result = try await body(stores)
            for store in stores { await store.resign() }
            for run in runs { run.cancel() }
            for run in runs { await run.value }
            return result
        } catch {
            for store in stores { await store.resign() }
            for run in runs { run.cancel() }
            for run in runs { await run.value }
            throw error
        }
    }

    /// One migrated store of a new fleet.
    static func withStore<T: Sendable>(
        fleet: String = uniqueFleet(),
        url: String? = nil,
        _ body: (FleetStore) async throws -> T
    ) async throws -> T {
        try await withStores([fleet], url: url) { try await body($0[0]) }
    }

    /// A new, empty database on the shared server.
    static func freshDatabase() async throws -> String {
        try await ThrowawayPostgres.shared().createDatabase("db_\(UUID().uuidString.prefix(8).lowercased())")
    }

    /// Polls `condition` every 20 ms until it holds; false after `timeout`.
    static func eventually(
        timeout: Duration = .seconds(10),
        _ condition: () async throws -> Bool
    ) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    static func document(
        _ name: String,
        _ version: String,
        sha: String = "aa",
        replica: String = "r1",
        at: Date = t0
    ) -> FleetDocument {
        FleetDocument(
            name: name, version: version, contentSHA256: sha, yaml: "name: \(name)\nversion: \(version)\n",
            source: "schemas/\(name).yaml@abc123", replica: replica, appliedAt: at
        )
    }
}
