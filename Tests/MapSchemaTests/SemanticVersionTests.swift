import Testing

import MapSchema

@Suite("Semantic versions")
struct SemanticVersionTests {
    @Test(
        "A valid version parses and is reported normalized, without a leading v",
        arguments: [
            ("1.3.2", "1.3.2"), ("v1.3.2", "1.3.2"), ("0.0.0", "0.0.0"), ("1.0.0-rc.1", "1.0.0-rc.1"), ("v2.0.0+build.7", "2.0.0+build.7"),
            ("1.0.0-alpha-1.beta+exp.sha.5114f85", "1.0.0-alpha-1.beta+exp.sha.5114f85"), ("10.20.30", "10.20.30"),
        ]
    )
    func parses(_ text: String, _ normalized: String) throws {
        #expect(try SemanticVersion(parsing: text).description == normalized)
    }

    @Test("An invalid version is refused", arguments: ["", "v", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01", "1.2.3+", "a.b.c", "1.2.3-a..b", "V1.2.3", " 1.2.3"])
    func refuses(_ text: String) {
        #expect(throws: SemanticVersion.ParseError.self) { try SemanticVersion(parsing: text) }
    }

    @Test("Versions are ordered by semver precedence")
    func precedence() throws {
        let ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"]
        let versions = try ordered.map { try SemanticVersion(parsing: $0) }
        for (lower, higher) in zip(versions, versions.dropFirst()) {
            #expect(lower < higher, "\(lower) < \(higher)")
            #expect(!(higher < lower))
        }
        #expect(try SemanticVersion(parsing: "1.0.0+a").hasSamePrecedence(as: SemanticVersion(parsing: "1.0.0+b")))
    }
}
