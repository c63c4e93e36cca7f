import MapSchema
import Testing

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

    @Test(
        "An invalid version is refused",
        arguments: [
            "", "v", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01", "1.2.3+", "a.b.c", "1.2.3-a..b", "V1.2.3", " 1.2.3",
        ])
    func refuses(_ text: String) {
        #expect(throws: SemanticVersion.ParseError.self) { try SemanticVersion(parsing: text) }
    }

    @Test("Versions are ordered by semver precedence")
    func precedence() throws {
        let ordered = [
            "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
            "1.0.1", "1.1.0", "2.0.0",
        ]
        let versions = try ordered.map { try SemanticVersion(parsing: $0) }
        for (lower, higher) in zip(versions, versions.dropFirst()) {
            #expect(lower < higher, "\(lower) < \(higher)")
            #expect(!(higher < lower))
        }
        #expect(try SemanticVersion(parsing: "1.0.0+a").hasSamePrecedence(as: SemanticVersion(parsing: "1.0.0+b")))
    }

    @Test("== agrees with < (build metadata ignored by both), and equal versions hash alike: a property over random versions")
    func equalityAgreesWithOrder() throws {
        var random = SplitMix64(seed: 0x5EED_0021)
        let identifiers = ["alpha", "beta", "rc", "1", "2", "11", "x-y"]
        func version() -> SemanticVersion {
            SemanticVersion(
                major: UInt64.random(in: 0...2, using: &random), minor: UInt64.random(in: 0...2, using: &random),
                patch: UInt64.random(in: 0...1, using: &random),
                prerelease: (0..<Int.random(in: 0...2, using: &random)).map { _ in identifiers.randomElement(using: &random)! },
                build: (0..<Int.random(in: 0...2, using: &random)).map { _ in ["b1", "sha", "7"].randomElement(using: &random)! }
            )
        }
        for _ in 0..<3000 {
            let (a, b, c) = (version(), version(), version())
            let relations = [a < b, a == b, b < a].filter { $0 }.count
            #expect(relations == 1, "exactly one of <, ==, > for \(a) and \(b)")
            #expect((a == b) == a.hasSamePrecedence(as: b))
            if a == b { #expect(a.hashValue == b.hashValue, "\(a) and \(b)") }
            if a < b && b < c { #expect(a < c, "transitive: \(a) < \(b) < \(c)") }
            if a == b && b == c { #expect(a == c) }
            #expect(!(a < a) && a == a)
        }
        let built = try SemanticVersion(parsing: "1.0.0+build.7")
        #expect(built == (try SemanticVersion(parsing: "1.0.0")))
        #expect(Set([built, try SemanticVersion(parsing: "1.0.0+other")]).count == 1)
        #expect(built.description == "1.0.0+build.7", "the metadata stays for display")
    }
}
