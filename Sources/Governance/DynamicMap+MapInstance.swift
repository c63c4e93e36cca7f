import LiveMaps
import MapSchema

extension DynamicMap: GovernableInstance {
    package typealias Key = MapKey
    package typealias Value = JSONValue
    package typealias Failure = MapError

    package func decodeValue(_ json: [UInt8], for op: OpKind) throws(MapError) -> JSONValue {
        try JSONValue(parsing: json)
    }

    package func encodeValue(_ value: JSONValue) -> [UInt8] { value.serialized() }

    package func jsonEntries() -> [(MapKey, JSONValue)] { snapshot() }

    package func loadJSON(_ entries: [(MapKey, JSONValue)]) -> LoadReport { load(entries) }

    package func carry(_ entries: [(MapKey, JSONValue)]) -> Int {
        load(entries).droppedCount
    }

    package func acceptsUnchanged(entriesOf source: DynamicMap) -> Bool {
        acceptsUnchanged(entriesOf: source.schema)
    }

    /// The unchecked bulk path when `unchecked`, else every entry through `load`'s checks.
    package func carryAll(from source: DynamicMap, unchecked: Bool) -> (copied: Int, dropped: Int) {
        guard unchecked else {
            let entries = source.entriesForCopy()
            return (entries.count, load(entries).droppedCount)
        }
        let (copied, report) = carry(from: source)
        return (copied, report.droppedCount)
    }

    package func carryOne(_ key: MapKey, _ value: JSONValue, unchecked: Bool) -> Bool {
        carry(key, value, unchecked: unchecked)
    }
}
