/// Which `Host` header values a loopback daemon answers, against DNS rebinding.
///
/// A web page served from a name the attacker controls can make that name resolve to
/// 127.0.0.1 a moment later; the browser then sends the page's requests to the local
/// daemon, with the attacker's name in `Host`. On loopback the entry API, `/v1/maps`,
/// history and `/metrics` need no token, so the `Host` header is the only thing that
/// tells such a request apart: a loopback daemon answers only loopback names and
/// addresses (`localhost`, `127.0.0.0/8`, `[::1]`) and the names listed with
/// `--allowed-host`. A request without `Host` (HTTP/1.0) passes: browsers always send one.
public struct HostAllowList: Sendable, Hashable {
    /// Names and addresses accepted besides the loopback ones, lowercased, without port or brackets.
    public private(set) var extraHosts: Set<String>

    /// - Parameter extraHosts: names (or addresses) to accept besides loopback, as given to
    ///   `--allowed-host`; a port or IPv6 brackets, when present, are ignored.
    public init(extraHosts: some Sequence<String> = []) {
        self.extraHosts = Set(extraHosts.compactMap(Self.hostName(ofHeader:)))
    }

    /// True when a request with this `Host` header value may be answered.
    public func permits(hostHeader: String?) -> Bool {
        guard let hostHeader else { return true }
        guard let name = Self.hostName(ofHeader: hostHeader) else { return false }
        return APIAuthorization.isLoopback(name) || extraHosts.contains(name)
    }

    /// The host part of a `Host` value (`name`, `name:port`, `[v6]`, `[v6]:port`), lowercased,
    /// without a trailing dot; nil when it is empty or malformed.
    static func hostName(ofHeader value: String) -> String? {
        var text = Substring(value).trimmingSpaces()
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isASCIIDigit)) else { return nil }
            text = text[text.index(after: text.startIndex)..<close]
        } else if let colon = text.firstIndex(of: ":") {
            // One colon is a port; more than one is a bare IPv6 address, which `Host` never carries.
            let port = text[text.index(after: colon)...]
            guard port.allSatisfy(\.isASCIIDigit) else { return nil }
            text = text[..<colon]
        }
        if text.hasSuffix(".") { text = text.dropLast() }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "/" && $0 != "@" }) else { return nil }
        return text.lowercased()
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
