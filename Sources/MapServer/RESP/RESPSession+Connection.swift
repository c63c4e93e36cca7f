import NIOCore

/// The connection commands: `PING`, `HELLO`, `AUTH`, `CLIENT`, `COMMAND`, `CONFIG`, `INFO`.
extension RESPSession {
    func ping(_ arguments: RESPArguments, into out: inout ByteBuffer) {
        if arguments.count > 1 {
            out.writeRESPBulkString(arguments.bytes(1))
        } else {
            out.writeRESPSimpleString("PONG")
        }
    }

    /// `AUTH TOKEN` or `AUTH default TOKEN`.
    mutating func auth(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        guard arguments.count <= 3 else { throw RESPReplyError.syntax }
        try authenticate(user: arguments.count == 3 ? arguments.text(1) : "default", password: arguments.text(arguments.count - 1))
        out.writeRESPOK()
    }

    mutating func authenticate(user: String, password: String) throws(RESPReplyError) {
        guard user == "default", let token = authorization.token, token.matches(password) else {
            throw RESPReplyError("WRONGPASS invalid username-password pair or user is disabled.")
        }
        isAuthenticated = true
    }

    /// `HELLO [protover [AUTH user password] [SETNAME name]]`.
    mutating func hello(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        var requested = version
        if arguments.count > 1 {
            guard let number = arguments.integer(1), let chosen = RESPVersion(rawValue: number) else {
                throw RESPReplyError("NOPROTO unsupported protocol version")
            }
            requested = chosen
        }
        var index = 2
        var newName: String?
        while index < arguments.count {
            if arguments.is(index, "auth"), index + 2 < arguments.count {
                try authenticate(user: arguments.text(index + 1), password: arguments.text(index + 2))
                index += 3
            } else if arguments.is(index, "setname"), index + 1 < arguments.count {
                newName = try Self.clientName(arguments.text(index + 1))
                index += 2
            } else {
                throw RESPReplyError("ERR syntax error in HELLO option '\(arguments.text(index).prefix(64))'")
            }
        }
        guard isAuthenticated else {
            throw RESPReplyError(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
            )
        }
        if let newName { name = newName }
        version = requested
        RESPValue.map([
            RESPPair(.bulk("server"), .bulk("mapctl")),
            RESPPair(.bulk("version"), .bulk(Self.redisVersion)),
            RESPPair(.bulk("proto"), .integer(version.rawValue)),
            RESPPair(.bulk("id"), .integer(clientID)),
            RESPPair(.bulk("mode"), .bulk("standalone")),
            RESPPair(.bulk("role"), .bulk("master")),
            RESPPair(.bulk("modules"), .array([])),
        ]).write(to: &out, version: version)
    }

    /// The Redis version whose protocol the listener speaks, for clients that pick features by it.
    static var redisVersion: String { "7.2.0" }

    static func clientName(_ text: String) throws(RESPReplyError) -> String? {
        guard !text.contains(where: { $0 == " " || $0 == "\n" || $0 == "\r" }) else {
            throw RESPReplyError("ERR Client names cannot contain spaces, newlines or special characters.")
        }
        return text.isEmpty ? nil : text
    }

    mutating func client(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        if arguments.is(1, "setname") {
            guard arguments.count == 3 else { throw RESPReplyError.wrongArity("client|setname") }
            name = try Self.clientName(arguments.text(2))
            out.writeRESPOK()
        } else if arguments.is(1, "getname") {
            if let name { out.writeRESPBulkString(name) } else { out.writeRESPNull(version) }
        } else if arguments.is(1, "id") {
            out.writeRESPInteger(clientID)
        } else if arguments.is(1, "info") || arguments.is(1, "list") {
            out.writeRESPBulkString("id=\(clientID) addr=\(peer) name=\(name ?? "") resp=\(version.rawValue)\n")
        } else if arguments.is(1, "setinfo") || arguments.is(1, "no-evict") || arguments.is(1, "no-touch") {
            out.writeRESPOK()
        } else {
            throw RESPReplyError(
                "ERR unknown subcommand '\(arguments.text(1).prefix(64))'. Try CLIENT SETNAME, GETNAME, ID, INFO, LIST or SETINFO.")
        }
    }

    /// `COMMAND`, `COMMAND COUNT`, `COMMAND INFO name…`, `COMMAND LIST`, `COMMAND DOCS` (no docs: an
    /// empty answer, on which `redis-cli` falls back to its own hints).
    func commandInfo(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        if arguments.count == 1 {
            RESPValue.array(RESPCommand.allCases.map(\.info)).write(to: &out, version: version)
        } else if arguments.is(1, "count") {
            out.writeRESPInteger(RESPCommand.allCases.count)
        } else if arguments.is(1, "list") {
            RESPValue.array(RESPCommand.allCases.map { .bulk($0.rawValue) }).write(to: &out, version: version)
        } else if arguments.is(1, "info") {
            let infos = (2..<max(2, arguments.count)).map { index in
                arguments.withBytes(index) { RESPCommand.named($0) }?.info ?? .null
            }
            RESPValue.array(infos).write(to: &out, version: version)
        } else if arguments.is(1, "docs") {
            RESPValue.map([]).write(to: &out, version: version)
        } else {
            throw RESPReplyError("ERR unknown subcommand '\(arguments.text(1).prefix(64))'. Try COMMAND COUNT, DOCS, INFO or LIST.")
        }
    }

    /// `CONFIG GET parameter…`: `save` and `appendonly` answer as a server without persistence does
    /// (what `redis-benchmark` asks); other parameters are not there.
    func config(_ arguments: RESPArguments, into out: inout ByteBuffer) throws(RESPReplyError) {
        guard arguments.is(1, "get") else {
            throw RESPReplyError("ERR mapctl has no Redis configuration to change: maps are configured by their schema files")
        }
        guard arguments.count > 2 else { throw RESPReplyError.wrongArity("config|get") }
        let known: [(String, String)] = [("save", ""), ("appendonly", "no")]
        var pairs: [RESPPair] = []
        for index in 2..<arguments.count {
            let glob = RESPGlob(arguments.text(index).lowercased().utf8)
            for (name, value) in known where glob.matches(name.utf8) && !pairs.contains(where: { $0.key == .bulk(name) }) {
                pairs.append(RESPPair(.bulk(name), .bulk(value)))
            }
        }
        RESPValue.map(pairs).write(to: &out, version: version)
    }

    func info(into out: inout ByteBuffer) {
        let text = """
            # Server\r
            redis_version:\(Self.redisVersion)\r
            redis_mode:standalone\r
            server_name:mapctl\r
            \r
            # Keyspace\r
            db0:keys=\(backend.totalEntryCount()),expires=0,avg_ttl=0\r

            """
        out.writeRESPBulkString(text)
    }
}
