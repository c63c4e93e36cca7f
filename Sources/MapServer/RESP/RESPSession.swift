import Logging
public import NIOCore

/// Who must say the API token before using the maps over RESP: where the listener is off loopback,
/// everyone (as for every HTTP endpoint but health); on loopback, no one. A correct `AUTH` is accepted
/// either way, so that clients configured with a password keep working.
public struct RESPAuthorization: Sendable {
    public var token: APIToken?
    public var requiresToken: Bool

    public init(token: APIToken?, requiresToken: Bool) {
        self.token = token
        self.requiresToken = requiresToken && token != nil
    }

    /// The policy of a listener on `host`: the token is needed off loopback.
    public init(token: APIToken, listeningOn host: String) {
        self.init(token: token, requiresToken: !APIAuthorization.isLoopback(host))
    }
}

/// One client connection's state and its commands, independent of NIO's channel so that it can be
/// driven directly: the protocol version, whether the client has authenticated, its name.
///
/// Every command runs synchronously on the calling thread (the connection's event loop) against the
/// controller's entry API; each writes exactly one reply.
public struct RESPSession<Backend: RESPBackend> {
    public let backend: Backend
    let authorization: RESPAuthorization
    let metrics: RESPCommandMetrics?
    let limits: RESPLimits
    let clientID: Int
    let peer: String
    public internal(set) var version: RESPVersion = .resp2
    public internal(set) var isAuthenticated: Bool
    var name: String?

    /// What the connection does after a command.
    public enum Outcome: Sendable {
        case proceed
        /// Close once the replies so far are written (QUIT, or a cross-protocol attempt).
        case close
    }

    public init(
        backend: Backend, authorization: RESPAuthorization, metrics: RESPCommandMetrics?, clientID: Int, peer: String = "",
        limits: RESPLimits = RESPLimits()
    ) {
        self.backend = backend
        self.authorization = authorization
        self.metrics = metrics
        self.limits = limits
        self.clientID = clientID
        self.peer = peer
        isAuthenticated = !authorization.requiresToken
    }

    /// Runs one command and appends its reply to `out`.
    public mutating func execute(_ arguments: RESPArguments, into out: inout ByteBuffer) -> Outcome {
        let command = arguments.withBytes(0) { RESPCommand.named($0) }
        guard let command else {
            let name = arguments.text(0).lowercased()
            if name == "post" || name == "host:" {
                // A browser sent HTTP here (cross-protocol scripting): answer nothing, close.
                return .close
            }
            metrics?.count(nil, failed: true)
            out.writeRESPError("ERR unknown command '\(name.prefix(128))', with args beginning with: \(Self.argumentsPreview(arguments))")
            return .proceed
        }
        if !isAuthenticated, !command.isAllowedWithoutAuth {
            metrics?.count(command, failed: true)
            out.writeRESPError("NOAUTH Authentication required.")
            return .proceed
        }
        let arity = command.arity
        if arity > 0 ? arguments.count != arity : arguments.count < -arity {
            metrics?.count(command, failed: true)
            out.writeRESPError(RESPReplyError.wrongArity(command.rawValue).line)
            return .proceed
        }
        var outcome = Outcome.proceed
        let mark = out.writerIndex
        do throws(RESPReplyError) {
            switch command {
            case .get: try get(arguments, into: &out)
            case .set: try set(arguments, into: &out)
            case .del: try delete(arguments, into: &out)
            case .exists: try exists(arguments, into: &out)
            case .mget: try multiGet(arguments, into: &out)
            case .mset: try multiSet(arguments, into: &out)
            case .scan: try scan(arguments, into: &out)
            case .dbsize: out.writeRESPInteger(backend.totalEntryCount())
            case .ping: ping(arguments, into: &out)
            case .echo: out.writeRESPBulkString(arguments.bytes(1))
            case .hello: try hello(arguments, into: &out)
            case .auth: try auth(arguments, into: &out)
            case .client: try client(arguments, into: &out)
            case .quit:
                out.writeRESPOK()
                outcome = .close
            case .reset:
                version = .resp2
                name = nil
                isAuthenticated = !authorization.requiresToken
                out.writeRESPSimpleString("RESET")
            case .select:
                guard arguments.integer(1) == 0 else { throw RESPReplyError("ERR DB index is out of range") }
                out.writeRESPOK()
            case .command: try commandInfo(arguments, into: &out)
            case .config: try config(arguments, into: &out)
            case .info: info(into: &out)
            }
            metrics?.count(command, failed: false)
        } catch {
            out.moveWriterIndex(to: mark)
            out.writeRESPError(error.line)
            metrics?.count(command, failed: true)
        }
        return outcome
    }

    /// Redis's preview of an unknown command's arguments: `'a' 'b' `.
    static func argumentsPreview(_ arguments: RESPArguments) -> String {
        (1..<min(arguments.count, 4)).map { "'\(arguments.text($0).prefix(64))' " }.joined()
    }
}
