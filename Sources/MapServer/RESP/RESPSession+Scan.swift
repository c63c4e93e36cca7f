import NIOCore

/// `SCAN cursor MATCH MAP:PATTERN [COUNT n] [TYPE string]`: the keys of one map, a page at a time.
///
/// Keys are visited in the order of a hash of their text, and the cursor is the hash of the next key
/// to visit. So a key present for the whole iteration is returned (perhaps twice, as Redis allows),
/// whatever is added or removed meanwhile. Each call copies the map's keys: a scan of a large map is
/// work for the event loop, meant for occasional use.
extension RESPSession {
    func scan(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        guard let cursor = UInt64(arguments.text(1)) else { throw RESPReplyError("ERR invalid cursor") }
        var pattern: [UInt8]?
        var count = 10
        var typeMatches = true
        var index = 2
        while index < arguments.count {
            guard index + 1 < arguments.count else { throw RESPReplyError.syntax }
            if arguments.is(index, "match") {
                pattern = arguments.bytes(index + 1)
            } else if arguments.is(index, "count") {
                guard let value = arguments.integer(index + 1), value > 0 else {
                    throw RESPReplyError("ERR value is out of range, must be positive")
                }
                count = min(value, 1 << 20)
            } else if arguments.is(index, "type") {
                typeMatches = arguments.text(index + 1).lowercased() == "string"
            } else {
                throw RESPReplyError.syntax
            }
            index += 2
        }
        guard let pattern, let colon = pattern.firstIndex(of: UInt8(ascii: ":")), RESPGlob(pattern[..<colon]).isLiteral,
            let map = String(validating: pattern[..<colon], as: UTF8.self)
        else {
            throw RESPReplyError("ERR SCAN scans one map: give MATCH MAP:PATTERN with the map's name literal, such as MATCH users:*")
        }
        let glob = RESPGlob(pattern[(colon + 1)...])
        let keys: [String]
        do { keys = try backend.entryKeys(map: map) } catch { throw Self.replyError(error, map: map) }

        var candidates = keys.compactMap { key -> (hash: UInt64, key: String)? in
            let hash = Self.cursorHash(key)
            return hash >= cursor ? (hash, key) : nil
        }
        candidates.sort { $0.hash < $1.hash }
        let page = candidates.prefix(count)
        let next = candidates.count > count ? candidates[count].hash : 0
        let matched = typeMatches ? page.filter { glob.matches($0.key.utf8) } : []

        out.writeRESPArrayHeader(2)
        out.writeRESPBulkString(String(next))
        out.writeRESPArrayHeader(matched.count)
        for candidate in matched {
            out.writeRESPBulkString("\(map):\(candidate.key)")
        }
    }

    /// FNV-1a of the key's text, halved and made odd: never 0 (the cursor that starts and ends a scan),
    /// and below 2^63 for clients that read cursors as signed integers.
    static func cursorHash(_ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return (hash >> 1) | 1
    }
}
