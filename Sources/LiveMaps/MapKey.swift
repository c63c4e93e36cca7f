import MapSchema

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A key of the daemon's maps, as parsed from a URL path segment per the schema's `key_type`.
///
/// String keys are equal only when their UTF-8 bytes are (see ``==(_:_:)``).
public enum MapKey: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case int64(Int64)
    case uint64(UInt64)
    case uuid(UUID)

    /// String keys compare by UTF-8 bytes, not by `String`'s canonical equivalence: `café` sent
    /// precomposed and decomposed are two entries, as they are for every client that sees bytes.
    public static func == (lhs: MapKey, rhs: MapKey) -> Bool {
        switch (lhs, rhs) {
        case (.string(let left), .string(let right)): UTF8Identity.equal(left, right)
        case (.int64(let left), .int64(let right)): left == right
        case (.uint64(let left), .uint64(let right)): left == right
        case (.uuid(let left), .uuid(let right)): left == right
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .string(let text):
            hasher.combine(0 as UInt8)
            UTF8Identity.hash(text, into: &hasher)
        case .int64(let value):
            hasher.combine(1 as UInt8)
            hasher.combine(value)
        case .uint64(let value):
            hasher.combine(2 as UInt8)
            hasher.combine(value)
        case .uuid(let uuid):
            hasher.combine(3 as UInt8)
            hasher.combine(uuid)
        }
    }

    /// The key as it appears in a URL path segment (before percent-encoding); UUIDs in lower case.
    public var description: String {
        switch self {
        case .string(let text): text
        case .int64(let value): String(value)
        case .uint64(let value): String(value)
        case .uuid(let uuid): uuid.uuidString.lowercased()
        }
    }

    /// The key type this key belongs to.
    public var keyType: KeyType {
        switch self {
        case .string: .string
        case .int64: .int64
        case .uint64: .uint64
        case .uuid: .uuid
        }
    }

    /// The size counted against `max_key_bytes`: UTF-8 length for strings, 8 for integers, 16 for UUIDs.
    public var byteCount: Int {
        switch self {
        case .string(let text): text.utf8.count
        case .int64, .uint64: 8
        case .uuid: 16
        }
    }

    /// Parses `text` as a key of `type`.
    ///
    /// - Throws: `MapError.badKey` when the text is not a valid key of that type.
    public init(parsing text: String, as type: KeyType) throws(MapError) {
        switch type {
        case .string:
            self = .string(text)
        case .int64:
            guard let value = Int64(text) else {
                throw .badKey("'\(text.prefix(64))' is not an int64 key")
            }
            self = .int64(value)
        case .uint64:
            guard let value = UInt64(text) else {
                throw .badKey("'\(text.prefix(64))' is not a uint64 key")
            }
            self = .uint64(value)
        case .uuid:
            guard text.utf8.count == 36, let uuid = UUID(uuidString: text) else {
                throw .badKey("'\(text.prefix(64))' is not a uuid key")
            }
            self = .uuid(uuid)
        }
    }
}
