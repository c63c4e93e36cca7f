/// The commands the listener knows, with what `COMMAND` reports of each.
enum RESPCommand: String, CaseIterable, Sendable {
    case get, set, del, exists, mget, mset, scan, dbsize
    case ping, echo, hello, auth, client, quit, reset, select
    case command, config, info

    /// Arity as Redis counts it: the command name included; negative means "at least".
    var arity: Int {
        switch self {
        case .get, .echo, .select: 2
        case .set, .mset: -3
        case .del, .exists, .mget, .scan, .auth, .client, .config: -2
        case .dbsize, .reset: 1
        case .ping, .hello, .quit, .command, .info: -1
        }
    }

    /// The flags `COMMAND` lists; clients read `readonly`/`write` to route commands.
    var flags: [String] {
        switch self {
        case .get, .mget, .exists: ["readonly", "fast"]
        case .set, .mset: ["write", "denyoom"]
        case .del: ["write"]
        case .scan, .dbsize: ["readonly"]
        case .ping, .echo, .select, .reset: ["fast", "stale", "loading"]
        case .hello, .auth: ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"]
        case .quit: ["allow_busy", "no_auth", "fast"]
        case .client, .command, .config, .info: ["loading", "stale"]
        }
    }

    /// First key, last key, step (`COMMAND`'s key positions).
    var keyPositions: (first: Int, last: Int, step: Int) {
        switch self {
        case .get, .set: (1, 1, 1)
        case .del, .exists, .mget: (1, -1, 1)
        case .mset: (1, -1, 2)
        default: (0, 0, 0)
        }
    }

    /// Commands allowed before `AUTH` where a token is needed.
    var isAllowedWithoutAuth: Bool {
        self == .auth || self == .hello || self == .quit || self == .reset
    }

    /// The command's name as `COMMAND INFO` answers it.
    var info: RESPValue {
        let keys = keyPositions
        return .array([
            .bulk(rawValue), .integer(arity), .set(flags.map { .simpleString($0) }),
            .integer(keys.first), .integer(keys.last), .integer(keys.step),
            .set([]), .array([]), .array([]), .array([]),
        ])
    }

    /// The command named by `name` (any case); nil for one the listener does not know.
    ///
    /// Names are at most 8 bytes: packed into a word and compared with a short table built once, the
    /// frequent commands first; no String, no hashing.
    static func named(_ name: UnsafeRawBufferPointer) -> RESPCommand? {
        guard name.count <= 8, !name.isEmpty else { return nil }
        var word: UInt64 = 0
        for byte in name {
            let lower = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            word = word << 8 | UInt64(lower)
        }
        for (packed, command) in table where packed == word {
            return command
        }
        return nil
    }

    private static let table: [(UInt64, RESPCommand)] = allCases.map { command in
        var word: UInt64 = 0
        for byte in command.rawValue.utf8 { word = word << 8 | UInt64(byte) }
        return (word, command)
    }
}
