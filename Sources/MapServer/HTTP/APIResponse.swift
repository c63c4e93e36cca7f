import Foundation
import Hummingbird
import MapController
import MapSchema
import NIOCore

/// Building the API's responses: JSON bodies, and errors as `{"error": {"code", "message"}}`
/// (plus `"diagnostics"` for schemas) with the right status.
enum APIResponse {
    static let jsonContentType = "application/json; charset=utf-8"

    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        do {
            var data = try makeEncoder().encode(value)
            data.append(UInt8(ascii: "\n"))
            return raw(data, status: status, headers: headers)
        } catch {
            return self.error(.internalServerError, code: "encoding_failed", message: "cannot encode the response: \(error)")
        }
    }

    static func raw(
        _ bytes: some Collection<UInt8>, status: HTTPResponse.Status = .ok, contentType: String = jsonContentType, headers: HTTPFields = [:]
    ) -> Response {
        rawAnswer(bytes, status: status, contentType: contentType, headers: headers).response
    }

    static func rawAnswer(
        _ bytes: some Collection<UInt8>, status: HTTPResponse.Status = .ok, contentType: String = jsonContentType, headers: HTTPFields = [:]
    ) -> APIAnswer {
        var headers = headers
        headers[.contentType] = contentType
        let buffer = ByteBuffer(bytes: bytes)
        headers[.contentLength] = String(buffer.readableBytes)
        return APIAnswer(status: status, headers: headers, body: buffer)
    }

    static func noContent() -> Response {
        Response(status: .noContent)
    }

    /// What ``noContent()`` is as a `Response`: 204 with `Content-Length: 0`.
    static func noContentAnswer() -> APIAnswer {
        APIAnswer(status: .noContent, headers: [.contentLength: "0"], body: ByteBuffer())
    }

    struct ErrorBody: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }

        var error: Detail
        var diagnostics: [Diagnostic]?
        /// The apply report, for a 422 from `POST /v1/apply`.
        var report: ApplyReport?
    }

    static func error(
        _ status: HTTPResponse.Status,
        code: String,
        message: String,
        diagnostics: [Diagnostic] = [],
        report: ApplyReport? = nil,
        headers: HTTPFields = [:]
    ) -> Response {
        errorAnswer(status, code: code, message: message, diagnostics: diagnostics, report: report, headers: headers).response
    }

    static func errorAnswer(
        _ status: HTTPResponse.Status,
        code: String,
        message: String,
        diagnostics: [Diagnostic] = [],
        report: ApplyReport? = nil,
        headers: HTTPFields = [:]
    ) -> APIAnswer {
        let body = ErrorBody(
            error: .init(code: code, message: message), diagnostics: diagnostics.isEmpty ? nil : diagnostics, report: report)
        do {
            var data = try makeEncoder().encode(body)
            data.append(UInt8(ascii: "\n"))
            return rawAnswer(data, status: status, headers: headers)
        } catch {
            // Only strings and integers are encoded above: this cannot fail, but never crash on it.
            return rawAnswer(Array(#"{"error":{"code":"internal","message":"cannot encode an error"}}"#.utf8), status: .internalServerError)
        }
    }

    static func error(_ error: ControlPlaneError) -> Response {
        errorAnswer(error).response
    }

    static func errorAnswer(_ error: ControlPlaneError) -> APIAnswer {
        var headers: HTTPFields = [:]
        if let retryAfter = error.retryAfter {
            headers[.retryAfter] = String(retryAfterSeconds(retryAfter))
        }
        return errorAnswer(
            status(forCode: error.httpStatus),
            code: error.code,
            message: error.message,
            diagnostics: error.diagnostics,
            headers: headers
        )
    }

    static func status(forCode code: Int) -> HTTPResponse.Status {
        switch code {
        case 400: .badRequest
        case 401: .unauthorized
        case 404: .notFound
        case 405: .methodNotAllowed
        case 409: .conflict
        case 413: .contentTooLarge
        case 422: .unprocessableContent
        case 503: .serviceUnavailable
        case 500: .internalServerError
        default: HTTPResponse.Status(code: code)
        }
    }

    /// Whole seconds, rounded up, at least 1: `Retry-After: 0` would invite a busy loop.
    static func retryAfterSeconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let rounded = attoseconds > 0 ? seconds + 1 : seconds
        return max(1, rounded)
    }
}

/// A response as its parts: what a handler returns as a Hummingbird `Response`, and what the entry fast
/// path (``EntryFastPathHandler``) writes to the channel itself.
struct APIAnswer {
    var status: HTTPResponse.Status
    /// `Content-Type` and `Content-Length` included.
    var headers: HTTPFields
    var body: ByteBuffer

    var response: Response {
        Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
    }
}
