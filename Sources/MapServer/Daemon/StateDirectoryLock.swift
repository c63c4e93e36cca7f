import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive `flock(2)` on `STATE/lock`, held for as long as the daemon runs.
///
/// Two daemons on one state directory would each believe they own the maps' versions, windows
/// and history, and overwrite each other's state: a split brain. The lock makes the second one
/// refuse to start instead. The kernel drops it when the process ends, however it ends (a
/// crash or SIGKILL leaves no stale lock behind); the file keeps the holder's pid only so that
/// the refusal can name it.
final class StateDirectoryLock: Sendable {
    let path: String
    /// The locked descriptor until ``release()``.
    private let descriptor: Mutex<Int32?>

    /// Creates the state directory (mode 0700) when missing, then takes the lock without waiting.
    ///
    /// - Throws: ``DaemonError`` when another process holds the lock, or the file cannot be made.
    init(stateDirectory: String) throws(DaemonError) {
        try Self.makeDirectories(stateDirectory)
        path = stateDirectory.hasSuffix("/") ? stateDirectory + "lock" : stateDirectory + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw DaemonError("cannot open the state directory's lock file \(path): \(errnoDescription(errno))")
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            let holder = Self.readPID(fd)
            close(fd)
            guard code == EWOULDBLOCK else {
                throw DaemonError("cannot lock the state directory (\(path)): \(errnoDescription(code))")
            }
            throw DaemonError(
                "another mapctl daemon\(holder.map { " (pid \($0))" } ?? "") is using the state directory \(stateDirectory): "
                    + "two daemons on one state would overwrite each other's state; stop it, or give this one another --state"
            )
        }
        descriptor = Mutex(fd)
        let text = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 {
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
    }

    /// Releases the lock. `LOCK_UN` first: a child forked in this instant holds a copy of the
    /// descriptor until it execs, and closing ours alone would leave the lock held by that copy.
    func release() {
        descriptor.withLock { fd in
            guard let open = fd else { return }
            _ = flock(open, LOCK_UN)
            close(open)
            fd = nil
        }
    }

    deinit {
        release()
    }

    private static func readPID(_ fd: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int(String(decoding: buffer[..<count], as: UTF8.self).filter(\.isNumber))
    }

    private static func makeDirectories(_ path: String) throws(DaemonError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o700) != 0, errno != EEXIST {
                throw DaemonError("cannot create the state directory \(prefix): \(errnoDescription(errno))")
            }
            prefix += "/"
        }
    }
}
