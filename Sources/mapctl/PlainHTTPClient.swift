import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One HTTP/1.1 exchange over a plain socket, for `http://` controllers.
///
/// FoundationNetworking's URLSession (libcurl underneath) spins at about 90 % of a core while a
/// slow server drips its answer, restarts its timeout on every byte, and keeps a whole answer in
/// memory however large. This client blocks in `poll(2)` on its own thread until a deadline for
/// the whole exchange, stops reading at a size limit, and follows no redirect itself (the caller
/// decides, per origin, what a redirect may carry).
struct PlainHTTPClient: Sendable {
    struct Request: Sendable {
        var method: String
        /// Host as in the URL (IPv6 without brackets), and port.
        var host: String
        var port: Int
        /// Path and query, as sent in the request line.
        var target: String
        var headers: [(name: String, value: String)]
        var body: Data?
    }

    struct Response: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: Data

        func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
    }

    enum Failure: Error, Sendable {
        /// No connection could be made; the reason is strerror's.
        case cannotConnect(String)
        case hostNotFound
        case timedOut
        /// The answer (head or body) is over the limit, in bytes.
        case tooLarge(Int)
        /// The answer is not HTTP/1.x, or its framing is broken.
        case malformed(String)
        case connectionLost
    }

    /// The largest response head accepted.
    static let maxHeadBytes = 64 << 10

    /// Sends `request` and reads the answer, all within `deadline`.
    ///
    /// - Parameters:
    ///   - deadline: when the whole exchange (connect, send, read) must be done.
    ///   - maxBodyBytes: the largest body read; a larger one fails at once, without reading it.
    static func exchange(_ request: Request, deadline: ContinuousClock.Instant, maxBodyBytes: Int) async throws(Failure) -> Response {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Response, Failure>, Never>) in
            // A thread of its own: the exchange blocks in poll(2), never on the cooperative pool.
            let thread = Thread {
                continuation.resume(
                    returning: Result { () throws(Failure) -> Response in
                        try Exchange(deadline: deadline, maxBodyBytes: maxBodyBytes).run(request)
                    })
            }
            thread.start()
        }
        return try result.get()
    }
}

/// The blocking side of ``PlainHTTPClient/exchange(_:deadline:maxBodyBytes:)``.
private struct Exchange {
    typealias Failure = PlainHTTPClient.Failure

    let deadline: ContinuousClock.Instant
    let maxBodyBytes: Int

    func run(_ request: PlainHTTPClient.Request) throws(Failure) -> PlainHTTPClient.Response {
        let fd = try connect(host: request.host, port: request.port)
        defer { close(fd) }
        try send(fd, Self.encode(request))
        var reader = Reader(fd: fd, exchange: self)
        while true {
            let head = try reader.readHead()
            // 1xx answers (100 Continue) come before the real one.
            if (100..<200).contains(head.status), head.status != 101 { continue }
            let body = try reader.readBody(head: head, method: request.method)
            return PlainHTTPClient.Response(status: head.status, headers: head.headers, body: body)
        }
    }

    static func encode(_ request: PlainHTTPClient.Request) -> [UInt8] {
        let hostHeader = request.host.contains(":") ? "[\(request.host)]:\(request.port)" : "\(request.host):\(request.port)"
        var head = "\(request.method) \(request.target) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n"
        for (name, value) in request.headers { head += "\(name): \(value)\r\n" }
        if let body = request.body {
            head += "Content-Length: \(body.count)\r\n"
        } else if ["POST", "PUT", "PATCH"].contains(request.method) {
            head += "Content-Length: 0\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + (request.body.map(Array.init) ?? [])
    }

    /// Milliseconds left before the deadline, at least 0, for poll(2).
    func remainingMilliseconds() throws(Failure) -> Int32 {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { throw .timedOut }
        let (seconds, attoseconds) = left.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }

    /// Waits until `fd` is ready for `events` or the deadline passes.
    func wait(_ fd: Int32, for events: Int16) throws(Failure) {
        while true {
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, try remainingMilliseconds())
            if ready > 0 { return }
            if ready == 0 { throw .timedOut }
            if errno != EINTR { throw .connectionLost }
        }
    }

    func connect(host: String, port: Int) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { throw .hostNotFound }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else {
                lastError = errno
                continue
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            if errno == EINPROGRESS {
                do {
                    try wait(fd, for: Int16(POLLOUT))
                } catch {
                    close(fd)
                    throw error
                }
                var code: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
                if code == 0 { return fd }
                lastError = code
            } else {
                lastError = errno
            }
            close(fd)
        }
        throw .cannotConnect(String(cString: strerror(lastError)))
    }

    func send(_ fd: Int32, _ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if written > 0 {
                offset += written
            } else if written < 0, errno == EAGAIN || errno == EINTR {
                try wait(fd, for: Int16(POLLOUT))
            } else {
                // The server may have answered (413) and closed before reading everything: read what it said.
                return
            }
        }
    }
}

/// Reads a response from a non-blocking socket, never past the deadline or the size limits.
private struct Reader {
    typealias Failure = PlainHTTPClient.Failure

    let fd: Int32
    let exchange: Exchange
    var buffer: [UInt8] = []
    var isAtEnd = false

    struct Head {
        var status: Int
        var headers: [(name: String, value: String)]
    }

    init(fd: Int32, exchange: Exchange) {
        self.fd = fd
        self.exchange = exchange
    }

    /// Reads more bytes into `buffer`; false at end of stream.
    mutating func fill() throws(Failure) -> Bool {
        guard !isAtEnd else { return false }
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.append(contentsOf: chunk[..<count])
                return true
            }
            if count == 0 {
                isAtEnd = true
                return false
            }
            guard errno == EAGAIN || errno == EINTR else { throw .connectionLost }
            try exchange.wait(fd, for: Int16(POLLIN))
        }
    }

    mutating func readHead() throws(Failure) -> Head {
        while true {
            if let end = Self.find([13, 10, 13, 10], in: buffer) {
                let text = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                return try Self.parseHead(text)
            }
            guard buffer.count <= PlainHTTPClient.maxHeadBytes else { throw .tooLarge(PlainHTTPClient.maxHeadBytes) }
            guard try fill() else { throw buffer.isEmpty ? .connectionLost : .malformed("the answer ends inside its head") }
        }
    }

    static func parseHead(_ text: String) throws(Failure) -> Head {
        var lines = text.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]), (100...999).contains(status)
        else {
            throw .malformed("not an HTTP/1.x answer")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return Head(status: status, headers: headers)
    }

    mutating func readBody(head: Head, method: String) throws(Failure) -> Data {
        if method == "HEAD" || head.status == 204 || head.status == 304 { return Data() }
        let limit = exchange.maxBodyBytes
        func header(_ name: String) -> String? {
            head.headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
        if header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            return try readChunked(limit: limit)
        }
        if let lengthText = header("Content-Length") {
            guard let length = Int(lengthText), length >= 0 else { throw .malformed("bad Content-Length '\(lengthText)'") }
            guard length <= limit else { throw .tooLarge(limit) }
            while buffer.count < length {
                guard try fill() else { throw .malformed("the answer ends after \(buffer.count) of \(length) bytes") }
            }
            return Data(buffer[..<length])
        }
        // Neither length nor chunks: the body ends when the server closes.
        while try fill() {
            guard buffer.count <= limit else { throw .tooLarge(limit) }
        }
        guard buffer.count <= limit else { throw .tooLarge(limit) }
        return Data(buffer)
    }

    mutating func readChunked(limit: Int) throws(Failure) -> Data {
        var body = Data()
        while true {
            let line = try readLine()
            let sizeText = line.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else { throw .malformed("bad chunk size '\(sizeText)'") }
            if size == 0 { return body }
            guard body.count + size <= limit else { throw .tooLarge(limit) }
            while buffer.count < size + 2 {
                guard try fill() else { throw .malformed("the answer ends inside a chunk") }
            }
            body.append(contentsOf: buffer[..<size])
            buffer.removeFirst(size + 2)
        }
    }

    mutating func readLine() throws(Failure) -> String {
        while true {
            if let end = Self.find([13, 10], in: buffer) {
                let line = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 2)
                return line
            }
            guard buffer.count <= PlainHTTPClient.maxHeadBytes else { throw .tooLarge(PlainHTTPClient.maxHeadBytes) }
            guard try fill() else { throw .malformed("the answer ends inside a chunk header") }
        }
    }

    static func find(_ pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        for index in 0...(bytes.count - pattern.count) where bytes[index] == pattern[0] {
            if bytes[index..<index + pattern.count].elementsEqual(pattern) { return index }
        }
        return nil
    }
}
