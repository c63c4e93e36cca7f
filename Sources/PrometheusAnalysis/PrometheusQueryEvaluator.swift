import AsyncHTTPClient
import Foundation
public import Logging
public import MapSchema
import NIOCore
public import Rollout
import Synchronization

/// Runs a rollout's `queries` as instant queries against a Prometheus server (SPEC §8.1).
///
/// Each query is `GET BASE/api/v1/query?query=…` with `{{map}}` and `{{version}}` replaced. A scalar or a
/// one-element vector is judged against the query's `max` and `min`; anything else (no data, several
/// series, NaN, an error status, a server that does not answer within ``timeout``, a body over
/// ``maxResponseBytes``) makes that query inconclusive for the interval, with the error.
///
/// The evaluator owns its `HTTPClient`: call ``shutdown()`` once it is no longer used.
public final class PrometheusQueryEvaluator: RolloutQueryEvaluating {
    /// The server's base URL as given (`--prometheus`), without a trailing `/`.
    public let baseURL: String
    /// The longest a query may take, connection included.
    public let timeout: Duration
    /// A larger answer is refused (an instant query for one number is a few hundred bytes).
    public let maxResponseBytes: Int
    private let client: HTTPClient
    private let logger: Logger
    private let isShutDown = Mutex(false)

    /// - Parameters:
    ///   - baseURL: `http://` or `https://` URL of the Prometheus server, optionally with a path prefix.
    ///   - timeout: Per query; keep it below the rollouts' intervals (a check waits for its queries).
    ///   - maxResponseBytes: Larger answers are refused.
    ///   - logger: Where failed queries are logged (debug), with the expression sent.
    /// - Throws: ``PrometheusURLError`` when `baseURL` is not a usable http(s) URL.
    public init(
        baseURL: String, timeout: Duration = .seconds(2), maxResponseBytes: Int = 1 << 20,
        logger: Logger = Logger(label: "mapctl.prometheus")
    ) throws(PrometheusURLError) {
        self.baseURL = try Self.validate(baseURL)
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        let nanoseconds = Self.nanoseconds(timeout)
        configuration.timeout = HTTPClient.Configuration.Timeout(
            connect: .nanoseconds(nanoseconds), read: .nanoseconds(nanoseconds))
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Closes the client's connections, when no evaluation is running or will run. Later calls do nothing.
    public func shutdown() async {
        guard markShutDown() else { return }
        do {
            try await client.shutdown()
        } catch {
            logger.warning("could not shut the Prometheus client down", metadata: ["error": "\(error)"])
        }
    }

    // An owner that returns early by an error need not await ``shutdown()``: the client is shut down
    // in the background (it keeps itself alive meanwhile), never left running.
    deinit {
        if markShutDown() { client.shutdown { _ in } }
    }

    /// True for the first caller only.
    private func markShutDown() -> Bool {
        isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
    }

    /// `url` without a trailing `/`, when it is an `http` or `https` URL with a host and no query or fragment.
    public static func validate(_ url: String) throws(PrometheusURLError) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https"
        else { throw PrometheusURLError(url: url, problem: "expected an http:// or https:// URL") }
        guard let host = components.host, !host.isEmpty else { throw PrometheusURLError(url: url, problem: "the URL has no host") }
        guard components.query == nil, components.fragment == nil else {
            throw PrometheusURLError(url: url, problem: "give the server's base URL, without a query or fragment")
        }
        guard components.user == nil, components.password == nil else {
            throw PrometheusURLError(url: url, problem: "credentials in the URL are not supported")
        }
        var trimmed = Substring(url)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }

    public func evaluate(_ queries: [RolloutQuery], map: String, version: String) async -> [RolloutQueryOutcome] {
        await withTaskGroup(of: (Int, RolloutQueryOutcome).self) { group in
            for (index, query) in queries.enumerated() {
                group.addTask { (index, await self.evaluate(query, map: map, version: version)) }
            }
            var outcomes = [RolloutQueryOutcome?](repeating: nil, count: queries.count)
            for await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes.compactMap { $0 }
        }
    }

    /// One query's outcome; failures come back inconclusive, with the error (logged at debug with the expression).
    public func evaluate(_ query: RolloutQuery, map: String, version: String) async -> RolloutQueryOutcome {
        let expression = query.expression(map: map, version: version)
        let outcome: RolloutQueryOutcome
        switch await value(of: expression) {
        case .success(let value): outcome = .judging(value, for: query)
        case .failure(let error): outcome = .inconclusive(query.name, error: error.message)
        }
        if let error = outcome.error {
            // At debug: the controller logs each inconclusive query once, at warning, for any evaluator.
            logger.debug(
                "rollout query inconclusive",
                metadata: [
                    "map": .string(map), "version": .string(version), "query": .string(query.name),
                    "expression": .string(expression), "error": .string(error),
                ])
        }
        return outcome
    }

    /// The single number an instant query answers, or why there is none.
    func value(of expression: String) async -> Result<Double, PrometheusResponse.AnswerError> {
        let url = baseURL + "/api/v1/query?query=" + Self.percentEncoded(expression)
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let body: ByteBuffer
        let status: UInt
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Self.nanoseconds(timeout)), logger: logger)
            status = response.status.code
            body = try await response.body.collect(upTo: maxResponseBytes)
        } catch let error as NIOTooManyBytesError {
            return .failure(.init("Prometheus answered more than \(error.maxBytes.map(String.init) ?? "\(maxResponseBytes)") bytes"))
        } catch {
            return .failure(.init("cannot query Prometheus at \(baseURL): \(Self.describe(error))"))
        }
        let decoded: PrometheusResponse
        do {
            decoded = try JSONDecoder().decode(PrometheusResponse.self, from: Data(body.readableBytesView))
        } catch {
            let kind = (200..<300).contains(status) ? "an answer it could not read" : "HTTP \(status)"
            return .failure(
                .init("Prometheus at \(baseURL) gave \(kind): \(String(decoding: body.readableBytesView.prefix(200), as: UTF8.self))"))
        }
        return decoded.singleValue()
    }

    /// A URL query value: everything but RFC 3986 unreserved characters is percent-encoded (`+` too).
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count * 3)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return out
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Transport errors as people read them: `connection refused`, `timed out after 2s`.
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "timed out (\(error))"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }
}

/// `--prometheus` is not a usable base URL.
public struct PrometheusURLError: Error, Sendable, CustomStringConvertible {
    public var url: String
    public var problem: String
    public var description: String { "invalid Prometheus URL '\(url)': \(problem)" }
}
