import Governance
import LiveMaps
import MapSchema

/// What a protocol server on an event loop needs beyond reading and writing one entry: the value type
/// that decides how a value travels, a map's keys (SCAN) and entry counts (DBSIZE). Synchronous and
/// nonisolated like ``readEntry(map:key:)``: no hop to the concurrency pool.
extension Controller {
    /// The value type of live map `name`, as its live version declares it.
    ///
    /// A new version may change it at any time; a caller that translates a value by it before writing
    /// is still safe, since the map checks every value against its own schema.
    public nonisolated func entryValueType(map name: String) throws(ControlPlaneError) -> ValueType {
        try managedMap(name).liveView.schema.valueType
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
