// swift-tools-version: 6.1
//
// mapctl: a GitOps controller for concurrent in-memory maps.
//
// The targets follow the data flow: schema files are decoded and validated
// (MapSchema), live maps are built from them (LiveMaps), rollouts are judged by
// pure state machines (Rollout), the controller plans, reconciles, rebuilds and
// rolls back with its state in SQLite (MapController), the server exposes it
// over HTTP with metrics and a directory watcher (MapServer), and `mapctl` is
// the thin command line on top.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "mapctl",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MapSchema", targets: ["MapSchema"]),
        .library(name: "LiveMaps", targets: ["LiveMaps"]),
        .library(name: "Rollout", targets: ["Rollout"]),
        .library(name: "Governance", targets: ["Governance"]),
        .library(name: "MapController", targets: ["MapController"]),
        .library(name: "MapServer", targets: ["MapServer"]),
        .executable(name: "mapctl", targets: ["mapctl"]),
        .executable(name: "mapctl-bench", targets: ["mapctl-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // Already in the graph through Hummingbird; named here for the RESP listener's raw channel handlers.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Already in the graph through Hummingbird; named for the HTTP entry fast path, a channel handler on
        // Hummingbird's HTTP-types parts (NIOHTTPTypes).
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // Content hashes (SHA-256) from a kept library rather than our own.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // Fleets (SPEC §8): the shared state on PostgreSQL.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Analysis from Prometheus (SPEC §8.1): instant queries over HTTP.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Schema files in, validated schemas out: model, YAML decoding with
        // positions, validation, compatibility classes, content hashes.
        .target(
            name: "MapSchema",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // Live, thread-safe map instances: five strategies, typed and dynamic
        // values, ttl, capacity, counters.
        .target(
            name: "LiveMaps",
            dependencies: ["MapSchema", "CThreadSlot"],
            swiftSettings: strict
        ),
        // The calling thread's counter slot in a C thread-local (Swift has none): one load per map
        // operation where pthread_getspecific was a call into libc.
        .target(name: "CThreadSlot"),
        // Health checks and decisions as pure state machines with an injected
        // clock: rollout analysis and the circuit breaker.
        .target(
            name: "Rollout",
            dependencies: ["MapSchema"],
            swiftSettings: strict
        ),
        // One map as its users reach it: the live instance behind a write gate, a standby, the
        // online rebuild (change log, dual writes, switch), the breaker, typed bindings. No actor.
        .target(
            name: "Governance",
            dependencies: ["MapSchema", "LiveMaps", "Rollout"],
            swiftSettings: strict
        ),
        // Plan, reconcile, rebuild with data, rollback; state in SQLite.
        .target(
            name: "MapController",
            dependencies: [
                "MapSchema", "LiveMaps", "Rollout", "Governance",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // Analysis from Prometheus (SPEC §8.1): a rollout's `queries`, run against a Prometheus
        // server each interval and judged pass, fail or inconclusive beside the map's own counters.
        .target(
            name: "PrometheusAnalysis",
            dependencies: [
                "MapSchema", "Rollout",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Fleets (SPEC §8): many replicas, one decision. The shared state on PostgreSQL, leader
        // election, the fleet's judgement and the replicas following it.
        .target(
            name: "Fleet",
            dependencies: [
                "MapSchema", "LiveMaps", "Rollout", "MapController",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The daemon's parts: HTTP API, metrics, directory watcher, services.
        .target(
            name: "MapServer",
            dependencies: [
                "MapSchema", "LiveMaps", "Governance", "MapController", "Fleet", "PrometheusAnalysis",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The HTTP server's own child channel: connection limits, HTTP/1.0, parser errors as JSON.
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "mapctl",
            dependencies: [
                "MapSchema", "MapController", "MapServer", "Fleet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Release-built benchmarks where threads and ratios need control.
        .executableTarget(
            name: "mapctl-bench",
            dependencies: [
                "MapSchema", "LiveMaps", "Governance", "MapController",
                // bare-http: the HTTP benchmark's yardstick, a Hummingbird app without mapctl.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "MapSchemaTests", dependencies: ["MapSchema"], swiftSettings: strict),
        .testTarget(name: "LiveMapsTests", dependencies: ["LiveMaps", "MapSchema", "TestServers"], swiftSettings: strict),
        .testTarget(name: "RolloutTests", dependencies: ["Rollout", "MapSchema"], swiftSettings: strict),
        .testTarget(
            name: "MapControllerTests",
            dependencies: ["MapController", "Governance", "LiveMaps", "MapSchema", "Rollout", "TestServers"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MapServerTests",
            dependencies: [
                "MapServer", "MapController", "MapSchema", "TestServers",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // Throwaway real servers for tests: PostgreSQL (initdb in a temp dir, as a non-root user)
        // and Prometheus (its own config and TSDB in a temp dir), stopped at the end.
        .target(
            name: "TestServers",
            dependencies: [],
            path: "Tests/TestServers",
            swiftSettings: strict
        ),
        .testTarget(
            name: "FleetTests",
            dependencies: ["Fleet", "MapController", "MapSchema", "Rollout", "TestServers"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PrometheusAnalysisTests",
            dependencies: ["PrometheusAnalysis", "MapSchema", "Rollout", "TestServers"],
            swiftSettings: strict
        ),
        // End to end: runs the built `mapctl` binary and a real daemon.
        .testTarget(name: "MapctlCLITests", dependencies: ["mapctl", "TestServers"], swiftSettings: strict),
        // The embedding example (examples/embedded-service): a Hummingbird app that keeps its
        // orders in a governed map, run with `swift run OrderService`. Targets of this package,
        // so that it builds with the shared dependencies and `swift test` runs its live test.
        .executableTarget(
            name: "OrderService",
            dependencies: [
                "Governance", "MapController", "MapServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "examples/embedded-service/Sources/OrderService",
            swiftSettings: strict
        ),
        .testTarget(
            name: "OrderServiceTests",
            dependencies: [
                "OrderService", "MapController",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "examples/embedded-service/Tests/OrderServiceTests",
            swiftSettings: strict
        ),
    ]
)
