import Foundation
import Governance
public import LiveMaps

/// A map of the controller seen as `String → Value` by an embedding service.
///
/// Values travel through `JSONValue` (Codable → JSON → the map's checks), so
/// the schema's `value_type` still governs them; the handle goes through the
/// same governance as the HTTP entry API: rebuilds carry its data, the breaker
/// refuses its writes while open, the live version's counters count its
/// operations and its faults. The map is looked up on every call, so a handle
/// made before the map exists works once it does.
///
/// ```swift
/// struct User: Codable, Sendable { var id: String; var name: String }
/// let users = controller.map("user_cache", as: User.self)
/// try users.put("u1", User(id: "u1", name: "Ada"))
/// let ada = try users.get("u1")
/// ```
public struct TypedMapHandle<Value: Codable & Sendable>: Sendable {
    public let name: String
    private let registry: MapRegistry

    init(name: String, registry: MapRegistry) {
        self.name = name
        self.registry = registry
    }

    /// The value for `key`, nil when absent.
    public func get(_ key: String) throws(TypedMapError) -> Value? {
        let map = try resolve()
        let value: JSONValue?
        do { value = try map.get(try map.parseKey(key)) } catch { throw .map(error) }
        guard let value else { return nil }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(value.serialized()))
        } catch {
            map.reportFault()
            throw .decoding("\(name)[\(key)]: \(error)")
        }
    }

    /// Stores `value` under `key`.
    ///
    /// - Throws: ``TypedMapError/breakerOpen(retryAfter:)`` while the breaker is open;
    ///   ``TypedMapError/map(_:)`` when the schema refuses the key or value.
    public func put(_ key: String, _ value: Value) throws(TypedMapError) {
        let map = try resolve()
        let json: JSONValue
        let parsedKey: MapKey
        do {
            parsedKey = try map.parseKey(key)
        } catch { throw .map(error) }
        do {
            json = try JSONValue(parsing: Array(try JSONEncoder().encode(value)))
        } catch {
            throw .encoding("\(name)[\(key)]: \(error)")
        }
        do { try map.put(parsedKey, json) } catch { throw Self.wrap(error) }
    }

    /// Removes `key`; true when it was there.
    @discardableResult
    public func delete(_ key: String) throws(TypedMapError) -> Bool {
        let map = try resolve()
        let parsedKey: MapKey
        do { parsedKey = try map.parseKey(key) } catch { throw .map(error) }
        do { return try map.delete(parsedKey) } catch { throw Self.wrap(error) }
    }

    /// Reports a fault the service saw (SPEC §2): counted against the live version and fed to its breaker.
    public func reportFault() {
        registry[name]?.reportFault()
    }

    /// Entries in the live instance.
    public var count: Int { registry[name]?.governed.live.count ?? 0 }

    private func resolve() throws(TypedMapError) -> ManagedMap {
        guard let map = registry[name] else { throw .mapNotFound(name) }
        return map
    }

    private static func wrap(_ error: GovernedWriteError) -> TypedMapError {
        switch error {
        case .map(let error): .map(error)
        case .breakerOpen(let retryAfter): .breakerOpen(retryAfter: retryAfter)
        }
    }
}

/// Why a typed map operation failed.
public enum TypedMapError: Error, Sendable, CustomStringConvertible {
    /// No live map of that name (not applied yet, or pruned).
    case mapNotFound(String)
    /// The map refused the operation (bad key or value, capacity, an injected failure, a fault).
    case map(MapError)
    /// The circuit breaker refuses writes for this long; reads go on.
    case breakerOpen(retryAfter: Duration)
    /// The value could not be encoded to JSON.
    case encoding(String)
    /// A stored value does not decode as the handle's type (counted as a fault).
    case decoding(String)

    public var description: String {
        switch self {
        case .mapNotFound(let name): "no live map named '\(name)'"
        case .map(let error): error.description
        case .breakerOpen(let retryAfter): "the circuit breaker is open; retry after \(retryAfter)"
        case .encoding(let message): "cannot encode: \(message)"
        case .decoding(let message): "cannot decode: \(message)"
        }
    }
}

extension Controller {
    /// A typed, governed handle on map `name` for an embedding service.
    public nonisolated func map<Value: Codable & Sendable>(_ name: String, as type: Value.Type = Value.self) -> TypedMapHandle<Value> {
        TypedMapHandle(name: name, registry: registry)
    }
}
