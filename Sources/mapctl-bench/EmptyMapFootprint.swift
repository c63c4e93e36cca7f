import Foundation
import LiveMaps
import MapSchema

/// `mapctl-bench maps --empty-maps`: what an empty map costs, measured by allocating 1,000 of them in a
/// fresh process. Prints `MEM swift empty-dynamic-map <bytes/map>` (the daemon's map, default schema:
/// `sharded`, 64 shards) and `MEM swift empty-livemap <bytes/map>` (`LiveMap<UInt64, Int64>`, 64 shards):
/// the resident memory they add (pages touched; mallinfo2 is not visible from Swift's Glibc module).
enum EmptyMapFootprint {
    static let count = 1_000

    static func run() {
        let schema = MapSchema(
            name: "empty", version: SemanticVersion(major: 1, minor: 0, patch: 0), keyType: .string, valueType: .scalar(.json))
        // Both sets stay alive to the end: memory freed by the first would be reused by the second unseen.
        let dynamic = measure("empty-dynamic-map") { (0..<count).map { _ in DynamicMap(schema: schema) } }
        let typed = measure("empty-livemap") {
            (0..<count).map { _ in LiveMap<UInt64, Int64>(configuration: .init(strategy: .sharded, shards: 64)) }
        }
        withExtendedLifetime((dynamic, typed)) {}
    }

    static func measure<T>(_ name: String, _ build: () -> [T]) -> [T] {
        let before = MapsBench.residentBytes()
        let maps = build()
        let perMap = Double(MapsBench.residentBytes() - before) / Double(count)
        print("MEM swift \(name) \(MapsBench.format(perMap))")
        return maps
    }
}
