import Foundation
import TestServers
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's HTTP server lets no client hold a connection, or a descriptor, for nothing, and answers
/// every malformed or unexpected request with the API's JSON error (issue 11, item 8).
@Suite("mapctl watch: HTTP connection hygiene", .serialized, .heavy)
struct HTTPConnectionHygieneTests {
    @Test("an idle connection is closed after --idle-timeout; a slow request head gets 408 after --header-timeout")
    func timeouts() async throws {
        let session = try await Session.start(arguments: ["--idle-timeout", "2s", "--header-timeout", "1s"])
        defer { session.layout.remove() }
        let port = try #require(URL(string: session.daemon.url)?.port)

        // Nothing sent: closed by the idle timeout, without an answer.
        let silent = try await HTTPWire.exchange(port: port, "", timeoutSeconds: 15)
        #expect(silent.closed, "the server must close a connection that sends nothing")
        #expect(silent.responses.isEmpty)
        #expect(silent.seconds >= 1.5 && silent.seconds < 8, "closed after \(silent.seconds) s; --idle-timeout is 2s")

        // One request, then nothing: answered, kept open for the next one, then closed when idle.
        let keptAlive = try await HTTPWire.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", timeoutSeconds: 15)
        #expect(keptAlive.responses.map(\.status) == [200])
        #expect(keptAlive.closed && keptAlive.seconds >= 1.5 && keptAlive.seconds < 8, "\(keptAlive.seconds) s")

        // Half a head: 408 with a JSON body after the header timeout, long before the idle one.
        let partial = try await HTTPWire.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n", timeoutSeconds: 15)
        #expect(partial.responses.map(\.status) == [408], "\(partial.responses)")
        #expect(partial.responses.first?.errorCode == "request_timeout", "\(partial.responses)")
        #expect(partial.responses.first?.header("connection") == "close")
        #expect(partial.closed && partial.seconds >= 0.8 && partial.seconds < 6, "\(partial.seconds) s")

        // A head sent a byte at a time, each within the idle timeout: the header timeout still counts from
        // the first byte, so dripping cannot hold the connection.
        let drip = try await onOwnThread {
            let fd = try RawSocket.connect(port: port, timeoutSeconds: 15)
            defer { close(fd) }
            let start = ContinuousClock.now
            var sent = 0
            for byte in Array("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8) {
                // Stop once the server has answered: bytes sent after its close would reset the connection.
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&ready, 1, 0) > 0 { break }
                if (try? RawSocket.sendAll(fd, [byte])) == nil { break }
                sent += 1
                Thread.sleep(forTimeInterval: 0.2)
                if ContinuousClock.now - start > .seconds(10) { break }
            }
            let reader = HTTPWire.Reader(fd: fd)
            let response = reader.next()
            return (response, reader.waitForClose(), sent)
        }
        #expect(drip.0?.status == 408, "\(String(describing: drip.0))")
        #expect(drip.1, "closed after the 408")
        #expect(drip.2 < 25, "the server stopped the drip after \(drip.2) bytes at 5 per second")

        #expect(try await session.mapctl(["status"]).exitCode == 0, "the daemon serves on")
        #expect(try await session.daemon.stop().exitCode == 0)
    }

    @Test("HTTP/1.0 is closed after the answer unless it asked for keep-alive; Connection: close is honoured and said")
    func http10() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let port = try #require(URL(string: session.daemon.url)?.port)

        let plain = try await HTTPWire.exchange(port: port, "GET /healthz HTTP/1.0\r\n\r\n")
        #expect(plain.responses.map(\.status) == [200], "\(plain.responses)")
        #expect(plain.responses.first?.statusLine.hasPrefix("HTTP/1.0 200") == true, "\(plain.responses)")
        #expect(plain.responses.first?.header("connection")?.lowercased() == "close")
        #expect(plain.closed && plain.seconds < 5, "an HTTP/1.0 connection must close after the answer (\(plain.seconds) s)")

        // Keep-alive asked for: two requests on one connection, the second with no keep-alive.
        let twice = try await HTTPWire.exchange(
            port: port,
            "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /v1/maps HTTP/1.0\r\nHost: localhost\r\n\r\n")
        #expect(twice.responses.map(\.status) == [200, 200], "\(twice.responses)")
        #expect(twice.responses.first?.header("connection")?.lowercased() == "keep-alive", "\(twice.responses)")
        #expect(twice.responses.last?.header("connection")?.lowercased() == "close", "\(twice.responses)")
        #expect(twice.closed && twice.seconds < 5, "\(twice.seconds) s")

        // HTTP/1.1 with Connection: close: the answer says so.
        let closing = try await HTTPWire.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: Close\r\n\r\n")
        #expect(closing.responses.first?.header("connection")?.lowercased() == "close", "\(closing.responses)")
        #expect(closing.closed && closing.seconds < 5)
        #expect(try await session.daemon.stop().exitCode == 0)
    }

    @Test("unknown methods get 405 with a JSON error, and Allow where the path is a route")
    func unknownMethods() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let port = try #require(URL(string: session.daemon.url)?.port)
        let close = "Host: localhost\r\nConnection: close\r\n\r\n"

        for (method, path, allow) in [
            ("TRACE", "/v1/maps", "GET, HEAD"), ("PROPFIND", "/v1/maps/orders/entries/k1", "DELETE, GET, HEAD, PUT"),
            ("MKCOL", "/nowhere", nil), ("BREW", "/v1/apply", nil),
        ] as [(String, String, String?)] {
            let answer = try await HTTPWire.exchange(port: port, "\(method) \(path) HTTP/1.1\r\n\(close)")
            let response = answer.responses.first
            #expect(response?.status == 405, "\(method) \(path): \(answer.responses)")
            #expect(response?.errorCode == "method_not_allowed", "\(method) \(path): \(answer.responses)")
            #expect(response?.header("content-type")?.hasPrefix("application/json") == true, "\(method) \(path)")
            #expect(response?.header("allow") == allow, "\(method) \(path): \(answer.responses)")
        }
        // A known method a route does not serve was already 405; it still is.
        let patch = try await HTTPWire.exchange(port: port, "PATCH /v1/maps HTTP/1.1\r\n\(close)")
        #expect(patch.responses.first?.status == 405 && patch.responses.first?.header("allow") == "GET, HEAD")
        #expect(try await session.daemon.stop().exitCode == 0)
    }

    @Test("the HTTP parser's 400s carry the JSON error body, also behind a good pipelined request")
    func parserErrors() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let port = try #require(URL(string: session.daemon.url)?.port)

        for request in [
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n",
            "GET /healthz HTTP/9.7\r\nHost: localhost\r\n\r\n",
            "GET /he althz HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "PUT /v1/maps/m/entries/k HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n42",
            "PUT /v1/maps/m/entries/k HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let answer = try await HTTPWire.exchange(port: port, request)
            let last = answer.responses.last
            #expect(last?.status == 400, "\(request.debugDescription): \(answer.responses)")
            // A body cut by the error is answered by its route (bad_body); the rest by the server (bad_request).
            #expect(["bad_request", "bad_body"].contains(last?.errorCode), "\(request.debugDescription): \(answer.responses)")
            #expect(last?.header("content-type")?.hasPrefix("application/json") == true)
            #expect(answer.closed && answer.seconds < 5, "\(request.debugDescription): closed \(answer.closed) after \(answer.seconds) s")
        }

        // A good request, then garbage on the same connection: 200, then the JSON 400, then the close.
        let pipelined = try await HTTPWire.exchange(
            port: port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET / HTTP/1.1\r\nNo colon here\r\n\r\n")
        #expect(pipelined.responses.map(\.status) == [200, 400], "\(pipelined.responses)")
        #expect(pipelined.responses.last?.errorCode == "bad_request", "\(pipelined.responses)")
        #expect(pipelined.closed)

        // Headers over the limit: 431 with the JSON body.
        let huge = try await HTTPWire.exchange(
            port: port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n")
        #expect(huge.responses.first?.status == 431, "\(huge.responses.map(\.head))")
        #expect(huge.responses.first?.errorCode == "headers_too_large")
        #expect(try await session.mapctl(["status"]).exitCode == 0, "the daemon serves on")
        #expect(try await session.daemon.stop().exitCode == 0)
    }
}
