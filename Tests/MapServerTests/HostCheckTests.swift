import Foundation
import Testing

@testable import MapServer

/// DNS rebinding: on loopback, where reads and entries need no token, a request is answered only
/// when its `Host` names the loopback (or a name given with `--allowed-host`).
@Suite struct HostCheckTests {
    static let token = APIToken("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    static let loopbackDaemon = APIAuthorization(token: token, listeningOn: "127.0.0.1", allowedHosts: ["maps.internal"])

    @Test func aLoopbackDaemonRefusesAForeignHostOnEveryEndpointButHealth() async throws {
        let plane = TableControlPlane()
        try await withAPIServer(controlPlane: plane, authorization: Self.loopbackDaemon) { port in
            let bearer = [("Authorization", "Bearer \(Self.token.value)")]
            for (method, path, headers) in [
                ("GET", "/v1/maps", [(String, String)]()), ("GET", "/v1/maps/users", []), ("GET", "/v1/maps/users/history", []),
                ("GET", "/metrics", []), ("GET", "/v1/maps/users/entries/k", []), ("PUT", "/v1/maps/users/entries/k", []),
                ("DELETE", "/v1/maps/users/entries/k", []), ("POST", "/v1/apply", bearer), ("POST", "/v1/maps/users/rollback", bearer),
            ] {
                let body = method == "PUT" ? Array("1".utf8) : []
                for host in ["attacker.example", "attacker.example:\(port)", "127.0.0.1.nip.io:\(port)", "localhost.attacker.example"] {
                    let response = try await RawHTTPClient.request(
                        port: port, method: method, path: path, headers: headers, body: body, host: host)
                    #expect(response.status == 403, "\(method) \(path) Host \(host): \(response)")
                    #expect(response.errorCode == "host_not_allowed", "\(response)")
                    #expect(response.header("Content-Type")?.hasPrefix("application/json") == true)
                }
            }
            #expect(await plane.maps["users"]?["k"] == nil, "a refused PUT must not write")
            #expect(await plane.applied.isEmpty, "a refused apply must not apply")
            // Probes: health answers whatever the Host (a Kubernetes probe sends the pod IP).
            for path in ["/healthz", "/readyz"] {
                let response = try await RawHTTPClient.request(port: port, method: "GET", path: path, host: "10.1.2.3:\(port)")
                #expect(response.status == 200, "\(path): \(response)")
            }
        }
    }

    @Test func loopbackNamesAndAllowedHostsAreAnswered() async throws {
        let plane = TableControlPlane()
        try await withAPIServer(controlPlane: plane, authorization: Self.loopbackDaemon) { port in
            for host in [
                "127.0.0.1:\(port)", "127.0.0.1", "127.3.4.5:\(port)", "localhost:\(port)", "LOCALHOST", "localhost.",
                "[::1]:\(port)", "[::1]", "maps.internal", "Maps.Internal:\(port)",
            ] {
                let response = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps", host: host)
                #expect(response.status == 200, "Host \(host): \(response)")
            }
        }
    }

    @Test func aRequestWithTwoHostFieldsIsRefused() async throws {
        let plane = TableControlPlane()
        try await withAPIServer(controlPlane: plane, authorization: Self.loopbackDaemon) { port in
            let response = try await RawHTTPClient.request(
                port: port, method: "GET", path: "/v1/maps", headers: [("Host", "attacker.example")], host: "127.0.0.1:\(port)")
            #expect(response.status == 403 || response.status == 400, "\(response)")
        }
    }

    @Test func offLoopbackTheHostIsNotCheckedButTheTokenIs() async throws {
        let remote = APIAuthorization(token: Self.token, listeningOn: "0.0.0.0")
        #expect(remote.hosts == nil)
        #expect(remote.permits(hostHeader: "anything.example", requirement: .offLoopback))
        let plane = TableControlPlane()
        try await withAPIServer(controlPlane: plane, authorization: remote) { port in
            let bearer = [("Authorization", "Bearer \(Self.token.value)")]
            let withToken = try await RawHTTPClient.request(
                port: port, method: "GET", path: "/v1/maps", headers: bearer, host: "10.1.2.3:7468")
            #expect(withToken.status == 200, "\(withToken)")
            let without = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps", host: "10.1.2.3:7468")
            #expect(without.status == 401)
        }
    }

    @Test func hostValuesParseToTheirNames() {
        #expect(HostAllowList.hostName(ofHeader: "Example.COM:80") == "example.com")
        #expect(HostAllowList.hostName(ofHeader: "[::1]:7468") == "::1")
        #expect(HostAllowList.hostName(ofHeader: "localhost.") == "localhost")
        #expect(HostAllowList.hostName(ofHeader: "") == nil)
        #expect(HostAllowList.hostName(ofHeader: "a:b") == nil)
        #expect(HostAllowList.hostName(ofHeader: "::1") == nil)
        #expect(HostAllowList.hostName(ofHeader: "user@host") == nil)
        #expect(!HostAllowList().permits(hostHeader: "127.0.0.1.evil"))
        #expect(!HostAllowList().permits(hostHeader: "0x7f.0.0.1"))
        #expect(HostAllowList().permits(hostHeader: nil), "HTTP/1.0 without Host: browsers always send one")
    }

    /// The byte-level shortcut for plain loopback values only ever accepts what the full parse accepts, and
    /// takes the values local clients send.
    @Test func thePlainLoopbackShortcutAcceptsOnlyWhatTheFullParseAccepts() {
        let list = HostAllowList()
        for value in ["127.0.0.1", "127.0.0.1:8080", "127.1.2.3:", "127.255.255.255:1", "localhost", "localhost:17468", "127.000.0.01"] {
            #expect(HostAllowList.isPlainLoopback(value), "\(value)")
        }
        for value in [
            "", ":80", "127.0.0.1.", "127.0.0.256", "127.0.0", "127.0.0.1.1", "128.0.0.1", "0127.0.0.1", "127..0.1", "127.0.0.1:8a",
            "127.0.0.1:80:90", " 127.0.0.1", "LOCALHOST", "localhost.", "[::1]:80", "127.0.0.1\r", "127.0.0.1/x", "localhost@x",
        ] {
            #expect(!HostAllowList.isPlainLoopback(value), "\(value)")
        }
        // Random values near the accepted forms (dotted quads with octets up to 300, ports, one character
        // replaced or inserted) and over the characters that matter: whatever the shortcut accepts, the full
        // parse accepts too.
        let alphabet = Array("0123456789.:127loca hst[]@/\t")
        var random = SystemRandomNumberGenerator()
        var accepted = 0
        for _ in 0..<100_000 {
            var value: [Character]
            if Bool.random(using: &random) {
                let octets = (0..<3).map { _ in String(Int.random(in: 0...300, using: &random)) }
                var text = "127." + octets.joined(separator: ".")
                switch Int.random(in: 0..<3, using: &random) {
                case 0: text += ":\(Int.random(in: 0...99_999, using: &random))"
                case 1: text += ":"
                default: break
                }
                value = Array(text)
                if Int.random(in: 0..<3, using: &random) == 0 {
                    let position = Int.random(in: 0...value.count, using: &random)
                    let character = alphabet.randomElement(using: &random)!
                    if position < value.count, Bool.random(using: &random) {
                        value[position] = character
                    } else {
                        value.insert(character, at: position)
                    }
                }
            } else {
                value = (0..<Int.random(in: 0..<16, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            }
            let text = String(value)
            if HostAllowList.isPlainLoopback(text) {
                accepted += 1
                #expect(HostAllowList.hostName(ofHeader: text).map(APIAuthorization.isLoopback) == true, "\(text)")
                #expect(list.permits(hostHeader: text), "\(text)")
            }
        }
        #expect(accepted > 5_000)
    }
}
