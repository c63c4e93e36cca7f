/// A semantic version (semver.org 2.0.0), ordered by precedence.
///
/// A leading `v` is accepted on input and never printed: `description` is the
/// normalized form used in status, history and metrics.
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public var major: UInt64
    public var minor: UInt64
    public var patch: UInt64
    /// Dot-separated pre-release identifiers (`1.0.0-rc.1` → `["rc", "1"]`).
    public var prerelease: [String]
    /// Build metadata; ignored by precedence.
    public var build: [String]

    public init(major: UInt64, minor: UInt64, patch: UInt64, prerelease: [String] = [], build: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build
    }

    /// Parses `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]` with an optional leading `v`.
    ///
    /// - Throws: ``SemanticVersion/ParseError`` naming what is wrong.
    public init(parsing text: String) throws(ParseError) {
        var rest = Substring(text)
        if rest.first == "v" { rest = rest.dropFirst() }
        guard !rest.isEmpty else { throw ParseError("'\(text)' is not a semantic version (expected MAJOR.MINOR.PATCH)") }
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            build = rest[rest.index(after: plus)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            rest = rest[..<plus]
            guard build.allSatisfy({ !$0.isEmpty && $0.allSatisfy(Self.isIdentifierCharacter) }) else {
                throw ParseError("'\(text)' has invalid build metadata")
            }
        }
        var prerelease: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            prerelease = rest[rest.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            rest = rest[..<dash]
            for identifier in prerelease {
                guard !identifier.isEmpty, identifier.allSatisfy(Self.isIdentifierCharacter) else {
                    throw ParseError("'\(text)' has an invalid pre-release identifier")
                }
                if identifier.allSatisfy(\.isASCIIDigit), identifier.count > 1, identifier.first == "0" {
                    throw ParseError("'\(text)' has a numeric pre-release identifier with a leading zero")
                }
            }
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard core.count == 3 else {
            throw ParseError("'\(text)' is not a semantic version (expected MAJOR.MINOR.PATCH)")
        }
        var numbers: [UInt64] = []
        for part in core {
            guard !part.isEmpty, part.allSatisfy(\.isASCIIDigit) else {
                throw ParseError("'\(text)' is not a semantic version (expected MAJOR.MINOR.PATCH)")
            }
            guard part.count == 1 || part.first != "0" else {
                throw ParseError("'\(text)' has a leading zero in a version number")
            }
            guard let number = UInt64(part) else { throw ParseError("'\(text)' has a version number out of range") }
            numbers.append(number)
        }
        self.init(major: numbers[0], minor: numbers[1], patch: numbers[2], prerelease: prerelease, build: build)
    }

    public var description: String {
        var text = "\(major).\(minor).\(patch)"
        if !prerelease.isEmpty { text += "-" + prerelease.joined(separator: ".") }
        if !build.isEmpty { text += "+" + build.joined(separator: ".") }
        return text
    }

    /// Precedence as semantic versioning defines it: build metadata does not count.
    public static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        if lhs.major != rhs.major { return lhs.major < rhs.major }
        if lhs.minor != rhs.minor { return lhs.minor < rhs.minor }
        if lhs.patch != rhs.patch { return lhs.patch < rhs.patch }
        switch (lhs.prerelease.isEmpty, rhs.prerelease.isEmpty) {
        case (true, true): return false
        case (true, false): return false
        case (false, true): return true
        case (false, false): break
        }
        for (a, b) in zip(lhs.prerelease, rhs.prerelease) where a != b {
            switch (UInt64(a), UInt64(b)) {
            case (let x?, let y?): return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a < b
            }
        }
        return lhs.prerelease.count < rhs.prerelease.count
    }

    /// Same precedence (build metadata ignored).
    public func hasSamePrecedence(as other: SemanticVersion) -> Bool {
        !(self < other) && !(other < self)
    }

    /// Equal precedence, as `<` sees it: build metadata does not count here either, so that
    /// `Comparable`'s laws hold (exactly one of `a < b`, `a == b`, `b < a`). The metadata is kept
    /// for display (``description``).
    public static func == (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        lhs.major == rhs.major && lhs.minor == rhs.minor && lhs.patch == rhs.patch && lhs.prerelease == rhs.prerelease
    }

    /// Hashes what `==` compares, so that equal versions hash alike.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(major)
        hasher.combine(minor)
        hasher.combine(patch)
        hasher.combine(prerelease)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    private static func isIdentifierCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "-")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
