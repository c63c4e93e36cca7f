import Foundation
import LiveMaps
import MapSchema
import Testing

@testable import Governance
@testable import MapController

/// Binding a map to Swift types: the schema governs the binding, once, with an error that names the field.
@Suite("Typed bindings")
struct TypedBindingTests {
    struct User: Codable, Sendable, Equatable {
        var id: String
        var name: String
        var age: Int64?
    }

    static let userFields = "fields:\n  id: string\n  name: string\n  age: int64?\n"

    @Test("the Codable shape of a record: fields, kinds and optionality, in order")
    func shape() {
        let shape = CodableShape.of(User.self)
        #expect(shape.single == nil)
        #expect(
            shape.fields == [
                .init(name: "id", kind: .string, isOptional: false),
                .init(name: "name", kind: .string, isOptional: false),
                .init(name: "age", kind: .int64, isOptional: true),
            ])
        #expect(CodableShape.of(String.self).single == .string)
        #expect(CodableShape.of(Int.self).single == .int64)
    }

    @Test("a binding that fits binds; each mismatch is refused with a message naming the field")
    func mismatches() throws {
        func schema(_ valueType: String, _ extra: String = "", keyType: String = "string") throws -> MapSchema {
            let yaml = schemaYAML(version: "1.0.0", keyType: keyType, valueType: valueType, extra: extra)
            let result = SchemaDecoder().decode(Array(yaml.utf8), file: "users.yaml")
            return try #require(result.documents.first).schema
        }
        try SchemaBinding.check(schema("User", Self.userFields), key: String.self, value: User.self)
        try SchemaBinding.check(schema("json"), key: String.self, value: User.self)
        try SchemaBinding.check(schema("github.com/acme/model.User"), key: String.self, value: User.self)

        func message(_ body: () throws(BindingError) -> Void) -> String {
            do {
                try body()
                return "bound"
            } catch {
                return error.message
            }
        }
        let missingSchema = try schema("User", Self.userFields + "  email: string\n")
        let missing = message { () throws(BindingError) in try SchemaBinding.check(missingSchema, key: String.self, value: User.self) }
        #expect(missing.contains("'email'") && missing.contains("missing"))
        let wrongTypeSchema = try schema("User", "fields:\n  id: string\n  name: int64\n  age: int64?\n")
        let wrongType = message { () throws(BindingError) in try SchemaBinding.check(wrongTypeSchema, key: String.self, value: User.self) }
        #expect(wrongType.contains("'name'") && wrongType.contains("int64"))
        let optionalSchema = try schema("User", "fields:\n  id: string\n  name: string\n  age: int64\n")
        let optional = message { () throws(BindingError) in try SchemaBinding.check(optionalSchema, key: String.self, value: User.self) }
        #expect(optional.contains("'age'") && optional.contains("Optional"))
        let extraSchema = try schema("User", "fields:\n  id: string\n  age: int64?\n")
        let extraField = message { () throws(BindingError) in try SchemaBinding.check(extraSchema, key: String.self, value: User.self) }
        #expect(extraField.contains("'name'") && extraField.contains("does not declare"))
        let keySchema = try schema("User", Self.userFields, keyType: "uint64")
        let key = message { () throws(BindingError) in try SchemaBinding.check(keySchema, key: String.self, value: User.self) }
        #expect(key.contains("key_type is uint64"))
        let scalarSchema = try schema("string")
        let scalar = message { () throws(BindingError) in try SchemaBinding.check(scalarSchema, key: String.self, value: Int64.self) }
        #expect(scalar.contains("value_type is string"))
    }

    @Test("a bound map stores native values, serves them over the JSON entry API, and keeps them across a rebuild and a rollback")
    func nativeValues() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        let users = try controller.map("users", as: User.self)
        #expect(throws: TypedMapError.self) { try users.get("u1") }
        try await controller.apply(schemaYAML(version: "1.0.0", valueType: "User", extra: Self.userFields))
        #expect(controller.registry["users"] is ManagedMap<TypedInstance<String, User>>)
        try users.put("u1", User(id: "u1", name: "Ada", age: 36))
        #expect(try users.get("u1") == User(id: "u1", name: "Ada", age: 36))
        #expect(try controller.readEntry(map: "users", key: "u1") == Array(#"{"age":36,"id":"u1","name":"Ada"}"#.utf8))
        try controller.writeEntry(map: "users", key: "u2", json: Array(#"{"id": "u2", "name": "Grace"}"#.utf8))
        #expect(try users.get("u2") == User(id: "u2", name: "Grace", age: nil))
        #expect(throws: ControlPlaneError.self) { try controller.writeEntry(map: "users", key: "u3", json: Array(#"{"id": "u3"}"#.utf8)) }

        try await controller.apply(schemaYAML(version: "1.1.0", valueType: "User", extra: Self.userFields + "strategy: mutex\n"))
        #expect(try users.get("u1")?.name == "Ada")
        try users.put("u3", User(id: "u3", name: "Edsger", age: nil))
        _ = try await controller.rollback(name: "users", to: nil, reason: "test", source: "test")
        #expect(try users.get("u3")?.name == "Edsger")
        #expect(users.count == 3)
    }

    @Test("a new version the bound type does not fit is refused and reported invalid; the live version stays")
    func refusedVersion() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        let users = try controller.map("users", as: User.self)
        try await controller.apply(schemaYAML(version: "1.0.0", valueType: "User", extra: Self.userFields))
        try users.put("u1", User(id: "u1", name: "Ada", age: nil))
        let report = try await controller.apply(
            yaml: Array(schemaYAML(version: "2.0.0", valueType: "User", extra: Self.userFields + "  email: string\n").utf8),
            source: "test", isDryRun: false, prune: false)
        #expect(report.plan.first?.reason?.contains("'email'") == true)
        let status = try await controller.status(of: "users")
        #expect(status.liveVersion == "1.0.0")
        #expect(status.phase == .invalid)
        #expect(try users.get("u1")?.name == "Ada")
    }

    @Test("binding is refused when the map is already live without one, or bound to other types")
    func bindOrder() async throws {
        let env = TestEnvironment()
        defer { env.cleanUp() }
        let controller = try await env.makeController()
        try await controller.apply(schemaYAML(version: "1.0.0"))
        #expect(throws: BindingError.self) { try controller.map("users", as: Int64.self) }
        _ = try controller.map("other", as: Int64.self)
        _ = try controller.map("other", as: Int64.self)
        #expect(throws: BindingError.self) { try controller.map("other", as: String.self) }
    }
}
