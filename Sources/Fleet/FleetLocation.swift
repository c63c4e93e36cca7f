import Foundation

/// Where a fleet's PostgreSQL database is: the `--fleet` URL, parsed.
///
/// Accepted forms (libpq's URL syntax, the parameters mapctl needs):
/// - `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (or `postgresql://`), IPv6 hosts in brackets;
/// - `postgresql:///DB?host=/run/postgresql`: a Unix socket directory (the socket is `DIR/.s.PGSQL.PORT`);
///   an empty host without `host=` also means the socket directory `/run/postgresql`.
///
/// Query parameters: `host`, `port`, `user`, `password`, `dbname`, `sslmode` (`disable`, `allow`, `prefer`,
/// `require`, `verify-ca`, `verify-full`; TCP defaults to `prefer`, sockets never use TLS). The port defaults to
/// 5432, the user to `$USER` (or the current user). User, password and database are percent-decoded.
public struct FleetLocation: Sendable, Hashable, CustomStringConvertible {
    /// How to reach the server.
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        /// The socket file's path (`DIR/.s.PGSQL.PORT`).
        case unixSocket(path: String)
    }

    /// TLS on TCP connections, as libpq's `sslmode`.
    public enum TLSMode: String, Sendable, Hashable {
        case disable
        /// TLS when the server offers it, certificates not verified (libpq's `allow` and `prefer`).
        case prefer
        /// TLS required, certificates not verified.
        case require
        /// TLS required, the certificate chain verified but not the host name.
        case verifyCA = "verify-ca"
        /// TLS required, certificate and host name verified.
        case verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// The URL with any password replaced by `***`.
    public let description: String

    static let defaultSocketDirectory = "/run/postgresql"
    static let parameters: Set<String> = ["host", "port", "user", "password", "dbname", "sslmode"]

    public init(parsing url: String) throws(FleetError) {
        let text = url.trimmingCharacters(in: .whitespaces)
        guard let schemeEnd = text.range(of: "://") else {
            throw Self.bad(url, "it is not a URL; expected postgres://USER@HOST:PORT/DB or postgresql:///DB?host=/run/postgresql")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw Self.bad(url, "the scheme must be postgres:// or postgresql://, not \(scheme)://")
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        guard !rest.contains("#") else { throw Self.bad(url, "a fragment (#...) has no meaning here") }

        var query: [(String, String)] = []
        if let mark = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: mark)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = try Self.decode(parts[0], url, "a parameter name")
                guard Self.parameters.contains(key) else {
                    let known = Self.parameters.sorted().joined(separator: ", ")
                    throw Self.bad(url, "unknown parameter '\(key)' (known: \(known))")
                }
                query.append((key, try Self.decode(parts.count > 1 ? parts[1] : "", url, "parameter \(key)")))
            }
            rest = rest[..<mark]
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = slash < rest.endIndex ? rest[rest.index(after: slash)...] : ""

        var user: String?
        var password: String?
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.decode(userInfo[..<colon], url, "the user")
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], url, "the password")
            } else {
                user = try Self.decode(userInfo, url, "the user")
            }
        }
        var (host, port) = try Self.hostAndPort(hostPort, url)
        var database = path.isEmpty ? nil : try Self.decode(path, url, "the database name")
        var mode: TLSMode?
        for (key, value) in query {
            switch key {
            case "host": host = value
            case "port": port = try Self.port(value, url)
            case "user": user = value
            case "password": password = value
            case "dbname": database = value
            default:
                guard let parsed = value == "allow" ? .prefer : TLSMode(rawValue: value) else {
                    throw Self.bad(url, "sslmode '\(value)' is not one of disable, allow, prefer, require, verify-ca, verify-full")
                }
                mode = parsed
            }
        }
        guard let database, !database.isEmpty else {
            throw Self.bad(url, "it names no database; add /DB after the host")
        }
        if let user, user.isEmpty { throw Self.bad(url, "the user name is empty") }
        let resolvedHost = host ?? ""
        if resolvedHost.isEmpty || resolvedHost.hasPrefix("/") {
            let directory = resolvedHost.isEmpty ? Self.defaultSocketDirectory : resolvedHost
            let trimmed = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
            endpoint = .unixSocket(path: "\(trimmed)/.s.PGSQL.\(port ?? 5432)")
            guard mode == nil || mode == .disable || mode == .prefer else {
                throw Self.bad(url, "sslmode=\(mode!.rawValue) cannot be used on a Unix socket")
            }
            tls = .disable
        } else {
            endpoint = .tcp(host: resolvedHost, port: port ?? 5432)
            tls = mode ?? .prefer
        }
        self.user = user ?? Self.currentUser()
        self.password = password
        self.database = database
        self.description = Self.redacted(text)
    }

    private static func hostAndPort(_ text: Substring, _ url: String) throws(FleetError) -> (String?, Int?) {
        if text.isEmpty { return (nil, nil) }
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad(url, "an IPv6 host lacks its closing ]") }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad(url, "unexpected '\(after)' after the IPv6 host") }
                portText = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = text
        }
        let decodedHost = try decode(host, url, "the host")
        return (decodedHost.isEmpty ? nil : decodedHost, try portText.map { (value) throws(FleetError) in try port(String(value), url) })
    }

    private static func port(_ text: String, _ url: String) throws(FleetError) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw bad(url, "port '\(text)' is not a number from 1 to 65535")
        }
        return port
    }

    private static func decode(_ text: Substring, _ url: String, _ what: String) throws(FleetError) -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw bad(url, "\(what) has a bad percent-escape")
        }
        return decoded
    }

    private static func bad(_ url: String, _ why: String) -> FleetError {
        FleetError(.badLocation, "--fleet \(redacted(url)): \(why)")
    }

    /// The URL with the password of its user info and of a `password=` parameter replaced by `***`.
    static func redacted(_ url: String) -> String {
        var text = url
        if let schemeEnd = text.range(of: "://") {
            let authorityEnd = text[schemeEnd.upperBound...].firstIndex { $0 == "/" || $0 == "?" } ?? text.endIndex
            let authority = text[schemeEnd.upperBound..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                text.replaceSubrange(text.index(after: colon)..<at, with: "***")
            }
        }
        if let mark = text.firstIndex(of: "?") {
            let pairs = text[text.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: false).map { pair in
                pair.hasPrefix("password=") ? "password=***" : String(pair)
            }
            text = String(text[...mark]) + pairs.joined(separator: "&")
        }
        return text
    }

    /// `$USER`, else the name of the effective user, else `postgres`.
    static func currentUser() -> String {
        if let user = ProcessInfo.processInfo.environment["USER"], !user.isEmpty { return user }
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return "postgres"
    }
}
