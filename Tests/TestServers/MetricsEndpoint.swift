import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A scrape target for a throwaway Prometheus: serves whatever text the test sets, in the Prometheus
/// exposition format, on `http://127.0.0.1:PORT/metrics` (any path answers the same).
///
/// One thread accepts and answers one connection at a time, which is all a scraper needs.
public final class MetricsEndpoint: Sendable {
    /// `127.0.0.1:PORT`, for a scrape config's `targets`.
    public let address: String
    private let listener: Int32
    private let body = Mutex("")
    private let stopped = Mutex(false)

    /// Starts listening on a free loopback port with `initial` as the body.
    public init(_ initial: String = "") throws {
        #if canImport(Glibc)
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw LoopbackHTTP.Failure("socket() failed: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ready = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 16) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard ready else {
            close(descriptor)
            throw LoopbackHTTP.Failure("could not listen on 127.0.0.1: errno \(errno)")
        }
        listener = descriptor
        self.address = "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        body.withLock { $0 = initial }
        let thread = Thread { [self] in serve() }
        thread.name = "metrics-endpoint"
        thread.start()
    }

    /// Replaces what the next scrape reads.
    public func set(_ text: String) {
        body.withLock { $0 = text }
    }

    /// Stops listening; a scrape after this fails (the target goes down).
    public func stop() {
        let wasStopped = stopped.withLock { value in
            defer { value = true }
            return value
        }
        guard !wasStopped else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    private func serve() {
        while !stopped.withLock({ $0 }) {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            answer(connection)
            close(connection)
        }
    }

    private func answer(_ connection: Int32) {
        var time = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while request.count < 65536 {
            let count = read(connection, &buffer, buffer.count)
            if count <= 0 { return }
            request += buffer[0..<count]
            if request.count >= 4, request.suffix(4) == [13, 10, 13, 10] { break }
        }
        let text = body.withLock { $0 }
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(text.utf8.count)\r\nConnection: close\r\n\r\n"
        try? LoopbackHTTP.sendAll(Array((head + text).utf8), to: connection)
    }
}
