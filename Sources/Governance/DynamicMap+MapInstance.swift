import LiveMaps
import MapSchema

extension DynamicMap: GovernableInstance {
    @usableFromInline package typealias Key = MapKey
    @usableFromInline package typealias Value = JSONValue
    @usableFromInline package typealias Failure = MapError

    @usableFromInline package func decodeValue(_ json: [UInt8], for op: OpKind) throws(MapError) -> JSONValue {
        try JSONValue(parsing: json)
    }

    @usableFromInline package func encodeValue(_ value: JSONValue) -> [UInt8] { value.serialized() }

    @usableFromInline package func jsonEntries() -> [(MapKey, JSONValue)] { snapshot() }

    @usableFromInline package func loadJSON(_ entries: [(MapKey, JSONValue)]) -> LoadReport { load(entries) }

    @usableFromInline package func carry(_ entries: [(MapKey, JSONValue)]) -> Int {
        load(entries).droppedCount
    }

    @usableFromInline package func acceptsUnchanged(entriesOf source: DynamicMap) -> Bool {
        acceptsUnchanged(entriesOf: source.schema)
    }

    /// The unchecked bulk path when `unchecked`, else every entry through `load`'s checks.
    @usableFromInline package func carryAll(from source: DynamicMap, unchecked: Bool) -> (copied: Int, dropped: Int) {
        guard unchecked else {
            let entries = source.entriesForCopy()
            return (entries.count, load(entries).droppedCount)
        }
        let (copied, report) = carry(from: source)
        return (copied, report.droppedCount)
    }

    @usableFromInline package func carryOne(_ key: MapKey, _ value: JSONValue, unchecked: Bool) -> Bool {
        carry(key, value, unchecked: unchecked)
    }
}
