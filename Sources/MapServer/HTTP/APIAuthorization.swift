/// Which requests need `Authorization: Bearer TOKEN`.
///
/// `apply` and `rollback` always need the token. When the daemon listens on an
/// address other than loopback, every endpoint but `/healthz` and `/readyz` needs
/// it too (``requiresTokenForAll``). On loopback, where reads and entries need no
/// token, the `Host` header must name the loopback (``hosts``), against DNS rebinding.
public struct APIAuthorization: Sendable {
    /// The token to compare with; nil disables the check entirely, for a service that
    /// mounts the routes behind an authentication middleware of its own.
    public var token: APIToken?
    /// True to ask for the token on every endpoint but health (a non-loopback listener).
    public var requiresTokenForAll: Bool
    /// The `Host` values answered on every endpoint but health; nil answers any `Host`.
    /// Set for a loopback listener, where the token does not guard reads and entries.
    public var hosts: HostAllowList?

    public init(token: APIToken?, requiresTokenForAll: Bool, hosts: HostAllowList? = nil) {
        self.token = token
        self.requiresTokenForAll = requiresTokenForAll
        self.hosts = hosts
    }

    /// The policy of a daemon listening on `host`: the token for everything off loopback;
    /// on loopback, only loopback `Host` names and `allowedHosts`.
    public init(token: APIToken, listeningOn host: String, allowedHosts: [String] = []) {
        let isLoopback = Self.isLoopback(host)
        self.init(token: token, requiresTokenForAll: !isLoopback, hosts: isLoopback ? HostAllowList(extraHosts: allowedHosts) : nil)
    }

    /// No token anywhere. Only for an embedding service that authenticates requests itself.
    public static var disabled: APIAuthorization { APIAuthorization(token: nil, requiresTokenForAll: false) }

    enum Requirement {
        /// `/healthz`, `/readyz`.
        case never
        /// Reads and entries: only off loopback.
        case offLoopback
        /// `apply`, `rollback`.
        case always
    }

    /// Whether a request with this `Host` header value may be answered (health is always answered).
    func permits(hostHeader: String?, requirement: Requirement) -> Bool {
        guard let hosts, requirement != .never else { return true }
        return hosts.permits(hostHeader: hostHeader)
    }

    /// Whether a request with this `Authorization` header value may pass.
    func permits(authorizationHeader: String?, requirement: Requirement) -> Bool {
        guard let token else { return true }
        switch requirement {
        case .never: return true
        case .offLoopback where !requiresTokenForAll: return true
        case .offLoopback, .always: break
        }
        guard let header = authorizationHeader else { return false }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return token.matches(parts[1].trimmingSpaces())
    }

    /// True for `localhost`, `::1` and 127.0.0.0/8.
    public static func isLoopback(_ host: String) -> Bool {
        var host = host
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
