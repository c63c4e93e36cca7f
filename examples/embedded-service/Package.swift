// swift-tools-version: 6.1
// A Hummingbird service that embeds the mapctl controller: its own data lives
// in a typed, governed map, and it serves the mapctl control API beside its own.
import PackageDescription

let package = Package(
    name: "embedded-service",
    platforms: [.macOS(.v15)],
    products: [.executable(name: "order-service", targets: ["OrderService"])],
    dependencies: [
        .package(name: "mapctl", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "OrderService",
            dependencies: [
                .product(name: "MapController", package: "mapctl"),
                .product(name: "MapServer", package: "mapctl"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "OrderServiceTests",
            dependencies: [
                "OrderService",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
