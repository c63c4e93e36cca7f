import Foundation
import MapSchema

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

    /// Reads the files under `root` that the schema loader reads (``SchemaLoader/schemaFiles(in:)``);
    /// a file that vanishes midway is left out, an unreadable directory gives an empty snapshot.
    static func take(of root: String, maxFileBytes: Int = 1 << 20) -> DirectorySnapshot {
        var files: [String: FileState] = [:]
        for path in (try? SchemaLoader.schemaFiles(in: root)) ?? [] {
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
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
        return DirectorySnapshot(files: files)
    }
}
