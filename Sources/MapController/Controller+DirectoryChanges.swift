import MapSchema

/// A directory reconcile that reads and plans only what changed.
///
/// With 5,000 files in the watched directory, a one-file change took seconds to go live: the whole
/// directory was listed, every file stat'ed, and every document planned again on the actor. When the
/// watcher names the paths that changed (inotify names the file; the poll compares `stat` data), the
/// loader reads only those files and takes the rest from its cache
/// (``SchemaLoader/reload(directory:changed:options:cache:)``), and only the documents of the maps those
/// files named before or name now are planned. Every other map's document is the one the last reconcile
/// planned, unchanged. The periodic resync, the first reconcile and anything the loader cannot follow
/// file by file (a directory, a symbolic link, an inotify overflow) still load and plan the whole
/// directory.
extension Controller {
    /// A directory as loaded for one reconcile, and which of its documents that reconcile concerns.
    struct DirectoryLoad: Sendable {
        var set: SchemaSet
        /// The files read again or gone; nil when the whole directory was loaded.
        var changedFiles: Set<String>?
        /// The maps those files named before or name now; nil when the whole directory was loaded.
        var affectedNames: Set<String>?

        /// Whether a document (or an invalid one, with its name when it has one) is to be planned again.
        func concerns(name: String?, file: String) -> Bool {
            guard let changedFiles, let affectedNames else { return true }
            if let name { return affectedNames.contains(name) }
            return changedFiles.contains(file)
        }

        var isWhole: Bool { changedFiles == nil }
    }

    /// Loads `path` on a thread of its own, not on the actor: only `changed` when the loader can follow
    /// them, the whole directory otherwise (or when `changed` is nil).
    nonisolated func loadDirectory(_ path: String, changed: Set<String>?, options: SchemaDecoder.Options) async -> DirectoryLoad {
        let cache = directoryDecodeCache
        return await offActor {
            if let changed, let load = SchemaLoader.reload(directory: path, changed: changed, options: options, cache: cache) {
                return DirectoryLoad(set: load.set, changedFiles: load.changedFiles, affectedNames: load.affectedNames)
            }
            return DirectoryLoad(set: SchemaLoader.load(paths: [path], options: options, cache: cache))
        }
    }

    /// The plan of a document identical to the live one, decided from memory, or nil when it is not.
    ///
    /// A resync (or an apply of documents that are already live) plans thousands of such documents, and the
    /// full planning reads the store for each (the document once applied at that version). For a document
    /// whose content is the live document's, not quarantined, the planner's answer is known without it:
    /// the content at that version can only be the live one, and the decision is "unchanged".
    func unchangedPlan(_ document: SchemaDocument, source: String) -> PlanDecision? {
        let name = document.schema.name
        guard let record = records[name], let live = record.live, live.contentSHA256 == document.contentSHA256,
            live.schema.version.hasSamePrecedence(as: document.schema.version), registry[name] != nil,
            !record.state.isQuarantined(version: document.schema.version, contentSHA256: document.contentSHA256),
            fleetQuarantine(of: document) == nil
        else { return nil }
        var entry = PlanEntry(name: name, action: .unchanged, toVersion: document.schema.version.description, source: source)
        entry.fromVersion = live.schema.version.description
        return PlanDecision(kind: .unchanged, entry: entry)
    }
}
