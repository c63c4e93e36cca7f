import Foundation
import Testing

@testable import MapSchema

@Suite("Decoding and validating schema documents")
struct SchemaDecoderTests {
    @Test("Each invalid fixture gives exactly its one diagnostic at the exact line and column", arguments: invalidFixtures)
    func invalidFixture(_ fixture: InvalidFixture) {
        let result = decode(fixture.yaml)
        #expect(result.documents.isEmpty)
        #expect(result.diagnostics.map { "\($0.line):\($0.column): \($0.message)" } == [fixture.expected])
        #expect(result.diagnostics.allSatisfy { $0.file == "f.yaml" && $0.severity == .error })
    }

    @Test("There are at least fifty invalid fixtures")
    func fixtureCount() {
        #expect(invalidFixtures.count >= 50)
    }

    @Test("The seed example file is valid as it stands and means a sharded map of string to an external type")
    func seedFile() throws {
        let result = decode(seedSchema)
        #expect(result.diagnostics.isEmpty)
        let document = try #require(result.documents.first)
        #expect(document.schema.name == "user_cache_v2")
        #expect(document.schema.version.description == "1.3.2")
        #expect(document.schema.keyType == .string)
        #expect(document.schema.valueType == .external("github.com/ecom/order-core/internal/model.User"))
        #expect(document.schema.strategy == .sharded)
        #expect(document.schema.shards == 64)
        #expect(document.schema.rollbackWindow == .seconds(900))
        #expect(document.line == 1)
        #expect(document.nameLine == 1 && document.nameColumn == 7)
    }

    @Test("Every file in schemas/ is valid")
    func shippedSchemas() throws {
        let directory = repositoryRoot.appendingPathComponent("schemas").path
        let files = try SchemaLoader.schemaFiles(in: directory)
        #expect(files.count >= 5)
        let set = SchemaLoader.load(paths: [directory])
        #expect(set.diagnostics.map(\.description) == [])
        #expect(set.documents.count == files.count)
        let strategies = Set(set.documents.map(\.schema.strategy))
        #expect(strategies == Set(Strategy.allCases))
    }

    @Test("Every file in examples/bad/ is invalid with at least one positioned error")
    func badExamples() throws {
        let directory = repositoryRoot.appendingPathComponent("examples/bad").path
        let files = try SchemaLoader.schemaFiles(in: directory)
        #expect(files.count >= 4)
        for file in files {
            let set = SchemaLoader.load(paths: [file])
            #expect(set.documents.isEmpty, "\(file) should be invalid")
            #expect(set.diagnostics.contains { $0.line > 0 && $0.column > 0 }, "\(file)")
        }
    }

    @Test("Absent fields take their documented defaults")
    func defaults() throws {
        let schema = try #require(decode(baseSchema).documents.first?.schema)
        #expect(schema.strategy == .sharded)
        #expect(schema.shards == 64)
        #expect(schema.capacity == nil)
        #expect(schema.ttl == nil)
        #expect(schema.batch == BatchPolicy(maxSize: 256, maxDelay: .milliseconds(2)))
        #expect(schema.rollbackWindow == .seconds(300))
        #expect(schema.rollout == RolloutPolicy(standby: .warm, interval: .seconds(1), minOps: 100, failureLimit: 3, maxFaults: 0))
        #expect(schema.rollout.maxErrorRate == nil && schema.rollout.maxP99Latency == nil)
        #expect(schema.circuitBreaker == nil)
    }

    @Test("Every option of the full example is read")
    func fullExample() throws {
        let yaml = """
            name: user_cache
            version: 1.3.2
            description: Users by id
            key_type: string
            value_type: User
            fields:
              id: string
              name: string
              age: int64?
            strategy: sharded
            shards: 64
            capacity:
              max_entries: 1000000
              on_full: reject
              max_key_bytes: 256
              max_value_bytes: 65536
            ttl: 10m
            rollback_window: 15m
            rollout:
              standby: warm
              interval: 1s
              min_ops: 100
              failure_limit: 3
              max_error_rate: 0.01
              max_faults: 0
              max_p99_latency: 2ms
            circuit_breaker:
              open_after_faults: 5
              window: 10s
              cooldown: 30s
            """
        let result = decode(yaml)
        #expect(result.diagnostics.isEmpty)
        let schema = try #require(result.documents.first?.schema)
        #expect(schema.valueType == .record("User"))
        #expect(
            schema.fields == [
                RecordField(name: "id", type: .string), RecordField(name: "name", type: .string),
                RecordField(name: "age", type: .int64, isOptional: true),
            ])
        #expect(schema.capacity == Capacity(maxEntries: 1_000_000, onFull: .reject, maxKeyBytes: 256, maxValueBytes: 65536))
        #expect(schema.ttl == .seconds(600))
        #expect(schema.rollout.maxErrorRate == 0.01)
        #expect(schema.rollout.maxP99Latency == .milliseconds(2))
        #expect(schema.circuitBreaker == CircuitBreakerPolicy(openAfterFaults: 5, window: .seconds(10), cooldown: .seconds(30)))
        #expect(schema.description == "Users by id")
    }

    @Test("All errors of a document are reported, in position order")
    func allErrors() throws {
        let text = try String(contentsOfFile: repositoryRoot.appendingPathComponent("examples/bad/out_of_range.yaml").path, encoding: .utf8)
        let diagnostics = decode(text).diagnostics
        #expect(diagnostics.count >= 6)
        let positions = diagnostics.map { [$0.line, $0.column] }
        #expect(positions == positions.sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test("fault_injection is read when the caller allows it")
    func faultInjectionAllowed() throws {
        let yaml = baseSchema + "fault_injection: {error_rate: 0.5, fault_rate: 0.1, latency: 5ms, crash_after_ops: 1000}\n"
        let schema = try #require(decode(yaml, options: .init(allowFaultInjection: true)).documents.first?.schema)
        #expect(schema.faultInjection == FaultInjection(errorRate: 0.5, faultRate: 0.1, latency: .milliseconds(5), crashAfterOps: 1000))
        #expect(decode(yaml).documents.isEmpty)
    }

    @Test("Several documents decode when the caller allows them, each with its start line and text")
    func multipleDocuments() throws {
        let yaml = baseSchema + "---\n" + baseSchema.replacingOccurrences(of: "orders", with: "invoices") + "---\nname: Bad\n"
        let result = decode(yaml, options: .init(allowMultipleDocuments: true))
        #expect(result.documents.map(\.schema.name) == ["orders", "invoices"])
        #expect(result.documents.map(\.line) == [1, 5])
        #expect(result.documents[1].text.hasPrefix("---\nname: invoices"))
        #expect(result.invalid.count == 1)
        #expect(result.diagnostics.first?.line == 11)
    }

    @Test("An invalid document keeps its name and version when those were valid")
    func invalidIdentity() throws {
        let result = decode("name: orders\nversion: v2.0.0\nkey_type: strng\nvalue_type: string\n")
        let invalid = try #require(result.invalid.first)
        #expect(invalid.name == "orders")
        #expect(invalid.version == "2.0.0")
        #expect(decode("name: Orders\nversion: x\n").invalid.first?.name == nil)
    }

    @Test("Comments, key order, quoting and a leading v do not change the content hash; content does")
    func contentHash() throws {
        let a = try #require(decode("name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: string\nttl: 1m\n").documents.first)
        let b = try #require(
            decode("# orders\nttl: \"60s\"   # a minute\nvalue_type: 'string'\nkey_type: string\nversion: v1.0.0\nname: \"orders\"\n")
                .documents.first
        )
        let c = try #require(decode("name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: string\nttl: 2m\n").documents.first)
        let d = try #require(
            decode("name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: string\nttl: 1m\nstrategy: sharded\nshards: 64\n").documents
                .first)
        #expect(a.contentSHA256 == b.contentSHA256)
        #expect(a.contentSHA256 == d.contentSHA256)
        #expect(a.contentSHA256 != c.contentSHA256)
        #expect(a.contentSHA256.count == 64)
        #expect(a.text != b.text)
    }

    @Test("Numbers may use underscores, and booleans and types take YAML's usual spellings")
    func lenientScalars() throws {
        let yaml = baseSchema + "capacity:\n  max_entries: 1_000_000\nconcurrency_safe: True\n"
        let schema = try #require(decode(yaml).documents.first?.schema)
        #expect(schema.capacity?.maxEntries == 1_000_000)
    }

    @Test("Windows line endings decode like Unix ones")
    func crlf() throws {
        let result = decode(baseSchema.replacingOccurrences(of: "\n", with: "\r\n") + "shards: 3\r\n")
        #expect(result.diagnostics.map { "\($0.line):\($0.column)" } == ["5:9"])
    }

    @Test("A did-you-mean is offered only for a close candidate")
    func suggestions() {
        #expect(Suggestion.closest(to: "shardd", in: ["mutex", "sharded"]) == "sharded")
        #expect(Suggestion.closest(to: "evict", in: ["reject", "evict_lru"]) == "evict_lru")
        #expect(Suggestion.closest(to: "ttl", in: ["name", "shards"]) == nil)
        #expect(Suggestion.editDistance(Array("ab".unicodeScalars), Array("ba".unicodeScalars)) == 1)
    }
}
