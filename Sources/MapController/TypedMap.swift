public import Governance
public import LiveMaps
import MapSchema

/// A map of the controller bound to an embedding service's Swift types: keys of `Key`, values of
/// `Value`, stored natively (no JSON on any operation), governed like every other map.
///
/// Bind before ``Controller/start()``; the schema's `key_type` picks `Key` (`String`, `Int64`,
/// `UInt64` or `UUID`), and its `value_type` is checked against `Value`'s `Codable` shape once: when
/// the map is made, and for every new version, which is refused (and reported invalid) when the type no
/// longer fits. Rebuilds and rollbacks carry the Swift values across; the breaker refuses writes while
/// open; the live version's counters count every operation. The HTTP entry routes serve the same map,
/// encoding and decoding JSON at the HTTP boundary only.
///
/// ```swift
/// struct User: Codable, Sendable { var id: String; var name: String; var email: String; var verified: Bool }
/// let users = try controller.map("user_cache", as: User.self)
/// try await controller.start()
/// try users.put("u1", User(id: "u1", name: "Ada", email: "ada@example.com", verified: true))
/// let ada = try users.get("u1")
/// ```
///
/// The handle holds its map: an operation looks nothing up by name, takes no lock of the controller's,
/// and writes no shared memory beyond the engine's own (see ``GovernedMap``).
public struct TypedMap<Key: MapKeyType, Value: Codable & Sendable>: Sendable {
    public let name: String
    @usableFromInline let slot: BindingSlot<Key, Value>

    init(name: String, slot: BindingSlot<Key, Value>) {
        self.name = name
        self.slot = slot
    }

    /// The value for `key`, nil when absent.
    @inlinable
    public func get(_ key: Key) throws(TypedMapError) -> Value? {
        try withMap { (map) throws(TypedMapError) -> Value? in
            do throws(MapError) { return try map.get(key) } catch { throw .map(error) }
        }
    }

    /// Stores `value` under `key`.
    ///
    /// - Throws: ``TypedMapError/breakerOpen(retryAfter:)`` while the breaker is open;
    ///   ``TypedMapError/map(_:)`` when the schema's limits refuse the key or value.
    @inlinable
    public func put(_ key: Key, _ value: Value) throws(TypedMapError) {
        try withMap { (map) throws(TypedMapError) in
            do throws(GovernedWriteError) { try map.put(key, value) } catch { throw TypedMapError(error) }
        }
    }

    /// Removes `key`; true when it was there.
    @discardableResult
    @inlinable
    public func delete(_ key: Key) throws(TypedMapError) -> Bool {
        try withMap { (map) throws(TypedMapError) -> Bool in
            do throws(GovernedWriteError) { return try map.delete(key) } catch { throw TypedMapError(error) }
        }
    }

    /// Reports a fault the service saw: counted against the live version and fed to its breaker.
    public func reportFault() {
        slot.managed?.reportFault()
    }

    /// Entries in the live instance.
    public var count: Int { slot.managed?.liveView.count ?? 0 }

    /// Runs `body` on the bound map without retaining it (the slot keeps it for the binding's life, so a
    /// retain would only write the map object's shared reference count on every operation).
    @inlinable
    func withMap<R>(_ body: (ManagedMap<TypedInstance<Key, Value>>) throws(TypedMapError) -> R) throws(TypedMapError) -> R {
        guard let map = slot.published else { throw .mapNotFound(name) }
        return try map._withUnsafeGuaranteedRef { (map) -> Result<R, TypedMapError> in
            do throws(TypedMapError) { return .success(try body(map)) } catch { return .failure(error) }
        }.get()
    }
}

/// The handle of a map keyed by strings, as earlier releases named it.
public typealias TypedMapHandle<Value: Codable & Sendable> = TypedMap<String, Value>

/// Why a typed map operation failed.
public enum TypedMapError: Error, Sendable, CustomStringConvertible {
    /// No live map of that name (not applied yet, or pruned).
    case mapNotFound(String)
    /// The map refused the operation (bad key or value, capacity, an injected failure, a fault).
    case map(MapError)
    /// The circuit breaker refuses writes for this long; reads go on.
    case breakerOpen(retryAfter: Duration)
    /// The schema and the Swift types disagree.
    case binding(BindingError)

    @usableFromInline
    init(_ error: GovernedWriteError) {
        switch error {
        case .map(let error): self = .map(error)
        case .breakerOpen(let retryAfter): self = .breakerOpen(retryAfter: retryAfter)
        }
    }

    public var description: String {
        switch self {
        case .mapNotFound(let name): "no live map named '\(name)'"
        case .map(let error): error.description
        case .breakerOpen(let retryAfter): "the circuit breaker is open; retry after \(retryAfter)"
        case .binding(let error): error.description
        }
    }
}

extension Controller {
    /// Binds map `name` to `Value`, keyed by strings; see ``TypedMap``.
    ///
    /// - Throws: ``BindingError`` when the map's live schema does not fit the types, when the map is
    ///   already live without a binding (bind before ``start()``), or when it is bound to other types.
    public nonisolated func map<Value: Codable & Sendable>(_ name: String, as type: Value.Type = Value.self) throws(BindingError)
        -> TypedMap<String, Value>
    {
        try map(name, key: String.self, as: type)
    }

    /// Binds map `name` to `Key` and `Value`; see ``TypedMap``.
    public nonisolated func map<Key: MapKeyType, Value: Codable & Sendable>(
        _ name: String, key: Key.Type, as type: Value.Type = Value.self
    ) throws(BindingError) -> TypedMap<Key, Value> {
        if let existing = registry[name], !(existing is ManagedMap<TypedInstance<Key, Value>>) {
            throw BindingError(
                map: name, message: "the map is already live without a binding: bind it before the controller starts")
        }
        let slot = try registry.bind(name, key: Key.self, value: Value.self)
        if let live = registry[name] {
            try slot.check(live.liveView.schema)
        } else if let schema = storedLiveSchema(of: name) {
            try slot.check(schema)
        }
        return TypedMap(name: name, slot: slot)
    }

    /// The schema of the version live at the last run, from the state database (a binding made before
    /// ``start()`` is checked against what start will restore).
    nonisolated func storedLiveSchema(of name: String) -> MapSchema? {
        guard let state = try? store.mapState(name: name), let version = state.liveVersion,
            let stored = try? store.document(name: name, version: version)
        else { return nil }
        var options = SchemaDecoder.Options()
        options.allowFaultInjection = configuration.allowFaultInjection
        options.allowPrometheusQueries = configuration.queryEvaluator != nil
        let result = SchemaDecoder(options: options).decode(Array(stored.yaml.utf8), file: stored.source ?? name)
        return result.documents.first { $0.schema.name == name }?.schema
    }
}
