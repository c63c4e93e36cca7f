import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the polling fallback compares: every schema file under a directory with its
/// modification time, size and a hash of its content.
///
/// Symlinks are followed (`stat`, not `lstat`), so that a ConfigMap's `..data` swap
/// shows as changed content behind unchanged names. The content hash catches an edit
/// that keeps size and mtime (a coarse-mtime file system, a fast second write).
struct DirectorySnapshot: Equatable, Sendable {
    struct FileState: Equatable, Sendable {
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
        var size: Int64
        var contentHash: Int
    }

    var files: [String: FileState]

    /// Reads the tree under `root`; a file that vanishes midway is left out.
    static func take(of root: String, maxFileBytes: Int = 1 << 20) -> DirectorySnapshot {
        var files: [String: FileState] = [:]
        walk(root, depth: 0, into: &files, maxFileBytes: maxFileBytes)
        return DirectorySnapshot(files: files)
    }

    private static func walk(_ directory: String, depth: Int, into files: inout [String: FileState], maxFileBytes: Int) {
        guard depth < 32, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names {
            let path = directory + "/" + name
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                var link = stat()
                // Descend into real directories only: a symlinked directory could loop.
                if WatchFilter.isWatchedDirectoryName(name), lstat(path, &link) == 0, link.st_mode & S_IFMT == S_IFDIR {
                    walk(path, depth: depth + 1, into: &files, maxFileBytes: maxFileBytes)
                }
                continue
            }
            guard WatchFilter.isSchemaFileName(name), info.st_mode & S_IFMT == S_IFREG else { continue }
            var hasher = Hasher()
            // Over the size limit the loader rejects the file anyway: size and mtime tell enough.
            if Int(info.st_size) <= maxFileBytes, let data = FileManager.default.contents(atPath: path) {
                hasher.combine(data)
            }
            files[path] = FileState(
                modifiedSeconds: Int(info.st_mtim.tv_sec),
                modifiedNanoseconds: Int(info.st_mtim.tv_nsec),
                size: Int64(info.st_size), contentHash: hasher.finalize())
        }
    }
}
