import MapController

/// Reading a request's parts the same way in the routed handlers and the entry fast path.
enum APIInput {
    static func pathSegment(_ raw: String?, what: String) throws(ControlPlaneError) -> String {
        guard let raw, !raw.isEmpty else {
            throw ControlPlaneError(.badRequest, code: what == "key" ? "bad_key" : "bad_name", message: "the \(what) is missing")
        }
        guard let decoded = PercentEncoding.decode(raw), !decoded.isEmpty else {
            throw ControlPlaneError(
                .badRequest,
                code: what == "key" ? "bad_key" : "bad_name",
                message: "the \(what) '\(raw)' is not a valid percent-encoded UTF-8 path segment"
            )
        }
        return decoded
    }

    /// A `PUT` of an entry with no body.
    static var emptyValue: ControlPlaneError {
        ControlPlaneError(
            .badRequest, code: "bad_value", message: "the body must be the value as JSON (42, \"text\", {\"id\": \"u1\"}); it is empty")
    }

    static func tooLarge(_ limit: Int) -> APIAnswer {
        APIResponse.errorAnswer(.contentTooLarge, code: "too_large", message: "the request body is over the limit of \(limit) bytes")
    }
}
