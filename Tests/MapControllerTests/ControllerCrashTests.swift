import Foundation
import Logging
import MapController
import MapSchema
import TestServers
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Controller crash consistency", .heavy)
struct ControllerCrashTests {
    @Test(
        "a controller applying and rolling back, killed with SIGKILL 50 times, restarts consistent with every acknowledged change",
        .enabled(if: StateStoreCrashChildBinary.path != nil, "build mapctl-bench first (swift build), or set MAPCTL_BENCH to its path"),
        .timeLimit(.minutes(5))
    )
    func killedControllerRestartsConsistent() async throws {
        let binary = try #require(StateStoreCrashChildBinary.path)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mapctl-controller-crash-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var acknowledgedChanges = 0
        var startupRollbacks = 0
        for iteration in 0..<50 {
            let delay = UInt32.random(in: 0...60_000)
            let (ready, acknowledged) = try await runCrashChild(
                binary: binary, subcommand: "controller-crash-child", stateDirectory: directory, delayMicroseconds: delay,
                linesFirst: iteration.isMultiple(of: 2) ? 0 : 1)
            acknowledgedChanges += acknowledged.count

            // Restart in this process: the state must be whole and agree with itself and with what was acknowledged.
            let controller = try Controller(
                configuration: .init(stateDirectory: directory),
                logger: Logger(label: "crash-test") { _ in SwiftLogNoOpLogHandler() }
            )
            try await controller.start()
            let context = "iteration \(iteration) (\(ready), acknowledged \(acknowledged.suffix(3)))"
            guard let status = try? await controller.status(of: "crashy") else {
                #expect(acknowledged.isEmpty && ready == "ready live=none", "\(context): the map is gone")
                await controller.shutdown()
                continue
            }
            let history = try await controller.history(of: "crashy")
            // The live version is the one the last change of history made live.
            let lastChange = history.last { $0.action == .apply || $0.action == .rollback }
            #expect(
                status.liveVersion == lastChange?.version, "\(context): live \(status.liveVersion ?? "nil"), history \(history.suffix(3))")
            // Every quarantine in status has its rollback and quarantine in history.
            for version in status.quarantined {
                #expect(
                    history.contains { $0.action == .quarantine && $0.version == version },
                    "\(context): quarantine of \(version) not in history")
            }
            // Nothing acknowledged is lost.
            for line in acknowledged {
                let parts = line.split(separator: " ").map(String.init)
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "applied":
                    #expect(history.contains { $0.action == .apply && $0.version == parts[1] }, "\(context): acknowledged \(line) lost")
                case "rolledback":
                    #expect(
                        history.contains { $0.action == .rollback && $0.fromVersion == parts[1] }, "\(context): acknowledged \(line) lost")
                default:
                    Issue.record("\(context): unexpected line \(line)")
                }
            }
            if history.last?.action == .quarantine, history.last(where: { $0.action == .rollback })?.source == "controller" {
                startupRollbacks += 1
            }
            // The restored map serves.
            try await controller.putEntry(map: "crashy", key: "probe", json: Array("1".utf8))
            #expect(try await controller.getEntry(map: "crashy", key: "probe") == Array("1".utf8), "\(context)")
            await controller.shutdown()
        }
        // Every other run is killed only after its first acknowledged change, so that kills land while the
        // child works even on a loaded machine (a delay alone gave 48 changes in 50 runs beside the whole suite
        // and two busy loops). Those 25 runs give 25 changes by construction: what this still catches is a
        // child that stops acknowledging (every line it prints is checked against history above).
        #expect(acknowledgedChanges >= 25, "the kills must land while the child works: only \(acknowledgedChanges) changes acknowledged")
        #expect(startupRollbacks > 0, "a kill inside a window must roll that version back at the next start")
    }
}
