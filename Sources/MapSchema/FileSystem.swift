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

    /// Reads at most `limit` bytes: enough to tell that a file is over the decoder's size limit.
    static func readFile(_ path: String, limit: Int) -> Result<[UInt8], Failure> {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return .failure(Failure(message: String(cString: strerror(errno)), path: path)) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
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
        return .success(bytes)
    }
}
