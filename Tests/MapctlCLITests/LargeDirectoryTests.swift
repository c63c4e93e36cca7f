import Foundation
import TestServers
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A watched directory of thousands of files: a one-file change is read and planned alone (inotify names
/// the file), so that it goes live as fast as in a directory of ten.
@Suite("Daemon: a one-file change in a directory of 5,000 files", .serialized, .heavy)
struct LargeDirectoryTests {
    static let files = 5_000

    static func schema(_ index: Int, version: String) -> String {
        "name: m_\(index)\nversion: \(version)\nkey_type: string\nvalue_type: string\n"
    }

    static func get(_ url: String) async -> (status: Int, object: [String: Any]?) {
        guard let (data, response) = try? await URLSession.shared.data(from: URL(string: url)!) else { return (0, nil) }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, try? JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("An edited file among 5,000 goes live promptly, without re-reading the rest (inotify); created and deleted ones too")
    func oneFileChangeGoesLiveQuickly() async throws {
        let layout = try DaemonProcess.Layout.make()
        defer { layout.remove() }
        for index in 0..<Self.files {
            try Data(Self.schema(index, version: "1.0.0").utf8).write(to: layout.schemas.appendingPathComponent("m_\(index).yaml"))
        }
        let session = try await Session.start(layout: layout)
        // The first reconcile creates 5,000 maps; readiness waits for it (the bound is a backstop).
        let readyBy = ContinuousClock.now + .seconds(300)
        while await Self.get(session.daemon.url + "/readyz").status != 200 {
            #expect(ContinuousClock.now < readyBy, "not ready after 300 s")
            if ContinuousClock.now >= readyBy { return }
            try await Task.sleep(for: .milliseconds(200))
        }

        /// Polls the map's status until `condition` holds; the time from `start`, or nil after 30 s.
        func timeUntil(_ map: String, from start: ContinuousClock.Instant, _ condition: (Int, [String: Any]?) -> Bool) async throws
            -> Duration?
        {
            while ContinuousClock.now - start < .seconds(30) {
                let answer = await Self.get(session.daemon.url + "/v1/maps/" + map)
                if condition(answer.status, answer.object) { return ContinuousClock.now - start }
                try await Task.sleep(for: .milliseconds(5))
            }
            return nil
        }

        var edits: [Duration] = []
        for round in 1...5 {
            let index = (round * 997) % Self.files
            let version = "1.\(round).0"
            let start = ContinuousClock.now
            try layout.writeSchema("m_\(index).yaml", Self.schema(index, version: version))
            let took = try await timeUntil("m_\(index)", from: start) { _, object in object?["live_version"] as? String == version }
            let edit = try #require(took, "m_\(index) never went live at \(version)")
            edits.append(edit)
        }
        // The 100 ms target is measured in release on a quiet machine by scripts/bench-control-plane.sh (52 ms
        // p50, BENCHMARKS.md). This is a debug build beside the rest of the suite (1.0–3.5 s per edit seen
        // there), so the bound is a backstop against a wedged or polling-only watcher, not the target.
        let median = edits.sorted()[edits.count / 2]
        #expect(median < .seconds(5), "edits: \(edits)")
        let createStart = ContinuousClock.now
        try layout.writeSchema("new.yaml", Self.schema(Self.files, version: "1.0.0"))
        let created = try await timeUntil("m_\(Self.files)", from: createStart) { status, _ in status == 200 }
        #expect(created.map { $0 < .seconds(5) } == true, "created: \(String(describing: created))")

        print("one-file change among \(Self.files) files went live after: edits \(edits), a new file \(String(describing: created))")
        // Not a test of the shutdown (saving 5,000 maps' contents is another matter): SIGKILL.
        _ = try await session.daemon.stop(signal: SIGKILL)
    }
}
