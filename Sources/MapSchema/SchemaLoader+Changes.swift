#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SchemaLoader {
    /// A directory loaded again after some of its files changed.
    public struct ChangedLoad: Sendable {
        /// The whole directory, as ``SchemaLoader/load(paths:options:cache:)`` would give it now.
        public var set: SchemaSet
        /// The files read again (created or changed) or gone since the last load.
        public var changedFiles: Set<String>
        /// The map names those files gave before or give now: the only maps the change can concern.
        public var affectedNames: Set<String>
    }

    /// The most changed paths one reload takes; more make a whole load cheaper.
    public static let maxChangedPaths = 1024

    /// Loads `directory` again when only `changed` paths in it changed since the last load through `cache`:
    /// those files are read again (or forgotten, when gone) and every other file comes from the cache, so that
    /// a change of one file in thousands costs one read, not a listing and a `stat` of every file.
    ///
    /// The paths are what a watcher saw change (inotify names the file; a poll compares `stat` data). Only
    /// plain cases are taken: the last load read `directory` whole and met no symbolic link in it, and each
    /// path names a schema file (or a gone one) in a directory that load went through. Anything else (a
    /// directory, a link, a hidden name, a new subdirectory, an unreadable file) returns nil: load the
    /// whole directory then.
    public static func reload(
        directory: String, changed: Set<String>, options: SchemaDecoder.Options = .init(), cache: DecodeCache
    ) -> ChangedLoad? {
        guard !changed.isEmpty, changed.count <= maxChangedPaths else { return nil }
        return cache.exclusively { () -> ChangedLoad? in
            let decoder = SchemaDecoder(options: options)
            var snapshot = cache.withState { $0 }
            guard snapshot.root == directory else { return nil }
            var paths: Set<String> = []
            for path in changed {
                guard let canonical = canonicalPath(path, under: directory) else { return nil }
                paths.insert(canonical)
            }
            var changedFiles: Set<String> = []
            var affected: Set<String> = []
            for path in paths.sorted() {
                let directoryPart = parent(of: path)
                guard directoryPart == directory || directoryPart + "/" == directory || snapshot.directories.contains(directoryPart)
                else { return nil }
                var info = stat()
                if lstat(path, &info) != 0 {
                    guard errno == ENOENT else { return nil }
                    // Gone. A directory of that name would have had files under it: that is a whole load.
                    guard !snapshot.entries.keys.contains(where: { $0.hasPrefix(path + "/") }) else { return nil }
                    if let old = snapshot.entries.removeValue(forKey: path) {
                        changedFiles.insert(path)
                        affected.formUnion(names(in: old.result))
                    }
                    continue
                }
                guard info.st_mode & S_IFMT == S_IFREG else { return nil }
                let old = snapshot.entries[path]
                if let old, old.fingerprint == FileSystem.Fingerprint(info) { continue }
                switch FileSystem.readFileWithFingerprint(path, limit: options.maxFileBytes + 1) {
                case .success(let (bytes, fingerprint)):
                    let result = decoder.decode(bytes, file: path)
                    cache.countDecode()
                    snapshot.entries[path] = .init(fingerprint: fingerprint, result: result)
                    affected.formUnion(names(in: result))
                case .failure:
                    // Gone or replaced by something else since the `lstat`: let a whole load sort it out.
                    return nil
                }
                if let old { affected.formUnion(names(in: old.result)) }
                changedFiles.insert(path)
            }
            // Files unreadable at the last load are read again, as a whole load would.
            for (path, entry) in snapshot.entries where entry.fingerprint == nil {
                switch FileSystem.readFileWithFingerprint(path, limit: options.maxFileBytes + 1) {
                case .success(let (bytes, fingerprint)):
                    let result = decoder.decode(bytes, file: path)
                    cache.countDecode()
                    snapshot.entries[path] = .init(fingerprint: fingerprint, result: result)
                    affected.formUnion(names(in: result))
                case .failure(let failure):
                    snapshot.entries[path] = .init(fingerprint: nil, result: unreadable(path, failure))
                }
                changedFiles.insert(path)
            }
            cache.withState { $0.entries = snapshot.entries }
            var set = SchemaSet()
            for path in snapshot.entries.keys.sorted() {
                set.filesScanned += 1
                add(snapshot.entries[path]!.result, to: &set)
            }
            checkDuplicateNames(in: &set)
            return ChangedLoad(set: set, changedFiles: changedFiles, affectedNames: affected)
        }
    }

    /// `path` spelled as a directory load spells it (`ROOT/sub/name.yaml`), or nil when such a load would
    /// not read it: outside `root`, through a hidden name, or not a schema file name.
    static func canonicalPath(_ path: String, under root: String) -> String? {
        guard path.hasPrefix(root) else { return nil }
        let rest = path.dropFirst(root.count)
        guard root.hasSuffix("/") || rest.hasPrefix("/") else { return nil }
        let components = rest.split(separator: "/", omittingEmptySubsequences: true)
        guard let last = components.last, components.count < 64,
            components.allSatisfy({ !$0.hasPrefix(".") }), isSchemaFileName(String(last))
        else { return nil }
        return root + (root.hasSuffix("/") ? "" : "/") + components.joined(separator: "/")
    }

    /// The directory part of a path spelled by ``canonicalPath(_:under:)``.
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        // The root spelled with its trailing slash (`schemas/`) is the parent of `schemas/x.yaml`.
        return directory.isEmpty ? "/" : directory
    }

    static func names(in result: SchemaFileResult) -> Set<String> {
        Set(result.documents.map(\.schema.name)).union(result.invalid.compactMap(\.name))
    }
}
