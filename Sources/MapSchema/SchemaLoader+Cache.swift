import Synchronization

extension SchemaLoader {
    /// Decoded files by path, reused while a file's fingerprint is unchanged.
    ///
    /// A watched directory of thousands of files changes one file at a time; decoding all of
    /// them again for each change made a one-file change take seconds. The fingerprint is what
    /// `fstat` says of the descriptor the bytes were read from — device, inode, size, and the
    /// modification and status-change times in nanoseconds — so an edit in place, a rename over
    /// the file (a new inode) and a `touch` all read the file again, and a fingerprint taken
    /// before a concurrent write can only cause one more read, never a stale result.
    public final class DecodeCache: Sendable {
        struct Entry: Sendable {
            var fingerprint: FileSystem.Fingerprint
            var result: SchemaFileResult
        }

        private let entries = Mutex<[String: Entry]>([:])
        private let decodes = Atomic<Int>(0)

        public init() {}

        /// How many files were read and decoded (not reused) so far.
        public var decodedFiles: Int { decodes.load(ordering: .relaxed) }

        func result(for path: String, fingerprint: FileSystem.Fingerprint) -> SchemaFileResult? {
            entries.withLock { entries in
                guard let entry = entries[path], entry.fingerprint == fingerprint else { return nil }
                return entry.result
            }
        }

        func store(_ result: SchemaFileResult, for path: String, fingerprint: FileSystem.Fingerprint) {
            decodes.add(1, ordering: .relaxed)
            entries.withLock { $0[path] = Entry(fingerprint: fingerprint, result: result) }
        }

        /// Forgets files not seen in the last load (deleted or renamed away).
        func keep(only paths: Set<String>) {
            entries.withLock { entries in entries = entries.filter { paths.contains($0.key) } }
        }
    }
}
