import Testing

@testable import MapServer

/// The small pure parts of the daemon's HTTP server.
@Suite("HTTP server parts")
struct HTTPServerPartsTests {
    @Test("the default connection cap keeps half of the descriptors past 64 for the rest of the daemon")
    func defaultCap() {
        #expect(HTTPConnectionLimits.defaultMaxConnections(openFileLimit: 1024) == 480)
        #expect(HTTPConnectionLimits.defaultMaxConnections(openFileLimit: 256) == 96)
        #expect(HTTPConnectionLimits.defaultMaxConnections(openFileLimit: 64) == 16)
        #expect(HTTPConnectionLimits.defaultMaxConnections(openFileLimit: .max) == ((1 << 20) - 64) / 2)
        #expect(HTTPConnectionLimits().effectiveMaxConnections >= 16)
    }

    @Test("the route table answers Allow for the patterns it was given, and nil elsewhere")
    func routeTable() {
        let table = MapctlRouteTable()
        table.add("/v1/maps", allow: "GET, HEAD")
        table.add("/v1/maps/:name/entries/:key", allow: "DELETE, GET, HEAD, PUT")
        #expect(table.allow(forPath: "/v1/maps") == "GET, HEAD")
        #expect(table.allow(forPath: "/v1/maps/a/entries/b") == "DELETE, GET, HEAD, PUT")
        #expect(table.allow(forPath: "/v1/maps/a/entries") == nil)
        #expect(table.allow(forPath: "/elsewhere") == nil)
    }
}
