import MapSchema

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Checks JSON values against a schema's `value_type` and normalizes numbers to the declared kind.
package struct ValueValidator: Sendable {
    let valueType: ValueType
    let fields: [String: RecordField]
    /// Declared order, so that the first missing field reported is always the same one.
    let orderedFields: [RecordField]
    let fieldNames: String

    package init(schema: MapSchema) {
        valueType = schema.valueType
        fields = Dictionary(schema.fields.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        orderedFields = schema.fields
        fieldNames = schema.fields.map(\.name).joined(separator: ", ")
    }

    /// The value as stored: integers widened or narrowed to the declared type.
    ///
    /// - Parameter droppingUnknownFields: carrying a stored record into a version that removed a
    ///   field (a compatible change) converts it by leaving the field out; a write from a
    ///   caller with an unknown field is an error.
    /// - Throws: `MapError.badValue` naming what was expected.
    package func check(_ value: JSONValue, droppingUnknownFields: Bool = false) throws(MapError) -> JSONValue {
        switch valueType {
        case .scalar(let scalar):
            return try Self.check(value, as: scalar, at: "value")
        case .external:
            return value
        case .record(let name):
            guard case .object(let members) = value else {
                throw .badValue("expected a \(name) record (a JSON object), got \(value.kindName)")
            }
            var result: [JSONKey: JSONValue] = [:]
            for (key, member) in members {
                guard let field = fields[key.text] else {
                    if droppingUnknownFields { continue }
                    throw .badValue("unknown field '\(key.text.prefix(64))' in \(name) (fields: \(fieldNames))")
                }
                if member == .null {
                    guard field.isOptional else { throw .badValue("field '\(key)' of \(name) is required and cannot be null") }
                    continue
                }
                result[key] = try Self.check(member, as: field.type, at: "field '\(key)'")
            }
            for field in orderedFields where !field.isOptional && result[JSONKey(field.name)] == nil {
                throw .badValue("missing required field '\(field.name)' of \(name)")
            }
            return .object(result)
        }
    }

    static func check(_ value: JSONValue, as type: ScalarType, at place: String) throws(MapError) -> JSONValue {
        switch (type, value) {
        case (.json, _): return value
        case (.string, .string): return value
        case (.bool, .bool): return value
        case (.int64, .int): return value
        case (.uint64, .uint): return value
        case (.uint64, .int(let number)) where number >= 0: return .uint(UInt64(number))
        case (.double, .double): return value
        case (.double, .int(let number)): return .double(Double(number))
        case (.double, .uint(let number)): return .double(Double(number))
        case (.bytes, .string(let text)):
            guard Data(base64Encoded: text) != nil else { throw .badValue("\(place): expected base64 bytes, got a non-base64 string") }
            return value
        case (.int64, .uint): throw .badValue("\(place): integer out of int64 range")
        case (.uint64, .int): throw .badValue("\(place): expected a uint64, got a negative integer")
        default:
            let expected =
                switch type {
                case .string: "a string"
                case .int64: "an int64"
                case .uint64: "a uint64"
                case .double: "a number"
                case .bool: "a boolean"
                case .bytes: "base64 bytes (a string)"
                case .json: "JSON"
                }
            throw .badValue("\(place): expected \(expected), got \(value.kindName)")
        }
    }
}
