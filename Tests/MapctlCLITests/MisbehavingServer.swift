import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny HTTP server on 127.0.0.1 that answers as a test tells it to (redirects, a drip, a flood,
/// a body that is not JSON), one thread per connection, for the client's defences.
final class MisbehavingServer: Sendable {
    /// What a connection gets: the request head as received, and the socket to answer on.
    typealias Behaviour = @Sendable (_ head: String, _ fd: Int32, _ server: MisbehavingServer) -> Void

    let port: Int
    private let listener: Int32
    private let heads = Mutex<[String]>([])
    private let sent = Atomic<Int>(0)

    init(_ behaviour: @escaping Behaviour) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocket.Failure(description: "socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 64) == 0 else {
            close(fd)
            throw RawSocket.Failure(description: "bind/listen: errno \(errno)")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop(behaviour) }.start()
    }

    /// Request heads received so far, oldest first.
    var requests: [String] { heads.withLock { $0 } }
    /// Bytes written by ``write(_:_:)`` so far.
    var bytesSent: Int { sent.load(ordering: .relaxed) }

    /// Writes all of `bytes`; false when the client has gone.
    @discardableResult
    func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
            sent.add(written, ordering: .relaxed)
        }
        return true
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop(_ behaviour: @escaping Behaviour) {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            Thread { [self] in
                defer { close(client) }
                var received: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 4096)
                while !String(decoding: received, as: UTF8.self).contains("\r\n\r\n") {
                    let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                    if count <= 0 { return }
                    received.append(contentsOf: chunk[..<count])
                }
                let head = String(String(decoding: received, as: UTF8.self).split(separator: "\r\n\r\n", maxSplits: 1)[0])
                heads.withLock { $0.append(head) }
                behaviour(head, client, self)
            }.start()
        }
    }

    deinit {
        stop()
    }
}
