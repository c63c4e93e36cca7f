import Foundation
import TestServers

#if canImport(Glibc)
    import Glibc
#endif

/// HTTP/1 responses read off a plain socket, for tests of what the server does with a connection:
/// when it closes it, what it answers to bytes no client library would send.
enum HTTPWire {
    struct Response: CustomStringConvertible {
        /// The status line and header fields, without the blank line.
        var head: String
        var body: String

        var statusLine: String { String(head.prefix { $0 != "\r" }) }
        var status: Int? { statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } }

        /// The value of the first header field `name` (case-insensitive).
        func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                if line[..<colon].lowercased() == name.lowercased() {
                    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }

        /// The body as a JSON object, when it is one.
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }

        /// `error.code` of a JSON error body.
        var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }

        var description: String { head + "\r\n\r\n" + body }
    }

    /// Bytes read ahead of the response being parsed (the start of the next one, or a close).
    final class Reader {
        let fd: Int32
        private var buffer: [UInt8] = []
        private(set) var closed = false

        init(fd: Int32) { self.fd = fd }

        /// The next response (framed by Content-Length, or by the close when there is none); nil when the
        /// connection ends (or the receive timeout passes) before a whole head arrives.
        func next() -> Response? {
            let separator: [UInt8] = [13, 10, 13, 10]
            var headEnd: Int?
            while headEnd == nil {
                if let index = Self.firstIndex(of: separator, in: buffer) {
                    headEnd = index
                } else if !fill() {
                    return nil
                }
            }
            let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
            buffer.removeFirst(headEnd! + 4)
            var response = Response(head: head, body: "")
            if let length = response.header("content-length").flatMap(Int.init) {
                while buffer.count < length, fill() {}
                let count = min(length, buffer.count)
                response.body = String(decoding: buffer[..<count], as: UTF8.self)
                buffer.removeFirst(count)
            } else if response.status != 204, response.status != 304 {
                while fill() {}
                response.body = String(decoding: buffer, as: UTF8.self)
                buffer.removeAll()
            }
            return response
        }

        /// Waits for the peer's close; true when it came (end of file or reset) and no more bytes with it.
        func waitForClose() -> Bool {
            while fill() {}
            return closed && buffer.isEmpty
        }

        /// Reads once; false at end of file, on an error or on the receive timeout.
        private func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0, errno == EINTR { continue }
                if count == 0 || (count < 0 && errno == ECONNRESET) { closed = true }
                guard count > 0 else { return false }
                buffer.append(contentsOf: chunk[..<count])
                return true
            }
        }

        static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
            guard haystack.count >= needle.count else { return nil }
            for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
                return start
            }
            return nil
        }
    }

    /// Connects, sends `request`, reads responses until the server closes (or `timeoutSeconds` of
    /// silence), and says how long that took and whether it was the server that closed.
    static func exchange(port: Int, _ request: String, timeoutSeconds: Int = 10) async throws
        -> (responses: [Response], closed: Bool, seconds: Double)
    {
        try await onOwnThread {
            let fd = try RawSocket.connect(port: port, timeoutSeconds: timeoutSeconds)
            defer { close(fd) }
            let start = ContinuousClock.now
            try RawSocket.sendAll(fd, Array(request.utf8))
            let reader = Reader(fd: fd)
            var responses: [Response] = []
            while let response = reader.next() { responses.append(response) }
            let closed = reader.waitForClose()
            let elapsed = ContinuousClock.now - start
            return (responses, closed, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }
}
