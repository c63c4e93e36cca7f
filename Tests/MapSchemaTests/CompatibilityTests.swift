import MapSchema
import Testing

/// One old → new pair and the kinds of the changes between them, in order.
struct CompatibilityCase: Sendable, CustomStringConvertible {
    var label: String
    var change: @Sendable (inout MapSchema) -> Void
    var expected: [String]

    var description: String { label }
}

private func base() -> MapSchema {
    var schema = MapSchema(
        name: "orders", version: SemanticVersion(major: 1, minor: 0, patch: 0), keyType: .string, valueType: .record("Order"))
    schema.fields = [
        RecordField(name: "id", type: .string), RecordField(name: "total", type: .int64),
        RecordField(name: "note", type: .string, isOptional: true),
    ]
    schema.capacity = Capacity(maxEntries: 1000, maxKeyBytes: 64, maxValueBytes: 4096)
    schema.ttl = .seconds(600)
    return schema
}

let compatibilityCases: [CompatibilityCase] = [
    .init(label: "only the version changes", change: { $0.version.minor = 1 }, expected: []),
    .init(label: "only the description changes", change: { $0.description = "new" }, expected: []),
    .init(label: "key type changes", change: { $0.keyType = .int64 }, expected: ["key_type:breaking"]),
    .init(
        label: "record widened to json",
        change: {
            $0.valueType = .scalar(.json)
            $0.fields = []
        }, expected: ["value_type:compatible"]),
    .init(
        label: "record narrowed to string",
        change: {
            $0.valueType = .scalar(.string)
            $0.fields = []
        }, expected: ["value_type:breaking"]),
    .init(
        label: "record becomes external",
        change: {
            $0.valueType = .external("x.y/Order")
            $0.fields = []
        }, expected: ["value_type:breaking"]),
    .init(
        label: "record renamed with the same fields", change: { $0.valueType = .record("Purchase") }, expected: ["value_type:compatible"]),
    .init(
        label: "optional field added", change: { $0.fields.append(RecordField(name: "tag", type: .string, isOptional: true)) },
        expected: ["fields.tag:compatible"]),
    .init(
        label: "required field added", change: { $0.fields.append(RecordField(name: "tag", type: .string)) },
        expected: ["fields.tag:breaking"]),
    .init(label: "field removed", change: { $0.fields.removeLast() }, expected: ["fields.note:compatible"]),
    .init(label: "field type widened to json", change: { $0.fields[1].type = .json }, expected: ["fields.total:compatible"]),
    .init(label: "field type changed", change: { $0.fields[1].type = .double }, expected: ["fields.total:breaking"]),
    .init(label: "field made required", change: { $0.fields[2].isOptional = false }, expected: ["fields.note:breaking"]),
    .init(label: "field made optional", change: { $0.fields[1].isOptional = true }, expected: ["fields.total:compatible"]),
    .init(label: "strategy changes", change: { $0.strategy = .mutex }, expected: ["strategy:compatible"]),
    .init(label: "shards change", change: { $0.shards = 16 }, expected: ["shards:compatible"]),
    .init(label: "max_entries lowered", change: { $0.capacity?.maxEntries = 10 }, expected: ["capacity.max_entries:lossy"]),
    .init(label: "max_entries raised", change: { $0.capacity?.maxEntries = 5000 }, expected: ["capacity.max_entries:compatible"]),
    .init(label: "max_value_bytes lowered", change: { $0.capacity?.maxValueBytes = 100 }, expected: ["capacity.max_value_bytes:lossy"]),
    .init(label: "max_key_bytes lowered", change: { $0.capacity?.maxKeyBytes = 8 }, expected: ["capacity.max_key_bytes:lossy"]),
    .init(
        label: "capacity removed", change: { $0.capacity = nil },
        expected: ["capacity.max_entries:compatible", "capacity.max_key_bytes:compatible", "capacity.max_value_bytes:compatible"]),
    .init(label: "on_full changes", change: { $0.capacity?.onFull = .evictLRU }, expected: ["capacity.on_full:compatible"]),
    .init(label: "ttl shortened", change: { $0.ttl = .seconds(300) }, expected: ["ttl:lossy"]),
    .init(label: "ttl lengthened", change: { $0.ttl = .seconds(3600) }, expected: ["ttl:compatible"]),
    .init(label: "ttl removed", change: { $0.ttl = nil }, expected: ["ttl:compatible"]),
    .init(label: "rollout changes", change: { $0.rollout.minOps = 5 }, expected: ["rollout:compatible"]),
    .init(label: "breaker added", change: { $0.circuitBreaker = CircuitBreakerPolicy() }, expected: ["circuit_breaker:compatible"]),
    .init(label: "rollback window changes", change: { $0.rollbackWindow = .seconds(60) }, expected: ["rollback_window:compatible"]),
    .init(
        label: "batch changes on a serialized map",
        change: {
            $0.strategy = .serialized
            $0.batch.maxSize = 8
        }, expected: ["strategy:compatible"]),
    .init(
        label: "several changes at once",
        change: {
            $0.keyType = .uuid
            $0.ttl = .seconds(60)
            $0.strategy = .rwlock
        },
        expected: ["key_type:breaking", "strategy:compatible", "ttl:lossy"]
    ),
]

@Suite("Compatibility classes")
struct CompatibilityTests {
    @Test("Each old → new pair is classed as expected", arguments: compatibilityCases)
    func classify(_ testCase: CompatibilityCase) {
        let old = base()
        var new = old
        testCase.change(&new)
        let changes = SchemaCompatibility.changes(from: old, to: new)
        #expect(changes.map { "\($0.field):\($0.kind.rawValue)" } == testCase.expected)
    }

    @Test("There are at least twenty-five pairs")
    func count() { #expect(compatibilityCases.count >= 25) }

    @Test("A lossy change carries the limit the controller counts against")
    func loss() {
        var new = base()
        new.ttl = .seconds(300)
        new.capacity?.maxEntries = 10
        let changes = SchemaCompatibility.changes(from: base(), to: new)
        #expect(changes.compactMap(\.loss) == [.maxEntries(10), .ttl(.seconds(300))])
        #expect(changes.first { $0.field == "ttl" }?.summary == "ttl 10m → 5m: entries older than 5m will expire")
    }

    @Test("The overall kind is the most severe one, and nil without changes")
    func overall() {
        #expect(SchemaCompatibility.overallKind([]) == nil)
        let changes = [SchemaChange(field: "a", kind: .lossy, summary: ""), SchemaChange(field: "b", kind: .compatible, summary: "")]
        #expect(SchemaCompatibility.overallKind(changes) == .lossy)
        #expect(ChangeKind.compatible < .lossy && ChangeKind.lossy < .breaking)
    }

    @Test("A breaking change is refused unless the major version goes up")
    func refusal() throws {
        let old = base()
        var new = old
        new.keyType = .int64
        new.version = SemanticVersion(major: 1, minor: 5, patch: 0)
        let changes = SchemaCompatibility.changes(from: old, to: new)
        let message = try #require(SchemaCompatibility.refusal(from: old, to: new, changes: changes))
        #expect(message.contains("new major version") && message.contains("1.0.0 → 1.5.0"))
        new.version = SemanticVersion(major: 2, minor: 0, patch: 0)
        #expect(SchemaCompatibility.refusal(from: old, to: new, changes: changes) == nil)
        var lossy = old
        lossy.ttl = .seconds(1)
        #expect(SchemaCompatibility.refusal(from: old, to: lossy, changes: SchemaCompatibility.changes(from: old, to: lossy)) == nil)
    }
}
