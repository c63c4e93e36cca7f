import Hummingbird
import Synchronization

/// The mapctl routes and the methods each serves, for answering a method that no route has.
///
/// The router answers an unknown method (`TRACE`, `PROPFIND`, …) as if the path did not exist;
/// ``JSONErrorMiddleware`` asks this table instead, and answers 405 with `Allow` when the path is a
/// route. ``addMapctlRoutes(to:controlPlane:authorization:configuration:routeTable:)`` fills it.
public final class MapctlRouteTable: Sendable {
    private struct Route {
        /// Path segments as `RouterPath` prints them; a parameter (`{name}`) matches any segment.
        var segments: [Substring]
        var allow: String
    }

    private let routes = Mutex<[Route]>([])

    public init() {}

    /// Records that `path`, the pattern the router was given (`/v1/maps/:name`), serves the methods in `allow`.
    func add(_ path: RouterPath, allow: String) {
        let segments = path.components.map { Substring($0.description) }
        routes.withLock { $0.append(Route(segments: segments, allow: allow)) }
    }

    /// The `Allow` value for a request path, or nil when no route matches it.
    public func allow(forPath path: String) -> String? {
        let segments = path.split(separator: "/")
        return routes.withLock { routes in
            routes.first { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { pattern, segment in
                        pattern.hasPrefix("{") || pattern == segment
                    }
            }?.allow
        }
    }
}
