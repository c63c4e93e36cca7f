#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Loads schema files from paths the way `mapctl validate` and the watcher see them.
public enum SchemaLoader {
    /// Loads files, directories and `-` (stdin), and checks names across them.
    ///
    /// Directories are read recursively in sorted order, skipping dotfiles,
    /// dot-directories, editor temp, swap and backup files and files that are
    /// not `.yaml`/`.yml`. Symlinks are followed when their target stays inside
    /// the directory, so the Kubernetes ConfigMap layout (`name.yaml` →
    /// `..data/name.yaml` → `..2024_…/name.yaml`) is read through the links,
    /// once, and never by descending into `..data`. A file named explicitly is
    /// read whatever its name. Two documents with the same map name are both
    /// reported invalid.
    ///
    /// - Parameter cache: Decoded files to reuse while their fingerprint is unchanged (the
    ///   watcher's reconciles); each load reads only the files that changed since the last. A load of
    ///   one directory also primes it for ``reload(directory:changed:options:cache:)``.
    public static func load(paths: [String], options: SchemaDecoder.Options = .init(), cache: DecodeCache? = nil) -> SchemaSet {
        guard let cache else { return loadAll(paths: paths, options: options, cache: nil) }
        return cache.exclusively { loadAll(paths: paths, options: options, cache: cache) }
    }

    private static func loadAll(paths: [String], options: SchemaDecoder.Options, cache: DecodeCache?) -> SchemaSet {
        let decoder = SchemaDecoder(options: options)
        var set = SchemaSet()
        var seenRealPaths: Set<String> = []
        var seenFiles: Set<String> = []
        var tree = Tree()
        for path in paths {
            if path == "-" {
                set.filesScanned += 1
                add(decoder.decode(readStandardInput(limit: options.maxFileBytes + 1), file: "<stdin>"), to: &set)
                continue
            }
            guard let kind = FileSystem.kind(of: path, followingLinks: true) else {
                let diagnostic = Diagnostic(file: path, line: 0, column: 0, message: "no such file or directory")
                set.invalid.append(InvalidDocument(file: path, diagnostics: [diagnostic]))
                set.diagnostics.append(diagnostic)
                continue
            }
            let files: [String]
            if kind == .directory {
                do {
                    files = try schemaFiles(in: path, tree: &tree)
                } catch {
                    let diagnostic = Diagnostic(file: path, line: 0, column: 0, message: "cannot read directory: \(error)")
                    set.invalid.append(InvalidDocument(file: path, diagnostics: [diagnostic]))
                    set.diagnostics.append(diagnostic)
                    continue
                }
            } else {
                files = [path]
            }
            for file in files {
                if let real = FileSystem.realPath(file) {
                    guard seenRealPaths.insert(real).inserted else { continue }
                }
                set.filesScanned += 1
                seenFiles.insert(file)
                if let cache, let fingerprint = FileSystem.fingerprint(of: file),
                    let result = cache.result(for: file, fingerprint: fingerprint)
                {
                    add(result, to: &set)
                    continue
                }
                switch FileSystem.readFileWithFingerprint(file, limit: options.maxFileBytes + 1) {
                case .success(let (bytes, fingerprint)):
                    let result = decoder.decode(bytes, file: file)
                    cache?.store(result, for: file, fingerprint: fingerprint)
                    add(result, to: &set)
                case .failure(let failure):
                    let result = unreadable(file, failure)
                    cache?.storeUnreadable(result, for: file)
                    add(result, to: &set)
                }
            }
        }
        cache?.keep(only: seenFiles)
        // Only a load of exactly one directory, with no symbolic link in it, can be followed by loads of its changed files.
        let isOneDirectory = paths.count == 1 && FileSystem.kind(of: paths[0], followingLinks: true) == .directory
        cache?.prime(root: isOneDirectory && !tree.hasLinks ? paths[0] : nil, directories: tree.directories)
        checkDuplicateNames(in: &set)
        return set
    }

    /// The result of a file that could not be read: one invalid document with the reason.
    static func unreadable(_ file: String, _ failure: FileSystem.Failure) -> SchemaFileResult {
        let diagnostic = Diagnostic(file: file, line: 0, column: 0, message: "cannot read file: \(failure)")
        return SchemaFileResult(invalid: [InvalidDocument(file: file, diagnostics: [diagnostic])], diagnostics: [diagnostic])
    }

    /// What a directory walk met besides files: the directories it went through and whether a symbolic link was among them.
    struct Tree {
        var directories: Set<String> = []
        var hasLinks = false
    }

    /// The schema files a directory holds now, sorted, as ``load(paths:options:)`` would see them.
    ///
    /// - Throws: ``FileSystem/Failure`` when the directory cannot be read.
    public static func schemaFiles(in directory: String) throws -> [String] {
        var tree = Tree()
        return try schemaFiles(in: directory, tree: &tree)
    }

    static func schemaFiles(in directory: String, tree: inout Tree) throws -> [String] {
        guard let root = FileSystem.realPath(directory) else { throw FileSystem.Failure(message: "no such directory", path: directory) }
        var files: [String] = []
        var visited: Set<String> = [root]
        tree.directories.insert(directory)
        try collect(directory: directory, realRoot: root, into: &files, visited: &visited, tree: &tree, depth: 0)
        return files.sorted()
    }

    /// Whether a file name is one the loader reads when it meets it in a directory.
    public static func isSchemaFileName(_ name: String) -> Bool {
        guard !name.hasPrefix("."), !name.hasPrefix("#"), !name.hasSuffix("~") else { return false }
        let lowered = name.lowercased()
        return lowered.hasSuffix(".yaml") || lowered.hasSuffix(".yml")
    }

    private static func collect(
        directory: String, realRoot: String, into files: inout [String], visited: inout Set<String>, tree: inout Tree, depth: Int
    ) throws {
        guard depth < 64 else { return }
        for name in try FileSystem.entries(of: directory).sorted() {
            guard !name.hasPrefix(".") else { continue }
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            let isLink = FileSystem.kind(of: path, followingLinks: false) == .symlink
            guard let kind = FileSystem.kind(of: path, followingLinks: true) else { continue }
            if isLink {
                tree.hasLinks = true
                guard let real = FileSystem.realPath(path), real == realRoot || real.hasPrefix(realRoot + "/") else { continue }
            }
            switch kind {
            case .directory:
                guard let real = FileSystem.realPath(path), visited.insert(real).inserted else { continue }
                tree.directories.insert(path)
                try collect(directory: path, realRoot: realRoot, into: &files, visited: &visited, tree: &tree, depth: depth + 1)
            case .regular:
                if isSchemaFileName(name) { files.append(path) }
            case .symlink, .other:
                continue
            }
        }
    }

    static func add(_ result: SchemaFileResult, to set: inout SchemaSet) {
        set.documents += result.documents
        set.invalid += result.invalid
        set.diagnostics += result.diagnostics
    }

    static func checkDuplicateNames(in set: inout SchemaSet) {
        var byName: [String: [Int]] = [:]
        for (index, document) in set.documents.enumerated() { byName[document.schema.name, default: []].append(index) }
        let duplicated = byName.filter { $0.value.count > 1 }
        guard !duplicated.isEmpty else { return }
        var removed: Set<Int> = []
        for (name, indices) in duplicated.sorted(by: { $0.value[0] < $1.value[0] }) {
            let first = set.documents[indices[0]]
            let second = set.documents[indices[1]]
            for (position, index) in indices.enumerated() {
                let document = set.documents[index]
                let message =
                    position == 0
                    ? "map name '\(name)' is also used at \(second.file):\(second.nameLine):\(second.nameColumn)"
                    : "duplicate map name '\(name)' (first used at \(first.file):\(first.nameLine):\(first.nameColumn))"
                let diagnostic = Diagnostic(file: document.file, line: document.nameLine, column: document.nameColumn, message: message)
                set.invalid.append(
                    InvalidDocument(
                        file: document.file, name: name, version: document.schema.version.description, diagnostics: [diagnostic])
                )
                removed.insert(index)
            }
        }
        set.documents = set.documents.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        set.diagnostics += set.invalid.suffix(removed.count).flatMap(\.diagnostics)
    }

    private static func readStandardInput(limit: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return bytes
    }
}
