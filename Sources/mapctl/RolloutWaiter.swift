import Foundation
import MapController

/// `apply --wait`: polls each applied map until its new version is live, or rolled back.
struct RolloutWaiter {
    var client: ControllerClient
    /// Seconds.
    var timeout: Double
    var pollInterval: Double = 0.2

    func wait(for plan: [PlanEntry]) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        for entry in plan where entry.action == .create || entry.action == .update {
            guard let target = entry.toVersion else { continue }
            try await wait(name: entry.name, version: target, deadline: deadline)
        }
    }

    private func wait(name: String, version: String, deadline: Date) async throws {
        var lastProgress = Date.distantPast
        while true {
            let body = try await client.expectSuccess("GET", "/v1/maps/\(ControllerClient.pathSegment(name))")
            let status = try ControllerClient.decode(MapStatus.self, from: body)
            if status.quarantined.contains(version) || (status.phase == .rolledBack && status.liveVersion != version) {
                throw CommandFailure(
                    "\(name): \(version) was rolled back to \(status.liveVersion ?? "nothing")"
                        + (status.reason.map { ": \($0)" } ?? "")
                )
            }
            if status.liveVersion == version {
                Console.out("\(name): \(version) is live (\(StatusLine.summary(of: status)))")
                return
            }
            if status.phase == .invalid {
                throw CommandFailure("\(name): \(version) is invalid" + (status.reason.map { ": \($0)" } ?? ""))
            }
            if Date() >= deadline {
                throw CommandFailure("\(name): timed out waiting for \(version) to go live (\(StatusLine.summary(of: status)))")
            }
            if Date().timeIntervalSince(lastProgress) >= 1 {
                Console.err("waiting for \(name) \(version): \(StatusLine.summary(of: status))")
                lastProgress = Date()
            }
            try await Task.sleep(for: .seconds(pollInterval))
        }
    }
}
