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
        if Self.isPlainLoopback(hostHeader) { return true }
        guard let name = Self.hostName(ofHeader: hostHeader) else { return false }
        return APIAuthorization.isLoopback(name) || extraHosts.contains(name)
    }

    /// Whether `value` is `localhost` or a dotted 127.0.0.0/8 address, with an optional `:port`, in plain
    /// ASCII: what nearly every local client sends. Decided on the bytes, with no `String` processing (the
    /// full parse below was 29 % of an entry GET's answer on the fast path); everything it accepts, the
    /// full parse accepts too (`HostCheckTests`), and anything else goes on to the full parse.
    static func isPlainLoopback(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { bytes in
            var end = bytes.count
            if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
                for byte in bytes[(colon + 1)...] where !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { return false }
                end = colon
            }
            let host = UnsafeBufferPointer(rebasing: bytes[..<end])
            if host.elementsEqual("localhost".utf8) { return true }
            // Four octets of one to three digits, each at most 255, the first exactly "127".
            var octets = 0
            var digits = 0
            var octet = 0
            for byte in host {
                if byte == UInt8(ascii: ".") {
                    guard digits > 0, octets < 3 else { return false }
                    if octets == 0, !(digits == 3 && octet == 127) { return false }
                    octets += 1
                    digits = 0
                    octet = 0
                } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), digits < 3 {
                    octet = octet * 10 + Int(byte - UInt8(ascii: "0"))
                    digits += 1
                } else {
                    return false
                }
                if octet > 255 { return false }
            }
            return octets == 3 && digits > 0
        }
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
