import Testing

@testable import MapSchema

@Suite("Decoding rollout.queries")
struct RolloutQueryDecodingTests {
    /// A valid document whose rollout ends with `queries:`; `items` follows, indented under it.
    static func schema(_ items: String) -> String {
        """
        name: orders
        version: 1.0.0
        key_type: string
        value_type: json
        rollout:
          interval: 1s
          queries:
        \(items)
        """
    }

    static func errors(_ yaml: String, options: SchemaDecoder.Options = .init()) -> [String] {
        decode(yaml, options: options).diagnostics.map { "\($0.line):\($0.column): \($0.message)" }
    }

    @Test("Queries decode with their bounds, in file order")
    func decodes() throws {
        let yaml = Self.schema(
            """
                - name: checkout_errors
                  prometheus: sum(rate(http_requests_total{job="orders",code=~"5.."}[30s])) / sum(rate(http_requests_total{job="orders"}[30s]))
                  max: 0.01
                - name: throughput
                  prometheus: sum(rate(mapctl_map_ops_total{map="{{map}}",version="{{version}}"}[30s]))
                  min: 5
                - name: band
                  prometheus: vector(1)
                  max: 1e3
                  min: -2
            """)
        let result = decode(yaml)
        #expect(result.diagnostics.map(\.description) == [])
        let queries = try #require(result.documents.first).schema.rollout.queries
        #expect(
            queries == [
                RolloutQuery(
                    name: "checkout_errors",
                    prometheus:
                        #"sum(rate(http_requests_total{job="orders",code=~"5.."}[30s])) / sum(rate(http_requests_total{job="orders"}[30s]))"#,
                    max: 0.01),
                RolloutQuery(
                    name: "throughput", prometheus: #"sum(rate(mapctl_map_ops_total{map="{{map}}",version="{{version}}"}[30s]))"#, min: 5),
                RolloutQuery(name: "band", prometheus: "vector(1)", max: 1000, min: -2),
            ])
    }

    @Test("No queries by default; an empty list is none")
    func defaults() throws {
        let plain = try #require(decode(seedSchema).documents.first)
        #expect(plain.schema.rollout.queries == [])
        let empty = decode(Self.schema("    []"), options: SchemaDecoder.Options(allowPrometheusQueries: false))
        #expect(empty.diagnostics.map(\.description) == [])
        #expect(empty.documents.first?.schema.rollout.queries == [])
    }

    static let invalid: [(String, String)] = [
        ("    - prometheus: up\n      max: 1", "8:7: missing required field 'name' in rollout.queries[0]"),
        ("    - name: a\n      max: 1", "8:7: missing required field 'prometheus' in rollout.queries[0]"),
        ("    - name: a\n      prometheus: up", "8:7: rollout.queries[0] needs max or min: the bound its value is judged against"),
        ("    - name: a\n      prometheus: up\n      max: lots", "10:12: rollout.queries[0].max must be a number, not 'lots'"),
        ("    - name: a\n      prometheus: up\n      min: '1'", "10:12: rollout.queries[0].min must be a number, not a string"),
        ("    - name: a\n      prometheus: up\n      max: .nan", "10:12: rollout.queries[0].max must be a number, not '.nan'"),
        (
            "    - name: a\n      prometheus: up\n      max: 1\n      maxx: 2",
            "11:7: unknown field 'maxx' in rollout.queries[0] (did you mean 'max'?)"
        ),
        (
            "    - name: a\n      prometheus: up\n      max: 1\n    - name: a\n      prometheus: down\n      max: 2",
            "11:13: duplicate query name 'a' (first at line 8)"
        ),
        (
            "    - name: a\n      prometheus: up\n      max: 1\n      min: 2",
            "11:12: rollout.queries[0].min (2) is greater than max (1): every value would fail"
        ),
        (
            "    - name: 9lives\n      prometheus: up\n      max: 1",
            "8:13: invalid query name '9lives': use letters, digits, '_' and '-', starting with a letter (at most 63 characters)"
        ),
        (
            "    - name: a\n      prometheus: ''\n      max: 1",
            "9:19: rollout.queries[0].prometheus must be a PromQL expression, not an empty string"
        ),
        (
            "    - name: a\n      prometheus: x{v=\"{{verison}}\"}\n      max: 1",
            "9:19: unknown placeholder '{{verison}}' in rollout.queries[0].prometheus (did you mean '{{version}}'?)"
        ),
        ("    - just_a_string", "8:7: rollout.queries[0] must be a mapping with name, prometheus and max or min, not 'just_a_string'"),
        ("    name: a", "8:5: rollout.queries must be a list of {name, prometheus, max or min}, not a mapping"),
    ]

    @Test("Each mistake gives one error at its place", arguments: invalid)
    func invalidQuery(_ items: String, _ expected: String) {
        #expect(Self.errors(Self.schema(items)) == [expected])
    }

    @Test("The second query's problems are reported with its own index, all in one run")
    func everyProblem() {
        let yaml = Self.schema(
            """
                - name: ok
                  prometheus: up
                  max: 1
                - name: bad
                  max: x
            """)
        #expect(
            Self.errors(yaml) == [
                "11:7: missing required field 'prometheus' in rollout.queries[1]",
                "12:12: rollout.queries[1].max must be a number, not 'x'",
            ])
    }

    @Test("Without a Prometheus server, queries are an error at the queries key that names --prometheus")
    func needsPrometheus() {
        let yaml = Self.schema("    - name: a\n      prometheus: up\n      max: 1")
        let options = SchemaDecoder.Options(allowPrometheusQueries: false)
        #expect(
            Self.errors(yaml, options: options) == [
                "7:3: rollout.queries needs a Prometheus server to run them: start the daemon with --prometheus URL (or remove the queries)"
            ])
        #expect(Self.errors(yaml) == [])
    }

    @Test("Queries are part of the content hash; documents without them hash as before")
    func contentHash() throws {
        let base = try #require(decode(Self.schema("    - name: a\n      prometheus: up\n      max: 1")).documents.first)
        let otherBound = try #require(decode(Self.schema("    - name: a\n      prometheus: up\n      max: 2")).documents.first)
        let otherExpression = try #require(decode(Self.schema("    - name: a\n      prometheus: down\n      max: 1")).documents.first)
        let minInstead = try #require(decode(Self.schema("    - name: a\n      prometheus: up\n      min: 1")).documents.first)
        let hashes = Set([base, otherBound, otherExpression, minInstead].map(\.contentSHA256))
        #expect(hashes.count == 4)
        let none = try #require(decode(Self.schema("    []")).documents.first)
        #expect(!none.schema.canonicalForm.contains("queries"))
        #expect(base.schema.canonicalForm.contains("rollout.queries.a.prometheus=up\nrollout.queries.a.max=1.0\n"))
    }

    @Test("Changing the queries is a compatible rollout change")
    func compatibility() throws {
        let old = try #require(decode(Self.schema("    - name: a\n      prometheus: up\n      max: 1")).documents.first).schema
        var new = old
        new.version = try SemanticVersion(parsing: "1.1.0")
        new.rollout.queries[0].max = 0.5
        let changes = SchemaCompatibility.changes(from: old, to: new)
        #expect(changes.map(\.field) == ["rollout"])
        #expect(SchemaCompatibility.overallKind(changes) == .compatible)
    }
}
