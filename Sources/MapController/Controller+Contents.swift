import Foundation
import Governance
import LiveMaps
import Logging
import MapSchema

/// Map contents across a clean restart: saved by ``Controller/shutdown()``, restored by ``Controller/start()``.
///
/// Entries live in memory; the state database holds versions and history, not data. A clean
/// shutdown writes each live map's entries to `STATE/contents/NAME.contents` (see
/// ``ContentsSnapshot``), and the next start loads them into the restored maps before anything is
/// served. Only the files of the run just before are restored, and each is removed once loaded:
/// after a crash nothing stale comes back. A damaged file is refused whole, with a message that
/// says what is wrong, an `invalid` history entry, and the file kept aside as `NAME.contents.damaged`;
/// the map starts empty.
extension Controller {
    nonisolated var contentsDirectory: String { configuration.stateDirectory + "/contents" }

    /// Writes every live map's entries; failures are logged, and do not stop the shutdown.
    func saveContents(run: Int64) {
        var saved = 0
        for name in records.keys.sorted() {
            guard let version = records[name]?.state.liveVersion, let map = registry[name] else { continue }
            let entries = map.jsonEntries()
            do {
                try writeContents(map: name, version: version.description, keyType: map.liveView.schema.keyType, run: run, entries: entries)
                saved += 1
            } catch {
                logger.error(
                    "could not save the map's contents; they are lost at exit", metadata: ["map": .string(name), "error": "\(error)"])
            }
        }
        if saved > 0 {
            logger.info("map contents saved", metadata: ["maps": .stringConvertible(saved), "directory": .string(contentsDirectory)])
        }
    }

    /// The one place entries become a file, as `(key, JSON value)` pairs whatever the map's instance type.
    nonisolated func writeContents(map: String, version: String, keyType: KeyType, run: Int64, entries: [(MapKey, JSONValue)])
        throws(ContentsSnapshotError)
    {
        try ContentsSnapshot(map: map, version: version, keyType: keyType, run: run, entries: entries).write(to: contentsDirectory)
    }

    /// Loads the contents the previous run saved into the maps just restored.
    ///
    /// - Parameter previousRun: The id of the run before this one; files of other runs are stale.
    func restoreContents(previousRun: Int64) {
        let directory = contentsDirectory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for file in names.sorted() where file.hasSuffix(ContentsSnapshot.fileExtension) && !file.hasPrefix(".") {
            let path = directory + "/" + file
            let name = String(file.dropLast(ContentsSnapshot.fileExtension.count))
            let snapshot: ContentsSnapshot
            do {
                snapshot = try ContentsSnapshot.read(from: path)
            } catch {
                refuseDamagedContents(of: name, at: path, error: error)
                continue
            }
            defer { unlink(path) }
            guard snapshot.run == previousRun else {
                logger.notice(
                    "saved contents are from an older run; not restored",
                    metadata: [
                        "map": .string(name), "written_by_run": .stringConvertible(snapshot.run), "file": .string(path),
                    ])
                continue
            }
            guard snapshot.map == name, let map = registry[name] else {
                logger.notice(
                    "saved contents of a map that is not live; not restored", metadata: ["map": .string(name), "file": .string(path)])
                continue
            }
            let report = map.loadJSON(snapshot.entries)
            var metadata: Logger.Metadata = [
                "map": .string(name), "entries": .stringConvertible(report.loaded), "saved_version": .string(snapshot.version),
            ]
            if report.droppedCount > 0 {
                metadata["dropped"] = .stringConvertible(report.droppedCount)
                metadata["dropped_by_reason"] = .string(
                    report.dropped.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
            }
            logger.info("map contents restored", metadata: metadata)
        }
        try? ContentsSnapshot.syncDirectory(directory)
    }

    private func refuseDamagedContents(of name: String, at path: String, error: ContentsSnapshotError) {
        let reason = "saved contents refused: \(error.message); the map starts empty"
        logger.error(
            "saved map contents are damaged; the map starts empty",
            metadata: [
                "map": .string(name), "file": .string(path), "problem": .string(error.message),
                "kept_as": .string(path + ".damaged"),
            ])
        rename(path, path + ".damaged")
        guard let state = records[name]?.state else { return }
        let entry = history(.invalid, version: state.liveVersion, source: path, sha: nil, reason: reason)
        do {
            try store.save(state, appending: [entry], at: clock.currentDate)
        } catch {
            logger.error("could not record the damaged contents in history", metadata: ["map": .string(name), "error": "\(error)"])
        }
    }
}
