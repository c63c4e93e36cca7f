import Foundation
import MapSchema

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the polling fallback compares: every schema file under a directory with its `stat` data
/// (device, inode, size, modification and status-change times), and, for a file modified in the last
/// few seconds, a hash of its content.
///
/// Symlinks are followed (`stat`, not `lstat`), so that a ConfigMap's `..data` swap shows as changed
/// files behind unchanged names. The content hash catches an edit that keeps size and times (a
/// coarse-timestamp file system, a fast second write); it is taken only while a file's modification
/// time is recent, since only then can a write still land within the same timestamp, so that a poll
/// of thousands of files reads a few of them, not all.
struct DirectorySnapshot: Equatable, Sendable {
    struct FileState: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
        var changedSeconds: Int
        var changedNanoseconds: Int
        var size: Int64
        /// Zero unless the file was modified within ``recentSeconds`` of the snapshot (odd otherwise).
        var contentHash: Int
    }

    /// How recent a modification time must be for the content to be hashed as well.
    static let recentSeconds = 5

    var files: [String: FileState]

    /// Reads the files under `root` that the schema loader reads (``SchemaLoader/schemaFiles(in:)``);
    /// a file that vanishes midway is left out, an unreadable directory gives an empty snapshot.
    static func take(of root: String, maxFileBytes: Int = 1 << 20) -> DirectorySnapshot {
        var files: [String: FileState] = [:]
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        for path in (try? SchemaLoader.schemaFiles(in: root)) ?? [] {
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            var contentHash = 0
            // Over the size limit the loader rejects the file anyway: the stat data tells enough.
            if Int(now.tv_sec) - Int(info.st_mtim.tv_sec) <= recentSeconds, Int(info.st_size) <= maxFileBytes,
                let data = FileManager.default.contents(atPath: path)
            {
                var hasher = Hasher()
                hasher.combine(data)
                contentHash = hasher.finalize() | 1
            }
            files[path] = FileState(
                device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
                modifiedSeconds: Int(info.st_mtim.tv_sec), modifiedNanoseconds: Int(info.st_mtim.tv_nsec),
                changedSeconds: Int(info.st_ctim.tv_sec), changedNanoseconds: Int(info.st_ctim.tv_nsec),
                size: Int64(info.st_size), contentHash: contentHash)
        }
        return DirectorySnapshot(files: files)
    }

    /// The paths created, changed or gone between `previous` and this snapshot.
    func changedPaths(since previous: DirectorySnapshot) -> Set<String> {
        var changed: Set<String> = []
        for (path, state) in files {
            guard let before = previous.files[path] else {
                changed.insert(path)
                continue
            }
            var statData = state
            statData.contentHash = before.contentHash
            // A hash taken in one snapshot only (the file stopped being recent) tells nothing.
            if statData != before || (state.contentHash != 0 && before.contentHash != 0 && state.contentHash != before.contentHash) {
                changed.insert(path)
            }
        }
        for path in previous.files.keys where files[path] == nil {
            changed.insert(path)
        }
        return changed
    }
}
