import LiveMaps
import MapSchema
import Rollout
import Synchronization

/// The maps the controller hosts, readable from any thread, and the Swift types services bound them to.
///
/// A map no service bound is a ``DynamicMap`` (JSON values, the daemon's case). A bound map's instances
/// hold the service's types; its ``ManagedMap`` is made once and kept for the binding's life, so that a
/// handle holds it instead of looking it up by name on every operation.
package final class MapRegistry: @unchecked Sendable {
    // @unchecked Sendable is sound: `current` points at an immutable `Snapshot` retained once on behalf of
    // the registry; readers use it only between arriving and departing in `readers`, and a replaced
    // snapshot is released only after `readers.waitForReaders()`; `changes` orders the writers.

    /// The maps as of one change; never mutated.
    private final class Snapshot: Sendable {
        let maps: [String: any AnyManagedMap]
        init(_ maps: [String: any AnyManagedMap]) { self.maps = maps }
    }

    private let current: Atomic<UnsafeMutableRawPointer>
    private let readers = ThreadStripes()
    private let changes = PthreadMutex()
    private let bindings = Locked<[String: any MapBinding]>([:])

    package init() {
        current = Atomic(Unmanaged.passRetained(Snapshot([:])).toOpaque())
    }

    deinit {
        Unmanaged<Snapshot>.fromOpaque(current.load(ordering: .acquiring)).release()
    }

    /// The map named `name`: no lock, one reader count in the calling thread's stripe (the entry API
    /// looks a map up on every request, from every thread).
    package subscript(name: String) -> (any AnyManagedMap)? {
        let stripe = ThreadStripes.currentStripe()
        readers.arriveReader(stripe)
        defer { readers.departReader(stripe) }
        return Unmanaged<Snapshot>.fromOpaque(current.load(ordering: .sequentiallyConsistent))
            ._withUnsafeGuaranteedRef { $0.maps[name] }
    }

    package func set(_ map: (any AnyManagedMap)?, for name: String) {
        let previous = changes.withLock { () -> Unmanaged<Snapshot> in
            let previous = Unmanaged<Snapshot>.fromOpaque(current.load(ordering: .sequentiallyConsistent))
            var maps = previous._withUnsafeGuaranteedRef { $0.maps }
            maps[name] = map
            current.store(Unmanaged.passRetained(Snapshot(maps)).toOpaque(), ordering: .sequentiallyConsistent)
            return previous
        }
        readers.waitForReaders()
        previous.release()
    }

    package var all: [any AnyManagedMap] {
        let stripe = ThreadStripes.currentStripe()
        readers.arriveReader(stripe)
        defer { readers.departReader(stripe) }
        return Unmanaged<Snapshot>.fromOpaque(current.load(ordering: .sequentiallyConsistent))
            ._withUnsafeGuaranteedRef { Array($0.maps.values) }
    }

    /// Records a binding; the same types bind again to the same slot, other types are refused.
    package func bind<Key: MapKeyType, Value: Codable & Sendable>(
        _ name: String, key: Key.Type, value: Value.Type
    ) throws(BindingError) -> BindingSlot<Key, Value> {
        try bindings.withLock { (bindings) throws(BindingError) -> BindingSlot<Key, Value> in
            if let existing = bindings[name] {
                guard let slot = existing as? BindingSlot<Key, Value> else {
                    throw BindingError(map: name, message: "already bound to other types (\(existing.typeDescription))")
                }
                return slot
            }
            let slot = BindingSlot<Key, Value>(name: name)
            bindings[name] = slot
            return slot
        }
    }

    package func binding(of name: String) -> (any MapBinding)? { bindings.withLock { $0[name] } }
}

/// What the controller asks of a binding when it makes or changes a bound map.
package protocol MapBinding: AnyObject, Sendable {
    var typeDescription: String { get }
    /// Whether the bound types fit `schema`.
    func check(_ schema: MapSchema) throws(BindingError)
    /// The bound map for `schema`: made on the first call, the same one afterwards (rebuilt empty into
    /// `schema` when it was removed meanwhile).
    func managedMap(schema: MapSchema, breakerPolicy: CircuitBreakerPolicy?, clock: any RolloutClock, mapClock: any MapClock)
        -> any AnyManagedMap
}

/// Where a bound map's ``ManagedMap`` is published for its handles, once it exists.
@usableFromInline
package final class BindingSlot<Key: MapKeyType, Value: Codable & Sendable>: MapBinding {
    package typealias Managed = ManagedMap<TypedInstance<Key, Value>>
    package let name: String
    private let slot = Locked<Managed?>(nil)
    /// The same map, unretained, for handles: set once, while `slot` keeps the map for the slot's life.
    @usableFromInline let pointer = Atomic<UInt>(0)

    init(name: String) { self.name = name }

    package var typeDescription: String { "\(Key.self) → \(Value.self)" }

    /// The bound map once the controller made it.
    package var managed: Managed? { slot.withLock { $0 } }

    /// The bound map without a lock or a retain: one acquiring load. The map is never released before
    /// the slot (the slot holds it from publication on), so the reference stays valid while the handle
    /// that holds the slot lives.
    @inlinable
    package var published: Unmanaged<ManagedMap<TypedInstance<Key, Value>>>? {
        UnsafeRawPointer(bitPattern: pointer.load(ordering: .acquiring)).map {
            Unmanaged<ManagedMap<TypedInstance<Key, Value>>>.fromOpaque($0)
        }
    }

    package func check(_ schema: MapSchema) throws(BindingError) {
        try SchemaBinding.check(schema, key: Key.self, value: Value.self)
    }

    package func managedMap(schema: MapSchema, breakerPolicy: CircuitBreakerPolicy?, clock: any RolloutClock, mapClock: any MapClock)
        -> any AnyManagedMap
    {
        slot.withLock { slot in
            if let existing = slot {
                existing.adoptBreaker(breakerPolicy)
                return existing
            }
            let made = Managed(name: name, schema: schema, breakerPolicy: breakerPolicy, clock: clock, mapClock: mapClock)
            slot = made
            pointer.store(UInt(bitPattern: Unmanaged.passUnretained(made).toOpaque()), ordering: .releasing)
            return made
        }
    }
}
