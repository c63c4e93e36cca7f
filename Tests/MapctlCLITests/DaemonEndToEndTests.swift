import Foundation
import Synchronization
import TestServers
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The command line against a real `mapctl watch` daemon on port 0.
///
/// Serialized: the rollback timing test must not compete for the machine's two cores with
/// other daemons.
@Suite("mapctl against a real daemon", .serialized, .heavy)
struct DaemonEndToEndTests {
    @Test("apply creates a live map; put, get and delete its entries; exit codes of each")
    func applyAndEntries() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let file = try session.layout.writeWorkFile("orders.yaml", Fixture.schema("orders", version: "v1.0.0"))

        let dryRun = try await session.mapctl(["apply", "-f", file, "--dry-run"])
        #expect(dryRun.exitCode == 0, "\(dryRun)")
        #expect(dryRun.stdout.contains("orders: would create 1.0.0"))
        let notYet = try await session.mapctl(["status", "orders"])
        #expect(notYet.exitCode == 1, "a dry run creates nothing: \(notYet)")

        let applied = try await session.mapctl(["apply", "-f", file, "--wait"])
        #expect(applied.exitCode == 0, "\(applied)")
        #expect(applied.stdout.contains("orders: created 1.0.0"))
        let status = try await session.status("orders")
        #expect(status["live_version"] as? String == "1.0.0")
        #expect(status["desired_version"] as? String == "1.0.0")
        let all = try await session.mapctl(["status", "-o", "json"])
        let maps = try #require(
            (try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])?["maps"] as? [[String: Any]])
        #expect(maps.map { $0["name"] as? String } == ["orders"])

        let again = try await session.mapctl(["apply", "-f", file])
        #expect(again.exitCode == 0)
        #expect(again.stdout.contains("orders: unchanged"))

        // Keys with a slash, a space and a percent sign travel as one path segment.
        let key = "a/b c%d"
        #expect(try await session.mapctl(["put", "orders", key, #"{"total": 42}"#]).exitCode == 0)
        let got = try await session.mapctl(["get", "orders", key])
        #expect(got.exitCode == 0, "\(got)")
        #expect(got.stdout.replacingOccurrences(of: " ", with: "") == #"{"total":42}"# + "\n")
        #expect(try await session.mapctl(["put", "orders", "n", "-"], stdin: "7").exitCode == 0)
        #expect(try await session.mapctl(["get", "orders", "n"]).stdout == "7\n")
        #expect(try await session.status("orders")["entries"] as? Int == 2)

        #expect(try await session.mapctl(["delete", "orders", key]).exitCode == 0)
        let missing = try await session.mapctl(["get", "orders", key])
        #expect(missing.exitCode == 1)
        #expect(missing.stderr.hasPrefix("mapctl: "))
        #expect(try await session.mapctl(["delete", "orders", key]).exitCode == 1)
        let noMap = try await session.mapctl(["get", "no_such_map", "k"])
        #expect(noMap.exitCode == 1)
        #expect(try await session.mapctl(["put", "no_such_map", "k", "1"]).exitCode == 1)
        #expect(try await session.mapctl(["status", "no_such_map"]).exitCode == 1)
        #expect(try await session.mapctl(["history", "no_such_map"]).exitCode == 1)

        let stopped = try await session.daemon.stop(signal: SIGTERM)
        #expect(stopped.exitCode == 0, "SIGTERM ends the daemon with 0: \(stopped)")
        #expect(!stopped.timedOut)
    }

    @Test("apply without the token is refused with a message; malformed documents exit 1 with diagnostics")
    func refusals() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let file = try session.layout.writeWorkFile("a.yaml", Fixture.schema("a_map", version: "1.0.0"))

        let noToken = try await session.mapctl(["apply", "-f", file], withToken: false)
        #expect(noToken.exitCode == 1, "\(noToken)")
        #expect(noToken.stderr.contains("mapctl: "))
        #expect(noToken.stderr.lowercased().contains("token"))
        #expect(try await session.mapctl(["status", "a_map"]).exitCode == 1, "nothing was applied")
        let rollbackNoToken = try await session.mapctl(["rollback", "a_map"], withToken: false)
        #expect(rollbackNoToken.exitCode == 1)

        // The token from --state, as an operator on the daemon's machine uses it.
        let byState = try await session.cli.run(
            ["apply", "-f", file, "--state", session.layout.state.path],
            environment: ["MAPCTL_SERVER": session.daemon.url, "MAPCTL_TOKEN": nil], directory: session.layout.work
        )
        #expect(byState.exitCode == 0, "\(byState)")

        let bad = try await session.mapctl(["apply", "-f", "-"], stdin: "name: a_map\nversion: 1.1.0\nkey_type: strng\nvalue_type: json\n")
        #expect(bad.exitCode == 1, "\(bad)")
        #expect(bad.stderr.contains("<stdin>:3:11: error: "), "\(bad.stderr)")
        #expect(bad.stdout.contains("a_map: invalid"))
        // A directory, walked recursively: diagnostics name the user's file and its own line numbers.
        let directory = session.layout.work.appendingPathComponent("tree")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data(Fixture.schema("tree_a", version: "1.0.0").utf8).write(to: directory.appendingPathComponent("a.yaml"))
        try Data("name: tree_b\nversion: 1.0.0\nkey_type: string\nvalue_type: json\nstrategy: shardd\n".utf8)
            .write(to: directory.appendingPathComponent("sub/b.yml"))
        try Data("not: a schema".utf8).write(to: directory.appendingPathComponent("sub/notes.txt"))
        let tree = try await session.mapctl(["apply", "-f", directory.path])
        #expect(tree.exitCode == 1, "\(tree)")
        #expect(tree.stdout.contains("tree_a: created 1.0.0"), "valid documents are applied: \(tree)")
        #expect(tree.stderr.contains("\(directory.path)/sub/b.yml:5:11: error: "), "\(tree.stderr)")
        #expect(try await session.status("tree_a")["live_version"] as? String == "1.0.0")

        let notYAML = try await session.mapctl(["apply", "-f", "-"], stdin: "{ this is: [not yaml\n")
        #expect(notYAML.exitCode == 1)
        #expect(notYAML.stderr.contains("error:"))
        #expect(try await session.status("a_map")["live_version"] as? String == "1.0.0", "an invalid document leaves the live version")
        _ = try await session.daemon.stop()
    }

    @Test("diff exits 0 without changes, 1 with changes, 2 for an invalid document")
    func diff() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let v1 = try session.layout.writeWorkFile("d1.yaml", Fixture.schema("d_map", version: "1.0.0"))
        let v2 = try session.layout.writeWorkFile("d2.yaml", Fixture.schema("d_map", version: "1.1.0", extra: "ttl: 10m"))
        let create = try await session.mapctl(["diff", "-f", v1])
        #expect(create.exitCode == 1, "\(create)")
        #expect(create.stdout.contains("d_map: create 1.0.0"))
        #expect(try await session.mapctl(["apply", "-f", v1]).exitCode == 0)
        let same = try await session.mapctl(["diff", "-f", v1])
        #expect(same.exitCode == 0, "\(same)")
        #expect(same.stdout == "d_map: unchanged\n")
        let update = try await session.mapctl(["diff", "-f", v2])
        #expect(update.exitCode == 1)
        #expect(update.stdout.contains("d_map: update 1.0.0 → 1.1.0 ("))
        #expect(try await session.status("d_map")["live_version"] as? String == "1.0.0", "diff changes nothing")
        let invalid = try await session.mapctl(["diff", "-f", "-"], stdin: "name: d_map\nversion: nope\n")
        #expect(invalid.exitCode == 2, "\(invalid)")
        let json = try await session.mapctl(["diff", "-f", v2, "-o", "json"])
        #expect(json.exitCode == 1)
        #expect((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["plan"] != nil)
        _ = try await session.daemon.stop()
    }

    @Test("Editing a file and swapping a ConfigMap's ..data make the new versions live")
    func directoryChanges() async throws {
        let layout = try DaemonProcess.Layout.make()
        defer { layout.remove() }
        try layout.writeSchema("edited.yaml", Fixture.schema("edited", version: "1.0.0"))
        // The kubelet's layout: NAME -> ..data/NAME, ..data -> ..TIMESTAMP (swapped atomically).
        let manager = FileManager.default
        let first = layout.schemas.appendingPathComponent("..2024_01_01_00_00_00.000000001")
        try manager.createDirectory(at: first, withIntermediateDirectories: true)
        try Data(Fixture.schema("mounted", version: "1.0.0").utf8).write(to: first.appendingPathComponent("mounted.yaml"))
        try manager.createSymbolicLink(
            atPath: layout.schemas.appendingPathComponent("..data").path, withDestinationPath: first.lastPathComponent)
        try manager.createSymbolicLink(
            atPath: layout.schemas.appendingPathComponent("mounted.yaml").path, withDestinationPath: "..data/mounted.yaml")

        let session = try await Session.start(layout: layout)
        _ = try await session.waitForStatus("edited") { $0["live_version"] as? String == "1.0.0" }
        _ = try await session.waitForStatus("mounted") { $0["live_version"] as? String == "1.0.0" }

        try layout.writeSchema("edited.yaml", Fixture.schema("edited", version: "1.1.0", extra: "ttl: 1h"))
        let edited = try await session.waitForStatus("edited") { $0["live_version"] as? String == "1.1.0" }
        #expect(edited["desired_version"] as? String == "1.1.0")

        let second = layout.schemas.appendingPathComponent("..2024_01_01_00_01_00.000000002")
        try manager.createDirectory(at: second, withIntermediateDirectories: true)
        try Data(Fixture.schema("mounted", version: "1.1.0", extra: "ttl: 1h").utf8).write(
            to: second.appendingPathComponent("mounted.yaml"))
        let temporary = layout.schemas.appendingPathComponent("..data_tmp").path
        try manager.createSymbolicLink(atPath: temporary, withDestinationPath: second.lastPathComponent)
        #expect(rename(temporary, layout.schemas.appendingPathComponent("..data").path) == 0)
        try manager.removeItem(at: first)
        _ = try await session.waitForStatus("mounted") { $0["live_version"] as? String == "1.1.0" }

        let history = try await session.history("edited")
        #expect(history.compactMap { $0["version"] as? String }.suffix(2) == ["1.0.0", "1.1.0"])
        _ = try await session.daemon.stop()
    }

    @Test("A faulty version under write load is rolled back after failure_limit failed checks, losing no acknowledged write")
    func automaticRollback() async throws {
        let session = try await Session.start(arguments: ["--enable-fault-injection"])
        defer { session.layout.remove() }
        // A window long enough that even a crawling machine judges the version before it ends.
        // How soon the rollback comes is a benchmark's question; this test checks that it comes,
        // after exactly failure_limit consecutive failed checks.
        let rollout = """
            rollback_window: 10m
            rollout:
              standby: warm
              interval: 500ms
              min_ops: 10
              failure_limit: 3
              max_faults: 0
            """
        let v1 = try session.layout.writeWorkFile("hot1.yaml", Fixture.schema("hot", version: "1.0.0", valueType: "int64", extra: rollout))
        let v2 = try session.layout.writeWorkFile(
            "hot2.yaml",
            Fixture.schema("hot", version: "1.1.0", valueType: "int64", extra: rollout + "\nfault_injection:\n  fault_rate: 0.5")
        )
        let v3 = try session.layout.writeWorkFile("hot3.yaml", Fixture.schema("hot", version: "1.2.0", valueType: "int64", extra: rollout))
        #expect(try await session.mapctl(["apply", "-f", v1]).exitCode == 0)

        // Writers: unique keys, a record of what was acknowledged.
        let client = EntryClient(baseURL: session.daemon.url)
        let stop = StopFlag()
        let acknowledgedCount = Counter()
        let writers = Task {
            try await withThrowingTaskGroup(of: [Int].self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var acknowledged: [Int] = []
                        var index = worker
                        while !stop.isSet {
                            let status = await client.put(map: "hot", key: "k\(index)", json: String(index))
                            if (200..<300).contains(status) {
                                acknowledged.append(index)
                                acknowledgedCount.increment()
                            }
                            index += 4
                        }
                        return acknowledged
                    }
                }
                var all: [Int] = []
                for try await part in group { all += part }
                return all
            }
        }
        // The load is real before the bad version comes, and goes on after the rollback.
        try await acknowledgedCount.wait(atLeast: 50)

        let applied = try await session.mapctl(["apply", "-f", v2])
        #expect(applied.exitCode == 0, "\(applied)")
        let rolledBack = try await session.waitForStatus("hot") { $0["phase"] as? String == "rolled_back" }
        try await acknowledgedCount.wait(atLeast: acknowledgedCount.value + 20)
        stop.set()
        let acknowledged = try await writers.value
        #expect(acknowledged.count > 50, "the load was real: \(acknowledged.count) acknowledged writes")

        #expect(rolledBack["live_version"] as? String == "1.0.0")
        let checks = try #require(rolledBack["checks"] as? [String: Any], "\(rolledBack)")
        #expect((checks["failed"] as? Int ?? 0) >= 3, "rolled back after failure_limit (3) failed checks: \(checks)")
        #expect((rolledBack["quarantined"] as? [String])?.contains("1.1.0") == true)
        for index in acknowledged {
            let (status, body) = await client.get(map: "hot", key: "k\(index)")
            #expect(status == 200 && body.trimmingCharacters(in: .whitespacesAndNewlines) == String(index), "k\(index): \(status) \(body)")
        }

        let history = try await session.history("hot")
        let rollback = try #require(history.first { $0["action"] as? String == "rollback" })
        #expect(rollback["from_version"] as? String == "1.1.0")
        #expect(rollback["version"] as? String == "1.0.0")
        #expect(((rollback["reason"] as? String) ?? "").hasPrefix("3 consecutive failed checks"), "\(rollback)")
        #expect(history.contains { $0["action"] as? String == "quarantine" && $0["version"] as? String == "1.1.0" })
        let table = try await session.mapctl(["history", "hot"])
        #expect(table.stdout.hasPrefix("TIME "))
        #expect(table.stdout.contains("rollback"))
        let statusTable = try await session.mapctl(["status"])
        #expect(statusTable.stdout.contains("*hot"), "drift is marked: \(statusTable.stdout)")
        #expect(statusTable.stdout.contains("quarantined 1.1.0"))
        #expect(!statusTable.stdout.contains("\u{1B}["), "no colour off a terminal")

        // The same quarantined document again: not applied.
        let reapplied = try await session.mapctl(["apply", "-f", v2])
        #expect(reapplied.stdout.contains("quarantined"), "\(reapplied)")
        #expect(try await session.status("hot")["live_version"] as? String == "1.0.0")

        // Manual rollback to any version in history.
        #expect(try await session.mapctl(["apply", "-f", v3, "--wait"]).exitCode == 0)
        let manual = try await session.mapctl(["rollback", "hot", "--to", "1.0.0", "--reason", "back to the first"])
        #expect(manual.exitCode == 0, "\(manual)")
        #expect(manual.stdout.contains("rolled back to 1.0.0"))
        #expect(try await session.status("hot")["live_version"] as? String == "1.0.0")
        let afterManual = try await session.history("hot")
        #expect(
            afterManual.contains {
                $0["action"] as? String == "rollback" && (($0["reason"] as? String) ?? "").contains("back to the first")
            })
        let unknown = try await session.mapctl(["rollback", "hot", "--to", "9.9.9"])
        #expect(unknown.exitCode == 1, "\(unknown)")
        #expect(unknown.stderr.hasPrefix("mapctl: "))
        _ = try await session.daemon.stop()
    }

    @Test(
        "status colours only on a terminal, and never with NO_COLOR",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func colour() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let file = try session.layout.writeWorkFile("c.yaml", Fixture.schema("coloured", version: "1.0.0"))
        #expect(try await session.mapctl(["apply", "-f", file]).exitCode == 0)
        func onTerminal(noColor: Bool) throws -> String {
            // script(1) gives the command a pseudo-terminal as its stdout.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            process.arguments = ["-qec", "\(session.cli.executable.path) status --server \(session.daemon.url)", "/dev/null"]
            var environment = ProcessInfo.processInfo.environment
            environment.removeValue(forKey: "NO_COLOR")
            if noColor { environment["NO_COLOR"] = "1" }
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let coloured = try onTerminal(noColor: false)
        #expect(coloured.contains("coloured"), "\(coloured)")
        #expect(coloured.contains("\u{1B}["), "a terminal gets colour")
        let plain = try onTerminal(noColor: true)
        #expect(plain.contains("coloured"))
        #expect(!plain.contains("\u{1B}["), "NO_COLOR wins")
        let piped = try await session.mapctl(["status"])
        #expect(!piped.stdout.contains("\u{1B}["), "no colour into a pipe")
        _ = try await session.daemon.stop()
    }

    @Test("SIGKILL and a restart on the same state restore live versions, quarantines and history")
    func killAndRestart() async throws {
        let session = try await Session.start()
        let layout = session.layout
        defer { layout.remove() }
        let quick = "rollback_window: 2s\nrollout:\n  interval: 500ms"
        let a = try layout.writeWorkFile("a.yaml", Fixture.schema("kept_a", version: "1.0.0"))
        let b1 = try layout.writeWorkFile("b1.yaml", Fixture.schema("kept_b", version: "1.0.0", extra: quick))
        let b2 = try layout.writeWorkFile("b2.yaml", Fixture.schema("kept_b", version: "1.1.0", extra: quick + "\nttl: 1h"))
        let c1 = try layout.writeWorkFile("c1.yaml", Fixture.schema("kept_c", version: "1.0.0"))
        let c2 = try layout.writeWorkFile("c2.yaml", Fixture.schema("kept_c", version: "1.1.0", extra: "ttl: 1h"))
        for file in [a, b1, c1] { #expect(try await session.mapctl(["apply", "-f", file]).exitCode == 0) }
        #expect(try await session.mapctl(["apply", "-f", b2]).exitCode == 0)
        #expect(try await session.mapctl(["apply", "-f", c2]).exitCode == 0)
        _ = try await session.waitForStatus("kept_b") { $0["phase"] as? String == "stable" && $0["live_version"] as? String == "1.1.0" }
        let rolled = try await session.mapctl(["rollback", "kept_c", "--reason", "before the crash"])
        #expect(rolled.exitCode == 0, "\(rolled)")
        let historyBefore = try await session.history("kept_c")

        let killed = try await session.daemon.stop(signal: SIGKILL)
        #expect(killed.exitCode != 0)

        let restarted = try await Session.start(layout: layout)
        #expect(try await restarted.status("kept_a")["live_version"] as? String == "1.0.0")
        #expect(try await restarted.status("kept_b")["live_version"] as? String == "1.1.0")
        let c = try await restarted.status("kept_c")
        #expect(c["live_version"] as? String == "1.0.0")
        #expect((c["quarantined"] as? [String]) == ["1.1.0"])
        let historyAfter = try await restarted.history("kept_c")
        #expect(historyAfter.count >= historyBefore.count)
        #expect(historyAfter.prefix(historyBefore.count).map { $0["action"] as? String } == historyBefore.map { $0["action"] as? String })
        #expect(historyAfter.contains { (($0["reason"] as? String) ?? "").contains("before the crash") })
        let stopped = try await restarted.daemon.stop(signal: SIGINT)
        #expect(stopped.exitCode == 0, "SIGINT ends the daemon with 0: \(stopped)")
    }
}

/// A flag the writers poll, set once by the test.
final class StopFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}

/// Acknowledged writes so far, for the test to wait on instead of sleeping.
final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func increment() { count.withLock { $0 += 1 } }

    /// Polls until the count reaches `target`; fails after a minute (a backstop against writers
    /// that stopped, not a speed check).
    func wait(atLeast target: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while value < target {
            if ContinuousClock.now >= deadline { throw DaemonError("only \(value) of \(target) writes acknowledged") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
