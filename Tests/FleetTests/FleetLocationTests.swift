import Fleet
import Foundation
import Testing

@Suite("Fleet location (--fleet URL)")
struct FleetLocationTests {
    @Test("TCP URLs: user, password, host, port, database, both schemes")
    func tcp() throws {
        let full = try FleetLocation(parsing: "postgres://mapctl:s%40cret@db.example:6432/fleet")
        #expect(full.endpoint == .tcp(host: "db.example", port: 6432))
        #expect(full.user == "mapctl")
        #expect(full.password == "s@cret")
        #expect(full.database == "fleet")
        #expect(full.tls == .prefer)
        #expect(full.description == "postgres://mapctl:***@db.example:6432/fleet")

        let plain = try FleetLocation(parsing: "postgresql://app@10.0.0.7/maps?sslmode=disable")
        #expect(plain.endpoint == .tcp(host: "10.0.0.7", port: 5432))
        #expect(plain.password == nil)
        #expect(plain.tls == .disable)
        #expect(plain.description == "postgresql://app@10.0.0.7/maps?sslmode=disable")

        let ipv6 = try FleetLocation(parsing: "postgres://u@[::1]:5433/d?sslmode=verify-full")
        #expect(ipv6.endpoint == .tcp(host: "::1", port: 5433))
        #expect(ipv6.tls == .verifyFull)
    }

    @Test("Unix sockets: host=DIR names the directory, the port names the socket file")
    func socket() throws {
        let location = try FleetLocation(parsing: "postgresql:///fleet?host=/run/postgresql")
        #expect(location.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432"))
        #expect(location.tls == .disable)
        #expect(!location.user.isEmpty)

        let named = try FleetLocation(parsing: "postgresql://postgres@/maps?host=/tmp/pg-1/&port=6000&user=other")
        #expect(named.endpoint == .unixSocket(path: "/tmp/pg-1/.s.PGSQL.6000"))
        #expect(named.user == "other")
        #expect(named.database == "maps")

        let defaultDirectory = try FleetLocation(parsing: "postgres:///maps")
        #expect(defaultDirectory.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432"))
    }

    @Test("A password in a parameter is redacted too")
    func redaction() throws {
        let location = try FleetLocation(parsing: "postgres://u@h/d?password=hunter2&sslmode=require")
        #expect(location.password == "hunter2")
        #expect(location.description == "postgres://u@h/d?password=***&sslmode=require")
        #expect(!"\(location)".contains("hunter2"))
    }

    @Test(
        "Bad URLs are refused with a reason, never with the password",
        arguments: [
            ("mysql://u@h/d", "scheme"),
            ("postgres://u:pw@h/", "no database"),
            ("postgres://u:pw@h:99999/d", "port"),
            ("postgres://u:pw@h:abc/d", "port"),
            ("postgres://u@h/d?colour=blue", "unknown parameter 'colour'"),
            ("postgres://u@h/d?sslmode=sometimes", "sslmode"),
            ("postgres:///d?host=/run/postgresql&sslmode=require", "Unix socket"),
            ("db.example:5432/fleet", "not a URL"),
            ("postgres://u@[::1/d", "IPv6"),
            ("postgres://u@h/d%zz", "percent"),
        ]
    )
    func refused(url: String, reason: String) {
        do throws(FleetError) {
            _ = try FleetLocation(parsing: url)
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.code == .badLocation)
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(!error.message.contains("pw@"))
        }
    }
}
