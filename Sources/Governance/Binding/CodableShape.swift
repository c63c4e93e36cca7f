#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The shape a `Decodable` type asks for when it decodes: a single value, or keyed fields with their
/// types and whether they are optional.
///
/// Read once, when a map binds, by decoding the type from a probe that hands out placeholder values
/// and writes down every request; synthesized `Codable` conformances (and most hand-written ones)
/// ask for every field, so the shape is the type's, without a value of it.
package struct CodableShape: Sendable, Hashable {
    package enum Kind: Sendable, Hashable, CustomStringConvertible {
        case string, int64, uint64, double, bool, bytes
        /// Anything else: a nested record, an array, an enum.
        case nested(String)

        package var description: String {
            switch self {
            case .string: "String"
            case .int64: "a signed integer"
            case .uint64: "an unsigned integer"
            case .double: "a floating-point number"
            case .bool: "Bool"
            case .bytes: "Data"
            case .nested(let name): name
            }
        }
    }

    package struct Field: Sendable, Hashable {
        package var name: String
        package var kind: Kind
        package var isOptional: Bool
    }

    /// Set when the type decodes from one value (`String`, `Int64`, …).
    package var single: Kind?
    /// The fields, in the order the type asked for them.
    package var fields: [Field] = []
    /// Set when the probe could not finish (a field whose type refuses every placeholder).
    package var incomplete: String?

    /// Probes `type`.
    package static func of<T: Decodable>(_ type: T.Type) -> CodableShape {
        if let kind = primitiveKind(of: type) { return CodableShape(single: kind) }
        let recorder = ShapeRecorder()
        do {
            _ = try T(from: ProbeDecoder(recorder: recorder, depth: 0))
        } catch {
            recorder.shape.incomplete = "\(error)"
        }
        return recorder.shape
    }

    static func primitiveKind(of type: Any.Type) -> Kind? {
        switch type {
        case is String.Type, is UUID.Type: .string
        case is Int.Type, is Int64.Type, is Int32.Type, is Int16.Type, is Int8.Type: .int64
        case is UInt.Type, is UInt64.Type, is UInt32.Type, is UInt16.Type, is UInt8.Type: .uint64
        case is Double.Type, is Float.Type: .double
        case is Bool.Type: .bool
        case is Data.Type: .bytes
        default: nil
        }
    }

    /// A placeholder of a primitive type, nil for others.
    static func placeholder<T>(_ type: T.Type) -> T? {
        let value: Any? =
            switch type {
            case is String.Type: ""
            case is UUID.Type: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            case is Int.Type: 0 as Int
            case is Int64.Type: 0 as Int64
            case is Int32.Type: 0 as Int32
            case is Int16.Type: 0 as Int16
            case is Int8.Type: 0 as Int8
            case is UInt.Type: 0 as UInt
            case is UInt64.Type: 0 as UInt64
            case is UInt32.Type: 0 as UInt32
            case is UInt16.Type: 0 as UInt16
            case is UInt8.Type: 0 as UInt8
            case is Double.Type: 0 as Double
            case is Float.Type: 0 as Float
            case is Bool.Type: false
            case is Data.Type: Data()
            default: nil
            }
        return value as? T
    }
}

/// Where the probe writes what the top-level type asked for.
private final class ShapeRecorder {
    var shape = CodableShape()
}

/// A decoder that answers every request with a placeholder; at depth 0 it records the requests.
private struct ProbeDecoder: Decoder {
    let recorder: ShapeRecorder
    let depth: Int
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(ProbeKeyedContainer<Key>(recorder: recorder, depth: depth))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { ProbeUnkeyedContainer() }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        ProbeSingleValueContainer()
    }
}

private struct ProbeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let recorder: ShapeRecorder
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool { true }
    func decodeNil(forKey key: Key) throws -> Bool { false }

    private func record(_ key: Key, _ type: Any.Type, optional: Bool) {
        guard depth == 0 else { return }
        let type = (type as? any ProbeWrapper.Type)?.wrappedType ?? type
        let kind = CodableShape.primitiveKind(of: type) ?? .nested(String(describing: type))
        recorder.shape.fields.append(.init(name: key.stringValue, kind: kind, isOptional: optional))
    }

    private func value<T: Decodable>(_ type: T.Type) throws -> T {
        if let placeholder = CodableShape.placeholder(type) { return placeholder }
        return try T(from: ProbeDecoder(recorder: recorder, depth: depth + 1))
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        record(key, type, optional: false)
        return try value(type)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        record(key, type, optional: true)
        return nil
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decode(Probe<Bool>.self, forKey: key).value }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try decodeIfPresent(Probe<Bool>.self, forKey: key)?.value }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decode(Probe<String>.self, forKey: key).value }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try decodeIfPresent(Probe<String>.self, forKey: key)?.value
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decode(Probe<Double>.self, forKey: key).value }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try decodeIfPresent(Probe<Double>.self, forKey: key)?.value
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decode(Probe<Float>.self, forKey: key).value }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        try decodeIfPresent(Probe<Float>.self, forKey: key)?.value
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(Probe<Int>.self, forKey: key).value }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try decodeIfPresent(Probe<Int>.self, forKey: key)?.value }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decode(Probe<Int8>.self, forKey: key).value }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try decodeIfPresent(Probe<Int8>.self, forKey: key)?.value }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decode(Probe<Int16>.self, forKey: key).value }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? {
        try decodeIfPresent(Probe<Int16>.self, forKey: key)?.value
    }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decode(Probe<Int32>.self, forKey: key).value }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? {
        try decodeIfPresent(Probe<Int32>.self, forKey: key)?.value
    }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decode(Probe<Int64>.self, forKey: key).value }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? {
        try decodeIfPresent(Probe<Int64>.self, forKey: key)?.value
    }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decode(Probe<UInt>.self, forKey: key).value }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try decodeIfPresent(Probe<UInt>.self, forKey: key)?.value }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decode(Probe<UInt8>.self, forKey: key).value }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? {
        try decodeIfPresent(Probe<UInt8>.self, forKey: key)?.value
    }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decode(Probe<UInt16>.self, forKey: key).value }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? {
        try decodeIfPresent(Probe<UInt16>.self, forKey: key)?.value
    }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decode(Probe<UInt32>.self, forKey: key).value }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? {
        try decodeIfPresent(Probe<UInt32>.self, forKey: key)?.value
    }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decode(Probe<UInt64>.self, forKey: key).value }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? {
        try decodeIfPresent(Probe<UInt64>.self, forKey: key)?.value
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        KeyedDecodingContainer(ProbeKeyedContainer<NestedKey>(recorder: recorder, depth: depth + 1))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { ProbeUnkeyedContainer() }
    func superDecoder() throws -> any Decoder { ProbeDecoder(recorder: recorder, depth: depth + 1) }
    func superDecoder(forKey key: Key) throws -> any Decoder { ProbeDecoder(recorder: recorder, depth: depth + 1) }
}

/// An empty array.
private struct ProbeUnkeyedContainer: UnkeyedDecodingContainer {
    var codingPath: [any CodingKey] { [] }
    var count: Int? { 0 }
    var isAtEnd: Bool { true }
    var currentIndex: Int { 0 }

    private func end() -> DecodingError {
        DecodingError.valueNotFound(Any.self, .init(codingPath: [], debugDescription: "the probe's arrays are empty"))
    }

    mutating func decodeNil() throws -> Bool { throw end() }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { throw end() }
    mutating func decode(_ type: Bool.Type) throws -> Bool { throw end() }
    mutating func decode(_ type: String.Type) throws -> String { throw end() }
    mutating func decode(_ type: Double.Type) throws -> Double { throw end() }
    mutating func decode(_ type: Float.Type) throws -> Float { throw end() }
    mutating func decode(_ type: Int.Type) throws -> Int { throw end() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { throw end() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { throw end() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { throw end() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { throw end() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { throw end() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { throw end() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { throw end() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { throw end() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { throw end() }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        throw end()
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { throw end() }
    mutating func superDecoder() throws -> any Decoder { throw end() }
}

private struct ProbeSingleValueContainer: SingleValueDecodingContainer {
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let placeholder = CodableShape.placeholder(type) { return placeholder }
        throw DecodingError.typeMismatch(type, .init(codingPath: [], debugDescription: "no placeholder for \(type)"))
    }

    func decode(_ type: Bool.Type) throws -> Bool { try decode(Probe<Bool>.self).value }
    func decode(_ type: String.Type) throws -> String { try decode(Probe<String>.self).value }
    func decode(_ type: Double.Type) throws -> Double { try decode(Probe<Double>.self).value }
    func decode(_ type: Float.Type) throws -> Float { try decode(Probe<Float>.self).value }
    func decode(_ type: Int.Type) throws -> Int { try decode(Probe<Int>.self).value }
    func decode(_ type: Int8.Type) throws -> Int8 { try decode(Probe<Int8>.self).value }
    func decode(_ type: Int16.Type) throws -> Int16 { try decode(Probe<Int16>.self).value }
    func decode(_ type: Int32.Type) throws -> Int32 { try decode(Probe<Int32>.self).value }
    func decode(_ type: Int64.Type) throws -> Int64 { try decode(Probe<Int64>.self).value }
    func decode(_ type: UInt.Type) throws -> UInt { try decode(Probe<UInt>.self).value }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decode(Probe<UInt8>.self).value }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decode(Probe<UInt16>.self).value }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decode(Probe<UInt32>.self).value }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decode(Probe<UInt64>.self).value }
}

/// Routes a primitive request through the generic path, so that each is recorded as its own type.
private protocol ProbeWrapper {
    static var wrappedType: Any.Type { get }
}

private struct Probe<Wrapped: Decodable>: Decodable, ProbeWrapper {
    static var wrappedType: Any.Type { Wrapped.self }

    var value: Wrapped
    init(from decoder: any Decoder) throws {
        guard let placeholder = CodableShape.placeholder(Wrapped.self) else {
            throw DecodingError.typeMismatch(Wrapped.self, .init(codingPath: [], debugDescription: "no placeholder"))
        }
        value = placeholder
    }
}
