#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few POSIX calls the loader needs, without Foundation.
public enum FileSystem {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var path: String
        public var description: String { message }
    }

    enum Kind { case regular, directory, symlink, other }

    static func kind(of path: String, followingLinks: Bool) -> Kind? {
        var info = stat()
        let status = followingLinks ? stat(path, &info) : lstat(path, &info)
        guard status == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        default: return .other
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func entries(of directory: String) throws -> [String] {
        guard let handle = opendir(directory) else {
            throw Failure(message: String(cString: strerror(errno)), path: directory)
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Reads at most `limit` bytes of a regular file: enough to tell that a file is over the decoder's size limit.
    ///
    /// The path is opened without blocking and the opened descriptor is checked,
    /// not the path: a FIFO, socket or device renamed over a schema file between a
    /// directory listing and this call would otherwise block `open` or `read`
    /// forever (a FIFO with no writer), inside whoever called the loader.
    static func readFile(_ path: String, limit: Int) -> Result<[UInt8], Failure> {
        readFileWithFingerprint(path, limit: limit).map(\.bytes)
    }

    /// What identifies one state of a file's content, from `stat`.
    struct Fingerprint: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int64
        var changed: Int64

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = Int64(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_mtim.tv_nsec)
            changed = Int64(info.st_ctim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_ctim.tv_nsec)
        }
    }

    /// The fingerprint of the file at `path` (links followed), or nil when it cannot be stat'ed.
    static func fingerprint(of path: String) -> Fingerprint? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Fingerprint(info)
    }

    /// Like ``readFile(_:limit:)``, with the fingerprint of the descriptor the bytes came from.
    static func readFileWithFingerprint(_ path: String, limit: Int) -> Result<(bytes: [UInt8], fingerprint: Fingerprint), Failure> {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else { return .failure(Failure(message: String(cString: strerror(errno)), path: path)) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return .failure(Failure(message: String(cString: strerror(errno)), path: path)) }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            return .failure(
                Failure(message: "not a regular file (\(describe(fileType: type))); schema files must be regular files", path: path))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(limit, max(0, Int(info.st_size))))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, min($0.count, limit - bytes.count)) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(Failure(message: String(cString: strerror(errno)), path: path))
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return .success((bytes, Fingerprint(info)))
    }

    private static func describe(fileType: mode_t) -> String {
        switch fileType {
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFDIR: return "a directory"
        default: return "mode 0o\(String(fileType, radix: 8))"
        }
    }
}
