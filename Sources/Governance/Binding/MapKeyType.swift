public import LiveMaps
public import MapSchema

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// A Swift type that can key a bound map: the one that matches the schema's `key_type`.
///
/// `String`, `Int64`, `UInt64` and `UUID` conform; a binding checks that the type is the one the
/// schema declares, so a map keyed by `uint64` binds only as `UInt64`.
public protocol MapKeyType: Hashable, Sendable {
    /// The `key_type` this Swift type stands for.
    static var mapKeyType: KeyType { get }
    /// The key as the API carries it.
    var mapKey: MapKey { get }
    /// The key of an API key, nil when it is of another type.
    init?(mapKey: MapKey)
    /// The size counted against `max_key_bytes`.
    var mapKeyByteCount: Int { get }
}

extension String: MapKeyType {
    public static var mapKeyType: KeyType { .string }
    public var mapKey: MapKey { .string(self) }
    public init?(mapKey: MapKey) {
        guard case .string(let text) = mapKey else { return nil }
        self = text
    }
    public var mapKeyByteCount: Int { utf8.count }
}

extension Int64: MapKeyType {
    public static var mapKeyType: KeyType { .int64 }
    public var mapKey: MapKey { .int64(self) }
    public init?(mapKey: MapKey) {
        guard case .int64(let value) = mapKey else { return nil }
        self = value
    }
    public var mapKeyByteCount: Int { 8 }
}

extension UInt64: MapKeyType {
    public static var mapKeyType: KeyType { .uint64 }
    public var mapKey: MapKey { .uint64(self) }
    public init?(mapKey: MapKey) {
        guard case .uint64(let value) = mapKey else { return nil }
        self = value
    }
    public var mapKeyByteCount: Int { 8 }
}

extension UUID: MapKeyType {
    public static var mapKeyType: KeyType { .uuid }
    public var mapKey: MapKey { .uuid(self) }
    public init?(mapKey: MapKey) {
        guard case .uuid(let value) = mapKey else { return nil }
        self = value
    }
    public var mapKeyByteCount: Int { 16 }
}

/// A value that reports its own size against the schema's `max_value_bytes`, without serializing.
///
/// A bound map checks `max_value_bytes` on every write by asking the value; a type that does not
/// conform is estimated at its inline size (`MemoryLayout<Self>.size`), which undercounts strings and
/// arrays it holds. Conform and count what matters, e.g. the UTF-8 length of a record's strings.
public protocol MapValueSize {
    var mapValueByteCount: Int { get }
}

extension MapValueSize {
    public var mapValueByteCount: Int { MemoryLayout<Self>.size }
}

extension String: MapValueSize {
    public var mapValueByteCount: Int { utf8.count }
}

extension Data: MapValueSize {
    public var mapValueByteCount: Int { count }
}
