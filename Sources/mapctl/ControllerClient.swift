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
    var timeout: TimeInterval = 60

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

    /// Sends one request; returns any HTTP answer, throws only when no answer came.
    func send(
        _ method: String, _ path: String, query: [String: String] = [:], body: Data? = nil,
        contentType: String? = nil, timeout: TimeInterval? = nil
    ) async throws -> Response {
        var text = baseURL + path
        if !query.isEmpty {
            text += "?" + query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        }
        guard let url = URL(string: text) else {
            throw CommandFailure("bad server URL '\(text)'", exitCode: ExitStatus.usage)
        }
        var request = URLRequest(url: url, timeoutInterval: timeout ?? self.timeout)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue("mapctl", forHTTPHeaderField: "User-Agent")
        // History records who applied: `apply:USER@HOST`.
        request.setValue(Self.clientName, forHTTPHeaderField: "X-Mapctl-Client")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        request.httpBody = body
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout ?? self.timeout
        configuration.httpShouldSetCookies = false
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        do {
            let (data, response) = try await session.data(for: request)
            guard let http = response as? HTTPURLResponse else {
                throw CommandFailure("the controller at \(baseURL) sent an answer that is not HTTP")
            }
            return Response(status: http.statusCode, body: data)
        } catch let error as URLError {
            throw CommandFailure.unreachable(server: baseURL, reason: Self.describe(error))
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure.unreachable(server: baseURL, reason: "\(error)")
        }
    }

    /// Sends a request and returns the body of a 2xx answer; any other answer becomes a ``CommandFailure``.
    func expectSuccess(
        _ method: String, _ path: String, query: [String: String] = [:], body: Data? = nil, contentType: String? = nil
    ) async throws -> Data {
        let response = try await send(method, path, query: query, body: body, contentType: contentType)
        guard response.isSuccess else { throw Self.failure(from: response) }
        return response.body
    }

    private static func describe(_ error: URLError) -> String {
        switch error.code {
        case .cannotConnectToHost: "connection refused"
        case .cannotFindHost, .dnsLookupFailed: "host not found"
        case .timedOut: "timed out"
        case .networkConnectionLost: "connection lost"
        case .notConnectedToInternet: "network unreachable"
        default: error.localizedDescription
        }
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
