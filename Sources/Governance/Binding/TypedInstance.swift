import LiveMaps
import MapSchema

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An instance of a bound map: Swift keys and values stored natively in a ``LiveMap``, with no JSON on
/// any operation. JSON appears only at the API's boundary (``decodeValue(_:for:)``,
/// ``encodeValue(_:)``) for the HTTP entry routes on a bound map.
///
/// The schema governed the binding once (``SchemaBinding``); per operation there remain the checks
/// that need no serializing: `max_key_bytes`, `max_value_bytes` (through ``MapValueSize``) and
/// `capacity`, all in the engine.
@usableFromInline
package final class TypedInstance<Key: MapKeyType, Value: Codable & Sendable>: GovernableInstance {
    @usableFromInline package let schema: MapSchema
    @usableFromInline let map: LiveMap<Key, Value>
    private let validator: ValueValidator

    @usableFromInline package init(schema: MapSchema, clock: any MapClock) {
        self.schema = schema
        validator = ValueValidator(schema: schema)
        var configuration = LiveMap<Key, Value>.Configuration(schema: schema, clock: clock)
        configuration.keyByteCount = { $0.mapKeyByteCount }
        if Value.self is any MapValueSize.Type {
            configuration.valueByteCount = { ($0 as? any MapValueSize)?.mapValueByteCount ?? MemoryLayout<Value>.size }
        } else {
            configuration.valueByteCount = { _ in MemoryLayout<Value>.size }
        }
        map = LiveMap(configuration: configuration)
    }

    @usableFromInline package var counters: MapCounters { map.counters }
    @usableFromInline package var count: Int { map.count }
    @usableFromInline package var estimatedBytes: Int { map.estimatedBytes }

    // MARK: - Operations (counted)

    @inlinable
    package func get(_ key: Key) throws(MapError) -> Value? { map.get(key) }

    @inlinable
    package func put(_ key: Key, _ value: Value) throws(MapError) { try map.put(key, value) }

    @inlinable
    package func delete(_ key: Key) throws(MapError) -> Bool { map.delete(key) != nil }

    @usableFromInline package func compareAndSet(_ key: Key, expected: Value?, new: Value?) throws(MapError) -> Bool {
        // Codable values need not be Equatable: compare their JSON forms (compare-and-set is off the hot path).
        let expectedJSON = expected.map { encodeValue($0) }
        return try map.compareAndSet(
            key,
            where: { [self] current in current.map { encodeValue($0) } == expectedJSON },
            new: new
        )
    }

    // MARK: - Carrying (not counted)

    @usableFromInline package func peek(_ key: Key) -> Value? { map.getUncounted(key) }

    @usableFromInline package func snapshot() -> [(Key, Value)] { map.entries() }

    /// Shard by shard for `sharded` maps: writers wait for one shard's copy, not the whole map's.
    @usableFromInline package func entriesForCopy() -> [(Key, Value)] { map.entriesForCopy() }

    @usableFromInline package func carry(_ entries: [(Key, Value)]) -> Int {
        var dropped = 0
        for (key, value) in entries {
            do { try map.putUncounted(key, value) } catch { dropped += 1 }
        }
        return dropped
    }

    @usableFromInline package func discard(_ key: Key) { map.deleteUncounted(key) }

    /// Every version of a bound map holds the same Swift types; entries fit unchanged unless a byte
    /// limit was narrowed (`max_entries` and ttl are enforced by the engine on every insert anyway).
    @usableFromInline package func acceptsUnchanged(entriesOf source: TypedInstance) -> Bool {
        for change in SchemaCompatibility.changes(from: source.schema, to: schema) {
            switch change.loss {
            case .maxKeyBytes, .maxValueBytes: return false
            case .maxEntries, .ttl, nil: break
            }
        }
        return true
    }

    /// The native bulk copy (reserved capacity, streamed shard by shard) when `unchecked`.
    @usableFromInline package func carryAll(from source: TypedInstance, unchecked: Bool) -> (copied: Int, dropped: Int) {
        guard unchecked else {
            let entries = source.entriesForCopy()
            return (entries.count, carry(entries))
        }
        return map.carryUnchecked(from: source.map)
    }

    @usableFromInline package func carryOne(_ key: Key, _ value: Value, unchecked: Bool) -> Bool {
        do {
            try map.putUncounted(key, value, checkingSizes: !unchecked)
            return true
        } catch {
            return false
        }
    }

    // MARK: - The API's boundary

    @usableFromInline package func parseKey(_ text: String, for op: OpKind) throws(MapError) -> Key {
        let parsed: MapKey
        do {
            parsed = try MapKey(parsing: text, as: schema.keyType)
        } catch {
            counters.record(op: op, result: .error, nanoseconds: 0)
            throw error
        }
        guard let key = Key(mapKey: parsed) else {
            counters.record(op: op, result: .error, nanoseconds: 0)
            throw .badKey("'\(text.prefix(64))' is not a \(schema.keyType.rawValue) key")
        }
        return key
    }

    @usableFromInline package func decodeValue(_ json: [UInt8], for op: OpKind) throws(MapError) -> Value {
        do {
            // The schema's checks first, so that the API answers a bound map as it answers any other.
            let normalized = try validator.check(try JSONValue(parsing: json))
            return try JSONDecoder().decode(Value.self, from: Data(normalized.serialized()))
        } catch let error as MapError {
            counters.record(op: op, result: .error, nanoseconds: 0)
            throw error
        } catch {
            counters.record(op: op, result: .error, nanoseconds: 0)
            throw .badValue("not a \(Value.self): \(error)")
        }
    }

    @usableFromInline package func encodeValue(_ value: Value) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(value))) ?? Array("null".utf8)
    }

    @usableFromInline package func entriesDropped(by newSchema: MapSchema) -> Int {
        // A bound map's versions all bind the same type; what a new version can drop is what its
        // limits refuse.
        guard let limit = newSchema.capacity?.maxEntries else { return 0 }
        return max(0, count - limit)
    }

    @usableFromInline package func jsonEntries() -> [(MapKey, JSONValue)] {
        map.entries().compactMap { key, value in
            (try? JSONValue(parsing: encodeValue(value))).map { (key.mapKey, $0) }
        }
    }

    @usableFromInline package func loadJSON(_ entries: [(MapKey, JSONValue)]) -> LoadReport {
        var report = LoadReport()
        let decoder = JSONDecoder()
        for (mapKey, json) in entries {
            guard let key = Key(mapKey: mapKey) else {
                report.dropped["key_type", default: 0] += 1
                continue
            }
            guard let value = try? decoder.decode(Value.self, from: Data(json.serialized())) else {
                report.dropped["value_type", default: 0] += 1
                continue
            }
            do {
                try map.putUncounted(key, value)
                report.loaded += 1
            } catch {
                report.dropped["max_entries", default: 0] += 1
            }
        }
        return report
    }
}
