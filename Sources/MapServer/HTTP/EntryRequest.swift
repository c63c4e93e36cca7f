import HTTPTypes
import Hummingbird
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A request the entry fast path (``EntryFastPathHandler``) answers: `GET`, `PUT` or `DELETE` of
/// `/v1/maps/{name}/entries/{key}` with the path in its canonical form (no empty segment, no trailing
/// slash), no `Expect` field and no declared body over the limit. Anything else is nil, and the router
/// answers it.
struct EntryRequest {
    /// The route's label in `mapctl_http_requests_total`, as the router prints it.
    static let route = RouterPath("/v1/maps/:name/entries/:key").description

    let head: HTTPRequest
    /// The raw (percent-encoded) segments.
    let name: String
    let key: String
    /// A `PUT`'s body so far; nil before its first byte, and once it is over the limit.
    private(set) var body: ByteBuffer?
    private(set) var bodyTooLarge = false

    init?(head: HTTPRequest, maxBodyBytes: Int) {
        switch head.method {
        case .get, .put, .delete: break
        default: return nil
        }
        guard let path = head.path, head.headerFields[.expect] == nil else { return nil }
        if let declared = head.headerFields[.contentLength], let length = Int(declared), length > maxBodyBytes { return nil }
        var rest = path.utf8[...]
        if let query = rest.firstIndex(of: UInt8(ascii: "?")) { rest = rest[..<query] }
        let prefix = "/v1/maps/".utf8
        guard rest.starts(with: prefix) else { return nil }
        rest = rest.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let name = rest[..<slash]
        rest = rest[rest.index(after: slash)...]
        let entries = "entries/".utf8
        guard rest.starts(with: entries) else { return nil }
        let key = rest.dropFirst(entries.count)
        guard !name.isEmpty, !key.isEmpty, !key.contains(UInt8(ascii: "/")), !key.contains(UInt8(ascii: "#")) else { return nil }
        self.head = head
        self.name = String(decoding: name, as: UTF8.self)
        self.key = String(decoding: key, as: UTF8.self)
    }

    /// Adds a part of the body; a `GET`'s or `DELETE`'s is read and dropped, as the router does.
    mutating func append(_ chunk: ByteBuffer, limit: Int) {
        guard head.method == .put, !bodyTooLarge else { return }
        if body == nil {
            body = chunk
        } else {
            body!.writeImmutableBuffer(chunk)
        }
        if body!.readableBytes > limit {
            bodyTooLarge = true
            body = nil
        }
    }
}

/// The `Date` field of answers, formatted once a second (RFC 9110 IMF-fixdate).
struct HTTPDateCache {
    private var second = -1
    private var text = ""

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func now() -> String {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let seconds = Int(clock.tv_sec)
        if seconds == second { return text }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        text =
            "\(Self.days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(Self.months[Int(parts.tm_mon)]) \(1900 + parts.tm_year) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        second = seconds
        return text
    }
}
