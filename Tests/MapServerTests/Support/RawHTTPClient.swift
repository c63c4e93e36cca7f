import Foundation
import TestServers

#if canImport(Glibc)
    import Glibc
#endif

/// A response as the wire carried it.
struct RawHTTPResponse: Sendable, CustomStringConvertible {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object (nil when it is not one).
    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) as? [String: Any]
    }

    /// The body as a JSON array (nil when it is not one).
    var jsonArray: [[String: Any]]? {
        (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) as? [[String: Any]]
    }

    /// `error.code` of an error body.
    var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }

    var description: String { "HTTP \(status) \(text)" }
}

struct RawHTTPError: Error, CustomStringConvertible {
    var description: String
}

/// A minimal HTTP/1.1 client over a blocking socket, run on a thread of its own so that
/// it never blocks the cooperative pool the server's handlers run on. It can send
/// anything, malformed requests included: that is what it is for.
enum RawHTTPClient {
    static func request(
        port: Int,
        method: String,
        path: String,
        headers: [(String, String)] = [],
        body: [UInt8] = [],
        host: String? = nil,
        timeoutSeconds: Int = 20,
        halfClose: Bool = true
    ) async throws -> RawHTTPResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        return try await send(port: port, bytes: Array(head.utf8) + body, timeoutSeconds: timeoutSeconds, halfClose: halfClose)
    }

    /// Sends raw bytes and reads the response until the server closes the connection.
    ///
    /// - Parameter halfClose: Shut the sending side once the bytes are sent. A server may take that end of
    ///   input as the end of the connection and stop a long answer (several MB of `/metrics`) part way:
    ///   pass false to read such an answer.
    static func send(port: Int, bytes: [UInt8], timeoutSeconds: Int = 20, halfClose: Bool = true) async throws -> RawHTTPResponse {
        try await onOwnThread { try exchange(port: port, bytes: bytes, timeoutSeconds: timeoutSeconds, halfClose: halfClose) }
    }

    /// A blocking socket connected to `port` on 127.0.0.1, with send and receive timeouts.
    static func connect(port: Int, timeoutSeconds: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError(description: "socket: \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw RawHTTPError(description: "connect to port \(port): errno \(errno)")
        }
        return fd
    }

    private static func exchange(port: Int, bytes: [UInt8], timeoutSeconds: Int, halfClose: Bool) throws -> RawHTTPResponse {
        let fd = try connect(port: port, timeoutSeconds: timeoutSeconds)
        defer { close(fd) }

        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            // The server may answer (413) and close before it has read everything: read what it said.
            if written <= 0 { break }
            offset += written
        }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }

        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                if received.isEmpty { throw RawHTTPError(description: "recv: errno \(errno)") }
                break
            }
            if count == 0 { break }
            received.append(contentsOf: chunk[..<count])
            if let response = parse(received), response.complete { return response.response }
        }
        guard let response = parse(received) else {
            throw RawHTTPError(description: "no HTTP response (\(received.count) bytes)")
        }
        return response.response
    }

    /// Sends raw bytes (several requests, the last one closing), reads until the server closes, and
    /// splits what came into the answers, in order. Every answer must carry a `Content-Length`.
    static func sendPipelined(port: Int, bytes: [UInt8], timeoutSeconds: Int = 20) async throws -> [RawHTTPResponse] {
        try await onOwnThread {
            let fd = try connect(port: port, timeoutSeconds: timeoutSeconds)
            defer { close(fd) }
            try sendAll(fd, bytes)
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                received.append(contentsOf: chunk[..<count])
            }
            var responses: [RawHTTPResponse] = []
            var rest = received[...]
            while !rest.isEmpty {
                guard let (response, length) = takeOne(rest) else {
                    throw RawHTTPError(description: "an incomplete answer after \(responses.count): \(rest.count) bytes left")
                }
                responses.append(response)
                rest = rest.dropFirst(length)
            }
            return responses
        }
    }

    /// Reads one answer (with a `Content-Length`) from a connection kept open; `pending` holds bytes read
    /// past the previous one. Nil when the server closed first.
    static func readOne(_ fd: Int32, pending: inout [UInt8]) throws -> RawHTTPResponse? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let (response, length) = takeOne(pending[...]) {
                pending.removeFirst(length)
                return response
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count == 0 { return nil }
            guard count > 0 else { throw RawHTTPError(description: "recv: errno \(errno)") }
            pending.append(contentsOf: chunk[..<count])
        }
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw RawHTTPError(description: "send: errno \(errno)") }
            offset += written
        }
    }

    /// The first whole answer in `bytes` and how many bytes it took.
    private static func takeOne(_ bytes: ArraySlice<UInt8>) -> (RawHTTPResponse, Int)? {
        let bytes = Array(bytes)
        guard let parsed = parse(bytes), parsed.complete,
            let end = bytes.indices.dropLast(3).first(where: { bytes[$0..<$0 + 4] == [13, 10, 13, 10] })
        else { return nil }
        return (parsed.response, end + 4 + parsed.response.body.count)
    }

    private static func parse(_ bytes: [UInt8]) -> (response: RawHTTPResponse, complete: Bool)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.indices.dropLast(3).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else { return nil }
        let headText = String(decoding: bytes[..<end], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var body = Array(bytes[(end + 4)...])
        var complete = false
        if status == 204 || status == 304 {
            body = []  // no body, whatever follows is the next answer
            complete = true
        } else if let length = headers.first(where: { $0.0.lowercased() == "content-length" }).flatMap({ Int($0.1) }) {
            complete = body.count >= length
            body = Array(body.prefix(length))
        } else if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            guard let decoded = decodeChunked(body) else { return (RawHTTPResponse(status: status, headers: headers, body: body), false) }
            body = decoded
            complete = true
        }
        return (RawHTTPResponse(status: status, headers: headers, body: body), complete)
    }

    private static func decodeChunked(_ bytes: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var index = 0
        while true {
            guard let lineEnd = (index..<max(index, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else {
                return nil
            }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText, radix: 16) else { return nil }
            index = lineEnd + 2
            if size == 0 { return out }
            guard index + size + 2 <= bytes.count else { return nil }
            out.append(contentsOf: bytes[index..<index + size])
            index += size + 2
        }
    }
}
