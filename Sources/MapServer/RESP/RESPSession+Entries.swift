import MapController
import MapSchema
import NIOCore

/// The entry commands: `GET`, `SET`, `DEL`, `EXISTS`, `MGET`, `MSET` on keys `MAP:KEY`.
extension RESPSession {
    /// A key split at its first `:` into the map's name and the entry's key (map names hold no `:`).
    func entryKey(_ arguments: RESPArguments, _ index: Int) throws(RESPReplyError) -> (map: String, key: String) {
        let parts = arguments.withBytes(index) { bytes -> (String, String)? in
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
                let map = RESPArguments.utf8String(UnsafeRawBufferPointer(rebasing: bytes[..<colon])),
                let key = RESPArguments.utf8String(UnsafeRawBufferPointer(rebasing: bytes[(colon + 1)...]))
            else { return nil }
            return (map, key)
        }
        guard let parts else {
            throw RESPReplyError(
                "ERR bad_key keys are MAP:KEY in UTF-8, the first ':' separating the map's name from the entry's key, not '\(arguments.text(index).prefix(128))'"
            )
        }
        return parts
    }

    /// The RESP error for an error of the entry API, with the HTTP API's code.
    static func replyError(_ error: ControlPlaneError, map: String) -> RESPReplyError {
        switch error.code {
        case "map_not_found":
            return RESPReplyError("ERR map_not_found no such map '\(map.prefix(128))'")
        case "breaker_open":
            let seconds = max(1, error.retryAfter?.components.seconds ?? 1)
            return RESPReplyError("BUSY breaker open, retry after \(seconds)s (map '\(map.prefix(128))'); reads go on")
        default:
            return RESPReplyError("ERR \(error.code) \(error.message)")
        }
    }

    func valueType(of map: String) throws(RESPReplyError) -> ValueType {
        do { return try backend.entryValueType(map: map) } catch { throw Self.replyError(error, map: map) }
    }

    /// The entry's JSON (nil when the key is absent) and its map's value type.
    func read(map: String, key: String) throws(RESPReplyError) -> (json: [UInt8]?, valueType: ValueType) {
        do { return try backend.lookUpEntry(map: map, key: key) } catch { throw Self.replyError(error, map: map) }
    }

    /// The JSON the entry API takes for argument `index`, a value of `valueType`.
    func json(_ arguments: RESPArguments, _ index: Int, valueType: ValueType) throws(RESPReplyError) -> [UInt8] {
        try checkValueSize(arguments, index)
        let result = arguments.withBytes(index) { bytes -> Result<[UInt8], RESPValueTranslationError> in
            do throws(RESPValueTranslationError) {
                return .success(try RESPValueTranslation.json(fromRESP: bytes, valueType: valueType))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let json): return json
        case .failure(let error): throw RESPReplyError("ERR bad_value \(error.message)")
        }
    }

    /// A value over the limit is refused as the HTTP API refuses a body over it.
    func checkValueSize(_ arguments: RESPArguments, _ index: Int) throws(RESPReplyError) {
        let size = arguments.ranges[index].count
        guard size <= limits.maxValueBytes else {
            throw RESPReplyError("ERR too_large the value has \(size) bytes, over the limit of \(limits.maxValueBytes)")
        }
    }

    func get(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        let (map, key) = try entryKey(arguments, 1)
        let (json, type) = try read(map: map, key: key)
        guard let json else {
            out.writeRESPNull(version)
            return
        }
        Self.writeValue(json, valueType: type, into: &out)
    }

    /// A stored value as the bulk string a Redis user expects; a plain string without escapes is
    /// written straight from its JSON.
    static func writeValue(_ json: [UInt8], valueType: ValueType, into out: inout ByteBuffer) {
        if case .scalar(.string) = valueType, json.count >= 2, !json.contains(UInt8(ascii: "\\")) {
            out.writeRESPBulkString(json[1..<(json.count - 1)])
        } else {
            out.writeRESPBulkString(RESPValueTranslation.resp(fromJSON: json, valueType: valueType))
        }
    }

    func set(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        guard arguments.count == 3 else {
            throw RESPReplyError(
                "ERR syntax error: SET takes no options here (NX, XX, GET, EX, PX, EXAT, PXAT, KEEPTTL): an entry's lifetime is its map's ttl, and writes are not conditional"
            )
        }
        let (map, key) = try entryKey(arguments, 1)
        try checkValueSize(arguments, 2)
        do {
            try backend.writeEntry(map: map, key: key) { (type) throws(ControlPlaneError) -> [UInt8] in
                try arguments.withBytes(2) { (bytes) throws(ControlPlaneError) -> [UInt8] in
                    do throws(RESPValueTranslationError) {
                        return try RESPValueTranslation.json(fromRESP: bytes, valueType: type)
                    } catch {
                        throw ControlPlaneError(.badRequest, code: "bad_value", message: error.message)
                    }
                }
            }
        } catch {
            throw Self.replyError(error, map: map)
        }
        out.writeRESPOK()
    }

    /// Every key of arguments `range`, split, after checking that each names an existing map: nothing
    /// is done when one of them cannot be.
    func entryKeys(_ arguments: RESPArguments, _ indices: StrideTo<Int>) throws(RESPReplyError) -> [(
        map: String, key: String, type: ValueType
    )] {
        var keys: [(map: String, key: String, type: ValueType)] = []
        var types: [String: ValueType] = [:]
        for index in indices {
            let (map, key) = try entryKey(arguments, index)
            let type: ValueType
            if let known = types[map] {
                type = known
            } else {
                type = try valueType(of: map)
                types[map] = type
            }
            keys.append((map, key, type))
        }
        return keys
    }

    func delete(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        var removed = 0
        for (map, key, _) in try entryKeys(arguments, stride(from: 1, to: arguments.count, by: 1)) {
            do {
                try backend.removeEntry(map: map, key: key)
                removed += 1
            } catch  where error.code == "key_not_found" {
                continue
            } catch {
                throw Self.replyError(error, map: map)
            }
        }
        out.writeRESPInteger(removed)
    }

    func exists(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        var found = 0
        for (map, key, _) in try entryKeys(arguments, stride(from: 1, to: arguments.count, by: 1))
        where try read(map: map, key: key).json != nil {
            found += 1
        }
        out.writeRESPInteger(found)
    }

    func multiGet(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        let keys = try entryKeys(arguments, stride(from: 1, to: arguments.count, by: 1))
        var values: [([UInt8], ValueType)?] = []
        var replyBytes = 0
        for (map, key, _) in keys {
            let (json, type) = try read(map: map, key: key)
            replyBytes += (json?.count ?? 0) + 16
            guard replyBytes <= limits.maxReplyBytes else {
                throw RESPReplyError("ERR too_large the reply would exceed \(limits.maxReplyBytes) bytes: ask for fewer keys at a time")
            }
            values.append(json.map { ($0, type) })
        }
        out.writeRESPArrayHeader(values.count)
        for value in values {
            if let (json, type) = value {
                Self.writeValue(json, valueType: type, into: &out)
            } else {
                out.writeRESPNull(version)
            }
        }
    }

    /// Not atomic: every key and value is checked for form first, then the pairs are written in order;
    /// a value the map's schema refuses stops there, and the error says how many pairs were written.
    func multiSet(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        guard arguments.count % 2 == 1 else { throw RESPReplyError.wrongArity("mset") }
        let keys = try entryKeys(arguments, stride(from: 1, to: arguments.count, by: 2))
        var pairs: [(map: String, key: String, json: [UInt8])] = []
        for (offset, (map, key, type)) in keys.enumerated() {
            pairs.append((map, key, try json(arguments, 2 + offset * 2, valueType: type)))
        }
        for (written, pair) in pairs.enumerated() {
            do {
                try backend.writeEntry(map: pair.map, key: pair.key, json: pair.json)
            } catch {
                var reply = Self.replyError(error, map: pair.map)
                reply.line += " (MSET wrote \(written) of \(pairs.count) pairs before this one)"
                throw reply
            }
        }
        out.writeRESPOK()
    }
}
