import LiveMaps

extension DynamicMap: MapInstance {
    package typealias Key = MapKey
    package typealias Value = JSONValue
    package typealias Failure = MapError

    package func carry(_ entries: [(MapKey, JSONValue)]) -> Int {
        load(entries).droppedCount
    }
}
