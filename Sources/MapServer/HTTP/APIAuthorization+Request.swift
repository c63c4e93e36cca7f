import HTTPTypes

extension APIAuthorization {
    /// A second `Host` field: the first one is the request's authority.
    static var hostField: HTTPField.Name { HTTPField.Name("Host")! }

    /// The answer that refuses `request`, or nil when it may pass: the `Host` check first (loopback only,
    /// against DNS rebinding), then the token check. One check for the routed handlers and the entry fast
    /// path.
    func denial(of request: HTTPRequest, _ requirement: Requirement) -> APIAnswer? {
        let host = request.authority
        let extraHostFields = request.headerFields[values: Self.hostField].count
        if extraHostFields > 0 || !permits(hostHeader: host, requirement: requirement) {
            let shown = extraHostFields > 0 ? "several Host headers" : "Host '\(host ?? "")'"
            return APIResponse.errorAnswer(
                .forbidden,
                code: "host_not_allowed",
                message: "\(shown) is not a loopback name or address; a daemon on loopback answers only localhost, "
                    + "127.0.0.0/8 and [::1], and the names given with --allowed-host"
            )
        }
        let authorization = request.headerFields[.authorization]
        guard !permits(authorizationHeader: authorization, requirement: requirement) else { return nil }
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = #"Bearer realm="mapctl""#
        let message =
            authorization == nil
            ? "this endpoint needs 'Authorization: Bearer TOKEN'; the token is in the daemon's state directory (STATE/token)"
            : "the bearer token does not match STATE/token"
        return APIResponse.errorAnswer(.unauthorized, code: "unauthorized", message: message, headers: headers)
    }
}
