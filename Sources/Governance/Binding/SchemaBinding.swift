import MapSchema

/// Why a Swift type cannot bind a map: the schema and the type disagree.
public struct BindingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The map.
    public var map: String
    /// What disagrees, naming the field.
    public var message: String

    public init(map: String, message: String) {
        self.map = map
        self.message = message
    }

    public var description: String { "cannot bind map '\(map)': \(message)" }
}

/// The check a binding makes once: the schema's key type and value type against the Swift types.
package enum SchemaBinding {
    /// - Throws: ``BindingError`` naming the first field (or the key) that disagrees.
    package static func check<Key: MapKeyType, Value: Decodable>(
        _ schema: MapSchema, key: Key.Type, value: Value.Type
    ) throws(BindingError) {
        func fail(_ message: String) -> BindingError { BindingError(map: schema.name, message: message) }
        let typeName = String(describing: Value.self)
        guard Key.mapKeyType == schema.keyType else {
            throw fail("key_type is \(schema.keyType.rawValue), but the handle's key type is \(Key.self)")
        }
        let shape = CodableShape.of(Value.self)
        switch schema.valueType {
        case .external, .scalar(.json):
            return  // any Codable type binds opaque JSON
        case .scalar(let scalar):
            guard let single = shape.single, matches(single, scalar) else {
                throw fail("value_type is \(scalar.rawValue), which \(typeName) cannot hold (use \(swiftName(of: scalar)))")
            }
        case .record(let record):
            if shape.single != nil {
                throw fail("value_type is the record \(record), but \(typeName) is a single value")
            }
            if let incomplete = shape.incomplete {
                throw fail("\(typeName) could not be read as a record: \(incomplete)")
            }
            let declared = Dictionary(schema.fields.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            let present = Dictionary(shape.fields.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for field in schema.fields {
                guard let swiftField = present[field.name] else {
                    throw fail("field '\(field.name)' (\(field.type.rawValue)) of \(record) is missing from \(typeName)")
                }
                guard field.type == .json || matches(swiftField.kind, field.type) else {
                    throw fail(
                        "field '\(field.name)' is \(field.type.rawValue) in the schema but \(swiftField.kind) in \(typeName) "
                            + "(use \(swiftName(of: field.type)))")
                }
                if field.isOptional != swiftField.isOptional {
                    throw fail(
                        field.isOptional
                            ? "field '\(field.name)' is optional in the schema; declare it Optional in \(typeName)"
                            : "field '\(field.name)' is required by the schema but Optional in \(typeName)")
                }
            }
            for field in shape.fields where declared[field.name] == nil {
                throw fail("\(typeName) has a field '\(field.name)' that \(record) does not declare")
            }
        }
    }

    private static func matches(_ kind: CodableShape.Kind, _ scalar: ScalarType) -> Bool {
        switch (scalar, kind) {
        case (.string, .string), (.int64, .int64), (.uint64, .uint64), (.double, .double), (.bool, .bool), (.bytes, .bytes): true
        case (.json, _): true
        default: false
        }
    }

    private static func swiftName(of scalar: ScalarType) -> String {
        switch scalar {
        case .string: "String"
        case .int64: "Int64 or Int"
        case .uint64: "UInt64"
        case .double: "Double"
        case .bool: "Bool"
        case .bytes: "Data"
        case .json: "any Codable type"
        }
    }
}
