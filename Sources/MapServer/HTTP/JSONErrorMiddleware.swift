import HTTPTypes
public import Hummingbird

/// Turns whatever a router throws into the API's JSON error shape.
///
/// The mapctl handlers never throw; this catches the rest: an unknown route (404), a method that no
/// route serves (405, with `Allow` when the path is one of `routes`), a Hummingbird `HTTPError`,
/// anything unexpected (500, logged, never a crash).
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The routes whose `Allow` a 405 names; nil: an unknown method on a route is a 404.
    let routes: MapctlRouteTable?

    public init(routes: MapctlRouteTable? = nil) {
        self.routes = routes
    }

    /// Methods that some route of the API serves; any other is answered 405 wherever it is sent.
    static func isRouted(_ method: HTTPRequest.Method) -> Bool {
        switch method {
        case .get, .head, .post, .put, .delete, .patch, .options: true
        default: false
        }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            if error.status == .notFound, let routes, !Self.isRouted(request.method) {
                var headers = HTTPFields()
                let allow = routes.allow(forPath: request.uri.path)
                if let allow { headers[.allow] = allow }
                return APIResponse.error(
                    .methodNotAllowed, code: "method_not_allowed",
                    message: "\(request.method.rawValue) is not allowed on \(request.uri.path)" + (allow.map { "; allowed: \($0)" } ?? ""),
                    headers: headers)
            }
            if error.status == .notFound {
                return APIResponse.error(
                    .notFound, code: "not_found", message: "no route for \(request.method.rawValue) \(request.uri.path)")
            }
            return APIResponse.error(
                error.status,
                code: Self.code(for: error.status),
                message: error.body ?? error.status.reasonPhrase,
                headers: error.headers
            )
        } catch let error as any HTTPResponseError {
            return APIResponse.error(error.status, code: Self.code(for: error.status), message: "\(error)")
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return APIResponse.error(.internalServerError, code: "internal", message: "internal error")
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 413: "too_large"
        case 503: "unavailable"
        default: status.code < 500 ? "bad_request" : "internal"
        }
    }
}
