import Foundation
import MapController
import MapSchema

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A small HTTP client for the controller's API.
///
/// Every failure is a ``CommandFailure`` that carries the exit code mapctl promises:
/// a connection that cannot be made is 69, an error answer from the server is 1
/// with the server's own message and diagnostics.
struct ControllerClient: Sendable {
    /// The server as the user gave it, without a trailing slash.
    let baseURL: String
    let token: String?
    /// The time limit of a whole request (connect, send, every redirect, the whole answer).
    var timeout: TimeInterval = Self.defaultTimeout

    init(baseURL: String, token: String?) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.token = token
    }

    /// An answer of the server.
    struct Response: Sendable {
        var status: Int
        var body: Data
        var isSuccess: Bool { (200..<300).contains(status) }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One path segment, percent-encoded so that any key (with `/`, `%`, spaces, `..`) reaches the server intact.
    static func pathSegment(_ raw: String) -> String {
        var allowed = CharacterSet()
        allowed.insert(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        var encoded = raw.addingPercentEncoding(withAllowedCharacters: allowed) ?? raw
        // "." and ".." would be removed as dot segments on the way.
        if encoded == "." || encoded == ".." { encoded = encoded.replacingOccurrences(of: ".", with: "%2E") }
        return encoded
    }

    /// `USER@HOST` of the person or script running the command.
    static let clientName: String = {
        let environment = ProcessInfo.processInfo.environment
        let user = environment["USER"] ?? environment["LOGNAME"] ?? NSUserName()
        return "\(user)@\(ProcessInfo.processInfo.hostName)"
    }()

    /// The largest answer read (64 MiB): a larger one fails without being read whole.
    static let maxResponseBytes = 64 << 20
    /// Redirects followed before giving up.
    static let maxRedirects = 5

    /// Sends one request; returns any HTTP answer, throws only when no answer came.
    ///
    /// The whole exchange, redirects included, must end within `timeout` (or `self.timeout`).
    /// Redirects are followed up to ``maxRedirects``; the token goes only to the origin (scheme,
    /// host, port) of `baseURL`, never to another one a redirect names.
    func send(
        _ method: String, _ path: String, query: [String: String] = [:], body: Data? = nil,
        contentType: String? = nil, timeout: TimeInterval? = nil
    ) async throws -> Response {
        var text = baseURL + path
        if !query.isEmpty {
            text += "?" + query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        }
        guard var url = URL(string: text), let origin = Origin(url) else {
            throw CommandFailure("bad server URL '\(text)'", exitCode: ExitStatus.usage)
        }
        let limit = timeout ?? self.timeout
        let deadline = ContinuousClock.now + .milliseconds(Int64(limit * 1000))
        var method = method
        var body = body
        var contentType = contentType
        for _ in 0...Self.maxRedirects {
            var headers: [(name: String, value: String)] = [
                ("Accept", "application/json"), ("User-Agent", "mapctl"),
                // History records who applied: `apply:USER@HOST`.
                ("X-Mapctl-Client", Self.clientName),
            ]
            if let token, Origin(url) == origin { headers.append(("Authorization", "Bearer \(token)")) }
            if let contentType { headers.append(("Content-Type", contentType)) }
            let response = try await exchange(method, url, headers: headers, body: body, deadline: deadline, seconds: limit)
            guard [301, 302, 303, 307, 308].contains(response.status), let location = response.location,
                let next = URL(string: location, relativeTo: url)?.absoluteURL, Origin(next) != nil
            else {
                return Response(status: response.status, body: response.body)
            }
            if response.status == 303 && method != "HEAD" {
                method = "GET"
                body = nil
                contentType = nil
            }
            url = next
        }
        throw CommandFailure("the controller at \(baseURL) redirected more than \(Self.maxRedirects) times")
    }

    /// Scheme, host and port: where a token may go.
    struct Origin: Equatable {
        var scheme: String
        var host: String
        var port: Int

        init?(_ url: URL) {
            guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
                return nil
            }
            self.scheme = scheme
            self.host = host.lowercased()
            self.port = url.port ?? (scheme == "https" ? 443 : 80)
        }
    }

    /// One exchange without following redirects: plain sockets for http, URLSession for https.
    private func exchange(
        _ method: String, _ url: URL, headers: [(name: String, value: String)], body: Data?,
        deadline: ContinuousClock.Instant, seconds: TimeInterval
    ) async throws -> (status: Int, location: String?, body: Data) {
        guard let origin = Origin(url) else { throw CommandFailure("bad server URL '\(url)'", exitCode: ExitStatus.usage) }
        if origin.scheme == "https" {
            return try await TLSExchange.run(method, url, headers: headers, body: body, deadline: deadline, maxBytes: Self.maxResponseBytes)
        }
        var host = origin.host
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var target = url.path.isEmpty ? "/" : url.path
        if let encodedPath = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath, !encodedPath.isEmpty {
            target = encodedPath
        }
        if let query = url.query { target += "?" + query }
        let request = PlainHTTPClient.Request(method: method, host: host, port: origin.port, target: target, headers: headers, body: body)
        do {
            let response = try await PlainHTTPClient.exchange(request, deadline: deadline, maxBodyBytes: Self.maxResponseBytes)
            return (response.status, response.header("Location"), response.body)
        } catch {
            throw describe(error, seconds: seconds)
        }
    }

    private func describe(_ error: PlainHTTPClient.Failure, seconds: TimeInterval) -> CommandFailure {
        switch error {
        case .cannotConnect(let reason): .unreachable(server: baseURL, reason: reason.lowercased())
        case .hostNotFound: .unreachable(server: baseURL, reason: "host not found")
        case .timedOut:
            .unreachable(server: baseURL, reason: "no complete answer within \(Self.shown(seconds)); MAPCTL_TIMEOUT sets the limit")
        case .connectionLost: .unreachable(server: baseURL, reason: "connection lost")
        case .tooLarge(let bytes):
            CommandFailure(
                "the controller at \(baseURL) sent an answer over \(bytes >> 20 > 0 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"); not read"
            )
        case .malformed(let reason): CommandFailure("the controller at \(baseURL) sent an answer that is not valid HTTP: \(reason)")
        }
    }

    static func shown(_ seconds: TimeInterval) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }

    /// The default time limit of one request: `MAPCTL_TIMEOUT` (a duration such as 30s) or 60 s.
    static var defaultTimeout: TimeInterval {
        guard let text = ProcessInfo.processInfo.environment["MAPCTL_TIMEOUT"], let duration = try? GoDuration.parse(text), duration > .zero
        else { return 60 }
        return duration.seconds
    }

    /// Sends a request and returns the body of a 2xx answer; any other answer becomes a ``CommandFailure``.
    func expectSuccess(
        _ method: String, _ path: String, query: [String: String] = [:], body: Data? = nil, contentType: String? = nil
    ) async throws -> Data {
        let response = try await send(method, path, query: query, body: body, contentType: contentType)
        guard response.isSuccess else { throw Self.failure(from: response) }
        return response.body
    }

    /// ``expectSuccess(_:_:query:body:contentType:)`` for an answer that must be one JSON value (an entry):
    /// anything else is a failure, never printed as if it were the value.
    func expectJSON(_ method: String, _ path: String) async throws -> Data {
        let data = try await expectSuccess(method, path)
        guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else {
            let shown = String(decoding: data.prefix(200), as: UTF8.self)
            throw CommandFailure("the controller at \(baseURL) answered with a body that is not JSON: \(shown)")
        }
        return data
    }

    /// The server's `{"error": {"code", "message"}, "diagnostics": [...]}` as a failure with exit code 1.
    static func failure(from response: Response) -> CommandFailure {
        guard let body = try? JSONDecoder().decode(ErrorBody.self, from: response.body) else {
            let text = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
            return CommandFailure("the controller answered \(response.status)" + (text.isEmpty ? "" : ": \(text)"))
        }
        var diagnostics = body.diagnostics ?? body.error.diagnostics ?? []
        if diagnostics.isEmpty, let plan = try? decoder.decode(ApplyReport.self, from: response.body) {
            diagnostics = plan.plan.flatMap(\.diagnostics)
        }
        return CommandFailure(body.error.message, details: diagnostics.map(\.description))
    }

    /// The API's error shape, `{"error": {"code", "message"}}`. Diagnostics are accepted at the top level and inside `error`.
    struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var code: String
            var message: String
            var diagnostics: [Diagnostic]?
        }
        var error: Detail
        var diagnostics: [Diagnostic]?
    }

    /// A decoder for the API's JSON: RFC 3339 times with or without fractional seconds.
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            if let seconds = try? container.decode(Double.self) { return Date(timeIntervalSince1970: seconds) }
            let text = try container.decode(String.self)
            if let date = RFC3339.parse(text) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time: \(text)")
        }
        return decoder
    }()

    /// Decodes a 2xx body, with a clear message when the server's shape is not the expected one.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try decoder.decode(type, from: data)
        } catch {
            throw CommandFailure("unexpected answer from the controller (\(error)): \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
    }
}

/// RFC 3339 times as the API writes them.
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: text) { return date }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return plain.date(from: text)
    }

    /// Local time, to the second, for tables a person reads.
    static func display(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }
}
