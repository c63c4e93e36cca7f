import Governance
import LiveMaps
import MapSchema

/// What a protocol server on an event loop needs beyond the JSON entry API: entries together with the
/// value type that decides how a value travels, a map's keys (SCAN) and entry counts (DBSIZE).
/// Synchronous and nonisolated like ``readEntry(map:key:)``: no hop to the concurrency pool.
///
/// The daemon's maps are ``DynamicMap``s: for them the entry functions go through the concrete type, so
/// that the governed path (write gate, breaker, counters) runs specialized, without the generic lookups
/// of the type-erased one. Both paths do the same: parse the key and value with the live instance, then
/// read or write through the map's governed entry point.
extension Controller {
    /// The value of `key` in map `name` as JSON (nil when absent), with the map's value type as the
    /// same live instance declares it.
    public nonisolated func lookUpEntry(map name: String, key: String) throws(ControlPlaneError) -> (json: [UInt8]?, valueType: ValueType) {
        let map = try managedMap(name)
        if let dynamic = map as? ManagedMap<DynamicMap> {
            let live = dynamic.liveInstance
            do {
                let parsed = try live.parseKey(key, for: .get)
                return (try dynamic.get(parsed).map { live.encodeValue($0) }, live.schema.valueType)
            } catch {
                throw Self.controlPlaneError(error)
            }
        }
        let json: [UInt8]?
        do { json = try map.getJSON(key) } catch { throw Self.controlPlaneError(error) }
        return (json, map.liveView.schema.valueType)
    }

    /// Stores under `key` the JSON that `encode` makes for the map's value type, checked against the
    /// map's schema, through the breaker and the write gate (as ``writeEntry(map:key:json:)``).
    public nonisolated func writeEntry(
        map name: String, key: String, encoding encode: (ValueType) throws(ControlPlaneError) -> [UInt8]
    ) throws(ControlPlaneError) {
        try memoryLimit?.checkWrite()
        let map = try managedMap(name)
        if let dynamic = map as? ManagedMap<DynamicMap> {
            let live = dynamic.liveInstance
            let json = try encode(live.schema.valueType)
            let parsedKey: MapKey
            let parsedValue: JSONValue
            do {
                parsedKey = try live.parseKey(key, for: .put)
                parsedValue = try live.decodeValue(json, for: .put)
            } catch {
                throw Self.controlPlaneError(error)
            }
            do { try dynamic.put(parsedKey, parsedValue) } catch { throw Self.controlPlaneError(error) }
            return
        }
        let json = try encode(map.liveView.schema.valueType)
        do { try map.putJSON(key, json) } catch { throw Self.controlPlaneError(error) }
    }

    /// The value type of live map `name`, as its live version declares it.
    public nonisolated func entryValueType(map name: String) throws(ControlPlaneError) -> ValueType {
        let map = try managedMap(name)
        if let dynamic = map as? ManagedMap<DynamicMap> {
            return dynamic.liveInstance.schema.valueType
        }
        return map.liveView.schema.valueType
    }

    /// Every key of live map `name` as its text (the key the entry API takes), at one point in time.
    ///
    /// Copies the entries: meant for an occasional scan, not for every request.
    public nonisolated func entryKeys(map name: String) throws(ControlPlaneError) -> [String] {
        try managedMap(name).jsonEntries().map { $0.0.description }
    }

    /// The number of entries in live map `name`.
    public nonisolated func entryCount(map name: String) throws(ControlPlaneError) -> Int {
        try managedMap(name).liveView.count
    }

    /// The entries of every live map together.
    public nonisolated func totalEntryCount() -> Int {
        registry.all.reduce(0) { $0 + $1.liveView.count }
    }
}
