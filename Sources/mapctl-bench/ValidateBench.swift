import Foundation
import MapSchema

/// `mapctl-bench validate [--files N] [--runs N]`: validates a directory of generated schema files.
///
/// Prints the median files/s of full validation (`SchemaLoader.load`: directory
/// scan, read, limits, parse, validate, hash, duplicate names) and of a
/// baseline that only reads each file and composes its YAML, and their ratio.
enum ValidateBench {
    static func run(_ arguments: [String]) throws -> Int32 {
        var fileCount = 1000
        var runs = 15
        var index = 0
        while index < arguments.count {
            let value = index + 1 < arguments.count ? Int(arguments[index + 1]) : nil
            switch arguments[index] {
            case "--files": fileCount = value ?? fileCount
            case "--runs": runs = value ?? runs
            default:
                FileHandle.standardError.write(Data("usage: mapctl-bench validate [--files N] [--runs N]\n".utf8))
                return 64
            }
            index += 2
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mapctl-validate-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for number in 0..<fileCount {
            try generate(number).write(
                to: directory.appendingPathComponent(String(format: "map_%04d.yaml", number)), atomically: false, encoding: .utf8)
        }

        let check = SchemaLoader.load(paths: [directory.path])
        guard check.documents.count == fileCount, check.diagnostics.isEmpty else {
            print("generated files did not validate: \(check.diagnostics.prefix(3))")
            return 1
        }
        let clock = ContinuousClock()
        var validate: [Double] = []
        var baseline: [Double] = []
        for _ in 0..<runs {
            let full = clock.measure { precondition(SchemaLoader.load(paths: [directory.path]).documents.count == fileCount) }
            validate.append(Double(fileCount) / seconds(full))
            let parseOnly = clock.measure {
                var composed = 0
                for file in (try? SchemaLoader.schemaFiles(in: directory.path)) ?? [] {
                    if let data = FileManager.default.contents(atPath: file), SchemaDecoder.composeOnly(Array(data)) { composed += 1 }
                }
                precondition(composed == fileCount)
            }
            baseline.append(Double(fileCount) / seconds(parseOnly))
        }
        let validateMedian = median(validate)
        let baselineMedian = median(baseline)
        print("validate: \(fileCount) files x \(runs) runs, one thread")
        print(String(format: "  full validation (scan, read, limits, parse, validate, hash): median %.0f files/s", validateMedian))
        print(String(format: "  baseline (scan, read, Yams compose only):                  median %.0f files/s", baselineMedian))
        print(String(format: "  validation costs %.2fx the baseline's time", baselineMedian / validateMedian))
        return 0
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// A realistic schema, varied by number so that every strategy and most options appear.
    private static func generate(_ number: Int) -> String {
        let strategies = ["sharded", "mutex", "rwlock", "snapshot", "serialized"]
        let strategy = strategies[number % strategies.count]
        var text = """
            # generated schema \(number)
            name: map_\(number)
            version: 1.\(number % 7).\(number % 3)
            description: Generated map number \(number)
            key_type: \(["string", "int64", "uint64", "uuid"][number % 4])
            value_type: Record\(number)
            fields:
              id: string
              name: string
              count: int64
              score: double?
              tags: json?
            strategy: \(strategy)

            """
        if strategy == "sharded" { text += "shards: \(1 << (number % 8))\n" }
        if strategy == "serialized" { text += "batch:\n  max_size: 128\n  max_delay: 1ms\n" }
        text += """
            capacity:
              max_entries: \(1000 + number)
              on_full: \(number % 2 == 0 ? "evict_lru" : "reject")
              max_value_bytes: 65536
            ttl: \(number % 60 + 1)m
            rollback_window: 5m
            rollout:
              standby: warm
              interval: 1s
              min_ops: 100
              failure_limit: 3
              max_error_rate: 0.01
              max_p99_latency: 2ms
            circuit_breaker:
              open_after_faults: 5
              window: 10s
              cooldown: 30s

            """
        return text
    }
}
