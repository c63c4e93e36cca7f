import Foundation
import MapController
import MapSchema
import Testing

@testable import MapServer

/// The routes' status codes and bodies, over a real server and a real socket, against a
/// table-backed ``ControlPlane``.
@Suite struct RoutesTests {
    static let token = APIToken("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    static let bearer = [("Authorization", "Bearer \(token.value)")]
    static let loopback = APIAuthorization(token: token, requiresTokenForAll: false)

    @Test func healthAndReadinessAnswerWithoutAToken() async throws {
        let plane = TableControlPlane()
        await plane.setReady(false)
        try await withAPIServer(controlPlane: plane, authorization: APIAuthorization(token: Self.token, requiresTokenForAll: true)) {
            port in
            let health = try await RawHTTPClient.request(port: port, method: "GET", path: "/healthz")
            #expect(health.status == 200)
            let notReady = try await RawHTTPClient.request(port: port, method: "GET", path: "/readyz")
            #expect(notReady.status == 503)
            #expect(notReady.errorCode == "not_ready")
            await plane.setReady(true)
            let ready = try await RawHTTPClient.request(port: port, method: "GET", path: "/readyz")
            #expect(ready.status == 200)
        }
    }

    @Test func readinessAlsoWaitsForTheGate() async throws {
        let plane = TableControlPlane()
        let gate = ReadinessGate()
        try await withAPIServer(
            controlPlane: plane, authorization: Self.loopback, configuration: MapctlRoutesConfiguration(readinessGate: gate)
        ) { port in
            let closed = try await RawHTTPClient.request(port: port, method: "GET", path: "/readyz")
            #expect(closed.status == 503)
            gate.open()
            let open = try await RawHTTPClient.request(port: port, method: "GET", path: "/readyz")
            #expect(open.status == 200)
        }
    }

    @Test func entriesArePutReadAndDeletedWithPercentEncodedKeys() async throws {
        let plane = TableControlPlane()
        try await withAPIServer(controlPlane: plane, authorization: Self.loopback) { port in
            let put = try await RawHTTPClient.request(
                port: port, method: "PUT", path: "/v1/maps/users/entries/team%2Fu%201", body: Array(#"{"id":"u1"}"#.utf8))
            #expect(put.status == 204)
            #expect(await plane.maps["users"]?["team/u 1"] == Array(#"{"id":"u1"}"#.utf8))

            let get = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps/users/entries/team%2Fu%201")
            #expect(get.status == 200)
            #expect(get.text == #"{"id":"u1"}"#)
            #expect(get.header("Content-Type")?.hasPrefix("application/json") == true)

            let delete = try await RawHTTPClient.request(port: port, method: "DELETE", path: "/v1/maps/users/entries/team%2Fu%201")
            #expect(delete.status == 204)
            let gone = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps/users/entries/team%2Fu%201")
            #expect(gone.status == 404)
            #expect(gone.errorCode == "key_not_found")
        }
    }

    @Test func badRequestsGetAJSONErrorWithA4xxStatus() async throws {
        let plane = TableControlPlane()
        try await withAPIServer(controlPlane: plane, authorization: Self.loopback) { port in
            let noMap = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps/nope/entries/k")
            #expect(noMap.status == 404)
            #expect(noMap.errorCode == "map_not_found")

            let badValue = try await RawHTTPClient.request(
                port: port, method: "PUT", path: "/v1/maps/users/entries/k", body: Array("{not json".utf8))
            #expect(badValue.status == 400)
            #expect(badValue.errorCode == "bad_value")

            let emptyValue = try await RawHTTPClient.request(port: port, method: "PUT", path: "/v1/maps/users/entries/k")
            #expect(emptyValue.status == 400)

            let badKey = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps/users/entries/%ZZ")
            #expect(badKey.status == 400)
            #expect(badKey.errorCode == "bad_key")

            let unknown = try await RawHTTPClient.request(port: port, method: "GET", path: "/v2/whatever")
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "not_found")

            let wrongMethod = try await RawHTTPClient.request(
                port: port, method: "POST", path: "/v1/maps/users/entries/k", body: Array("1".utf8))
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.header("Allow") == "DELETE, GET, HEAD, PUT")
            #expect(wrongMethod.errorCode == "method_not_allowed")

            let badFlag = try await RawHTTPClient.request(
                port: port, method: "POST", path: "/v1/apply?dry_run=maybe", headers: Self.bearer, body: Array("name: x".utf8))
            #expect(badFlag.status == 400)
            #expect(badFlag.errorCode == "bad_parameter")

            let badRollback = try await RawHTTPClient.request(
                port: port, method: "POST", path: "/v1/maps/users/rollback", headers: Self.bearer, body: Array("[1,2".utf8))
            #expect(badRollback.status == 400)
            #expect(badRollback.errorCode == "bad_body")

            let malformed = try await RawHTTPClient.send(port: port, bytes: Array("GARBAGE\r\n\r\n".utf8))
            #expect((400..<500).contains(malformed.status))

            // The server lives on.
            let health = try await RawHTTPClient.request(port: port, method: "GET", path: "/healthz")
            #expect(health.status == 200)
        }
    }

    @Test func oversizedBodiesGet413AndTheServerLivesOn() async throws {
        let plane = TableControlPlane()
        let limits = MapctlRoutesConfiguration(maxApplyBodyBytes: 1024, maxEntryBodyBytes: 256)
        try await withAPIServer(controlPlane: plane, authorization: Self.loopback, configuration: limits) { port in
            let bigValue = Array("\"\(String(repeating: "x", count: 1000))\"".utf8)
            let put = try await RawHTTPClient.request(port: port, method: "PUT", path: "/v1/maps/users/entries/k", body: bigValue)
            #expect(put.status == 413)
            #expect(put.errorCode == "too_large")

            let apply = try await RawHTTPClient.request(
                port: port, method: "POST", path: "/v1/apply", headers: Self.bearer,
                body: Array(repeating: UInt8(ascii: "a"), count: 2 << 20))
            #expect(apply.status == 413)

            // Chunked, so that the limit is found while reading rather than from Content-Length.
            var chunked = Array(
                "PUT /v1/maps/users/entries/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".utf8)
            for _ in 0..<8 { chunked += Array("40\r\n".utf8) + Array(repeating: UInt8(ascii: "1"), count: 64) + Array("\r\n".utf8) }
            chunked += Array("0\r\n\r\n".utf8)
            let streamed = try await RawHTTPClient.send(port: port, bytes: chunked)
            #expect(streamed.status == 413)

            #expect(await plane.maps["users"]?.isEmpty == true)
            let health = try await RawHTTPClient.request(port: port, method: "GET", path: "/healthz")
            #expect(health.status == 200)
        }
    }

    @Test func applyAndRollbackAlwaysNeedTheToken() async throws {
        let plane = TableControlPlane()
        try await withAPIServer(controlPlane: plane, authorization: Self.loopback) { port in
            let noToken = try await RawHTTPClient.request(port: port, method: "POST", path: "/v1/apply", body: Array("name: users".utf8))
            #expect(noToken.status == 401)
            #expect(noToken.errorCode == "unauthorized")
            #expect(noToken.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)

            let wrongToken = try await RawHTTPClient.request(
                port: port, method: "POST", path: "/v1/maps/users/rollback", headers: [("Authorization", "Bearer 00")], body: [])
            #expect(wrongToken.status == 401)
            #expect(await plane.applied.isEmpty)
            #expect(await plane.rollbacks.isEmpty)

            // On loopback, reads and entries need no token.
            let list = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps")
            #expect(list.status == 200)

            let applied = try await RawHTTPClient.request(
                port: port, method: "POST", path: "/v1/apply?dry_run=true&prune=1",
                headers: Self.bearer + [("X-Mapctl-Client", "alice@laptop")], body: Array("name: users".utf8))
            #expect(applied.status == 200)
            let call = try #require(await plane.applied.first)
            #expect(call.isDryRun && call.prune)
            #expect(call.source == "apply:alice@laptop")
            #expect(applied.json?["dry_run"] as? Bool == true)
        }
    }

    @Test func offLoopbackEveryEndpointButHealthNeedsTheToken() async throws {
        let plane = TableControlPlane()
        let remote = APIAuthorization(token: Self.token, requiresTokenForAll: true)
        try await withAPIServer(controlPlane: plane, authorization: remote) { port in
            for path in ["/v1/maps", "/v1/maps/users", "/v1/maps/users/history", "/v1/maps/users/entries/k", "/metrics"] {
                let denied = try await RawHTTPClient.request(port: port, method: "GET", path: path)
                #expect(denied.status == 401, "\(path)")
            }
            let allowed = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps", headers: Self.bearer)
            #expect(allowed.status == 200)
            let health = try await RawHTTPClient.request(port: port, method: "GET", path: "/healthz")
            #expect(health.status == 200)
        }
    }

    @Test func anOpenBreakerGives503WithRetryAfter() async throws {
        let plane = TableControlPlane()
        await plane.openBreaker(for: .milliseconds(2500))
        try await withAPIServer(controlPlane: plane, authorization: Self.loopback) { port in
            let put = try await RawHTTPClient.request(port: port, method: "PUT", path: "/v1/maps/users/entries/k", body: Array("1".utf8))
            #expect(put.status == 503)
            #expect(put.header("Retry-After") == "3")
            #expect(put.errorCode == "breaker_open")
        }
    }

    @Test func statusListAndHistoryHaveTheShapesOfTheSpec() async throws {
        let plane = TableControlPlane()
        try await withAPIServer(controlPlane: plane, authorization: Self.loopback) { port in
            let list = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps")
            let maps = try #require(list.json?["maps"] as? [[String: Any]])
            #expect(maps.count == 1)
            let status = try #require(maps.first)
            for key in [
                "name", "live_version", "desired_version", "phase", "strategy", "entries", "window_ends_at", "standby_version",
                "quarantined", "breaker", "checks",
            ] {
                #expect(status.keys.contains(key), "\(key)")
            }

            let one = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps/users")
            #expect(one.json?["name"] as? String == "users")
            #expect(one.json?["phase"] as? String == "stable")

            let history = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps/users/history")
            let entries = try #require(history.jsonArray)
            #expect(entries.map { $0["action"] as? String } == ["apply", "promote"])
            #expect(entries.first?["time"] as? String == "2023-11-14T22:13:20Z")
            #expect(entries.first.map { $0.keys.contains("from_version") && $0.keys.contains("content_sha256") } == true)

            let missing = try await RawHTTPClient.request(port: port, method: "GET", path: "/v1/maps/nope/history")
            #expect(missing.status == 404)

            let head = try await RawHTTPClient.request(port: port, method: "HEAD", path: "/v1/maps")
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
        }
    }

    @Test func rollbackPassesTargetAndReason() async throws {
        let plane = TableControlPlane()
        try await withAPIServer(controlPlane: plane, authorization: Self.loopback) { port in
            let response = try await RawHTTPClient.request(
                port: port, method: "POST", path: "/v1/maps/users/rollback", headers: Self.bearer,
                body: Array(#"{"to": "0.9.0", "reason": "bad deploy"}"#.utf8))
            #expect(response.status == 200)
            #expect(response.json?["live_version"] as? String == "0.9.0")
            let call = try #require(await plane.rollbacks.first)
            #expect(call.to == "0.9.0" && call.reason == "bad deploy")

            let bare = try await RawHTTPClient.request(port: port, method: "POST", path: "/v1/maps/users/rollback", headers: Self.bearer)
            #expect(bare.status == 200)
            #expect(await plane.rollbacks.last?.to == nil)
        }
    }

    @Test func anApplyWhereEveryDocumentFailsIs422WithDiagnostics() async throws {
        let plane = TableControlPlane()
        let diagnostic = Diagnostic(file: "apply", line: 3, column: 11, message: "unknown strategy 'shardd' (did you mean 'sharded'?)")
        await plane.setNextReport(ApplyReport(dryRun: false, plan: [PlanEntry(name: "users", action: .invalid, diagnostics: [diagnostic])]))
        try await withAPIServer(controlPlane: plane, authorization: Self.loopback) { port in
            let response = try await RawHTTPClient.request(
                port: port, method: "POST", path: "/v1/apply", headers: Self.bearer, body: Array("x".utf8))
            #expect(response.status == 422)
            #expect(response.errorCode == "invalid_schema")
            let diagnostics = try #require(response.json?["diagnostics"] as? [[String: Any]])
            #expect(diagnostics.first?["line"] as? Int == 3)
            #expect(diagnostics.first?["column"] as? Int == 11)
            #expect(diagnostics.first?["file"] as? String == "apply")
            #expect((diagnostics.first?["message"] as? String)?.contains("shardd") == true)
            #expect(response.json?["report"] != nil)

            // One valid document beside the invalid one: 200, the invalid one in the plan.
            await plane.setNextReport(
                ApplyReport(
                    dryRun: false,
                    plan: [
                        PlanEntry(name: "users", action: .invalid, diagnostics: [diagnostic]),
                        PlanEntry(name: "orders", action: .create, toVersion: "1.0.0"),
                    ]))
            let partial = try await RawHTTPClient.request(
                port: port, method: "POST", path: "/v1/apply", headers: Self.bearer, body: Array("x".utf8))
            #expect(partial.status == 200)
            #expect((partial.json?["plan"] as? [Any])?.count == 2)
        }
    }
}
