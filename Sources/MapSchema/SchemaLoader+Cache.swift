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
    ///
    /// After a load of one directory the cache holds every file of it, so that a load of only the
    /// files known to have changed (``SchemaLoader/reload(directory:changed:options:cache:)``) can
    /// give the whole directory without listing it. Loads through one cache run one at a time.
    public final class DecodeCache: Sendable {
        struct Entry: Sendable {
            /// Nil for a file that could not be read: never reused, read again by every load.
            var fingerprint: FileSystem.Fingerprint?
            var result: SchemaFileResult
        }

        struct State: Sendable {
            var entries: [String: Entry] = [:]
            /// The directory the last load read whole, when it can be followed by loads of changed files.
            var root: String?
            /// The directories that load went through (the root and those below it).
            var directories: Set<String> = []
        }

        private let state = Mutex(State())
        private let decodes = Atomic<Int>(0)
        /// Held for a whole load: loads through one cache do not interleave.
        private let loading = Mutex(())

        public init() {}

        /// How many files were read and decoded (not reused) so far.
        public var decodedFiles: Int { decodes.load(ordering: .relaxed) }

        func exclusively<Result: Sendable>(_ body: () -> Result) -> Result {
            loading.withLock { _ in body() }
        }

        func result(for path: String, fingerprint: FileSystem.Fingerprint) -> SchemaFileResult? {
            state.withLock { state in
                guard let entry = state.entries[path], entry.fingerprint == fingerprint else { return nil }
                return entry.result
            }
        }

        func store(_ result: SchemaFileResult, for path: String, fingerprint: FileSystem.Fingerprint) {
            decodes.add(1, ordering: .relaxed)
            state.withLock { $0.entries[path] = Entry(fingerprint: fingerprint, result: result) }
        }

        /// Keeps what a file that could not be read gave, so that the directory's result holds it; the next load reads it again.
        func storeUnreadable(_ result: SchemaFileResult, for path: String) {
            state.withLock { $0.entries[path] = Entry(fingerprint: nil, result: result) }
        }

        /// Forgets files not seen in the last load (deleted or renamed away).
        func keep(only paths: Set<String>) {
            state.withLock { state in state.entries = state.entries.filter { paths.contains($0.key) } }
        }

        /// Records what the last load read whole (nil: nothing a load of changed files may follow).
        func prime(root: String?, directories: Set<String>) {
            state.withLock { state in
                state.root = root
                state.directories = root == nil ? [] : directories
            }
        }

        /// Runs `body` on the cache's state under its lock.
        func withState<Result: Sendable>(_ body: (inout State) -> Result) -> Result {
            state.withLock { body(&$0) }
        }

        func countDecode() {
            decodes.add(1, ordering: .relaxed)
        }
    }
}
