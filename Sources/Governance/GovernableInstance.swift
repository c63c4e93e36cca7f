import LiveMaps
import MapSchema

/// What the controller reads of an instance, whatever its key and value types.
@usableFromInline
package protocol InstanceView: AnyObject, Sendable {
    var schema: MapSchema { get }
    var counters: MapCounters { get }
    var count: Int { get }
    var estimatedBytes: Int { get }
}

/// An instance a ``ManagedMap`` governs: it says its schema, and translates keys and values from and
/// to the API's text and JSON, at the API's boundary only.
@usableFromInline
package protocol GovernableInstance: MapInstance, InstanceView where Failure == MapError {
    /// An empty instance for a validated schema (the binding was checked against it).
    init(schema: MapSchema, clock: any MapClock)
    /// A key from the API's text; a bad one is counted as an error of `op`.
    func parseKey(_ text: String, for op: OpKind) throws(MapError) -> Key
    /// A value from JSON bytes, as the API receives it.
    func decodeValue(_ json: [UInt8], for op: OpKind) throws(MapError) -> Value
    /// A stored value as JSON bytes, as the API sends it.
    func encodeValue(_ value: Value) -> [UInt8]
    /// How many stored entries `newSchema` would drop (the plan of a lossy change).
    func entriesDropped(by newSchema: MapSchema) -> Int
    /// Every entry as JSON, at one point in time (contents saved at shutdown).
    func jsonEntries() -> [(MapKey, JSONValue)]
    /// Loads entries saved as JSON; entries this instance refuses are dropped and reported.
    func loadJSON(_ entries: [(MapKey, JSONValue)]) -> LoadReport
}
