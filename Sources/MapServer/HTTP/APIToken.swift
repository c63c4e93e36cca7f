#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bearer token that guards the control API.
///
/// It is made at the daemon's first start in `STATE/token`: 32 random bytes from the
/// system's cryptographic generator, written as 64 lowercase hex digits and a newline,
/// in a file of mode 0600. Later starts read it back, so that clients keep working
/// across restarts.
public struct APIToken: Sendable, Hashable, CustomStringConvertible {
    /// The token as sent in `Authorization: Bearer …`.
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// Redacted, so that a token never reaches a log by accident.
    public var description: String { "APIToken(…)" }

    /// A fresh token: 32 bytes from `SystemRandomNumberGenerator` (getrandom(2) on Linux), hex.
    public static func random() -> APIToken {
        var generator = SystemRandomNumberGenerator()
        var hex = ""
        hex.reserveCapacity(64)
        for _ in 0..<4 {
            let word = generator.next() as UInt64
            let digits = String(word, radix: 16)
            hex += String(repeating: "0", count: 16 - digits.count) + digits
        }
        return APIToken(hex)
    }

    /// The path of the token file in a state directory.
    public static func path(inStateDirectory stateDirectory: String) -> String {
        stateDirectory.hasSuffix("/") ? stateDirectory + "token" : stateDirectory + "/token"
    }

    /// Reads `STATE/token`, or makes it (and the state directory) when absent.
    ///
    /// The file is created with `O_EXCL` and mode 0600, so two daemons that start together
    /// agree on one token. An existing token file is refused when it is a symbolic link, not a
    /// regular file, or has a mode wider than 0600 (others could have read the token).
    ///
    /// - Parameter stateDirectory: the daemon's `--state` directory.
    /// - Returns: the token.
    /// - Throws: ``APITokenError`` when the directory or file cannot be made or read, or the file is empty.
    public static func loadOrCreate(stateDirectory: String) throws(APITokenError) -> APIToken {
        try makeDirectories(stateDirectory)
        let path = path(inStateDirectory: stateDirectory)
        for _ in 0..<3 {
            let token = random()
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                defer { close(fd) }
                let bytes = Array((token.value + "\n").utf8)
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                guard written == bytes.count, fsync(fd) == 0 else {
                    let code = errno
                    unlink(path)
                    throw APITokenError(path: path, message: "cannot write: \(errnoDescription(code))")
                }
                return token
            }
            guard errno == EEXIST else {
                throw APITokenError(path: path, message: "cannot create: \(errnoDescription(errno))")
            }
            if let existing = try readToken(path: path) {
                return existing
            }
            // Another process made the file and has not written it yet: read again.
            usleep(10_000)
        }
        throw APITokenError(path: path, message: "the token file is empty")
    }

    private static func readToken(path: String) throws(APITokenError) -> APIToken? {
        // O_NOFOLLOW: a symlink planted at STATE/token must not make the daemon read (or, as it
        // once did, chmod) a file elsewhere. O_NONBLOCK: a FIFO there must not hang the start.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP {
                throw APITokenError(
                    path: path, message: "is a symbolic link; refusing to use it: replace it with the token file itself (mode 0600)")
            }
            throw APITokenError(path: path, message: "cannot open: \(errnoDescription(code))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw APITokenError(path: path, message: "cannot stat: \(errnoDescription(errno))") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw APITokenError(path: path, message: "is not a regular file; refusing to use it")
        }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw APITokenError(
                path: path,
                message: "has mode 0\(mode), readable or writable by others than its owner: the token may have leaked. "
                    + "Make a new one (remove the file; the daemon writes a fresh one) or, if it is safe, run chmod 600 \(path)"
            )
        }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw APITokenError(path: path, message: "cannot read: \(errnoDescription(errno))") }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        let trimmed = text.filter { !$0.isWhitespace }
        return trimmed.isEmpty ? nil : APIToken(trimmed)
    }

    private static func makeDirectories(_ path: String) throws(APITokenError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o700) != 0, errno != EEXIST {
                throw APITokenError(path: prefix, message: "cannot create the state directory: \(errnoDescription(errno))")
            }
            prefix += "/"
        }
    }

    /// Compares in time that depends on the lengths only, never on where the first difference is.
    public func matches(_ candidate: some StringProtocol) -> Bool {
        let expected = Array(value.utf8)
        let given = Array(candidate.utf8)
        var difference = UInt8(expected.count == given.count ? 0 : 1)
        for index in 0..<expected.count {
            difference |= expected[index] ^ (index < given.count ? given[index] : 0)
        }
        return difference == 0
    }
}

/// The token file could not be made or read.
public struct APITokenError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public var description: String { "\(path): \(message)" }
}

func errnoDescription(_ code: Int32) -> String {
    String(cString: strerror(code))
}
