import Foundation
import MapController
import MapSchema

/// Proposing this replica's changes and following the fleet's.
extension FleetCoordinator {
    /// Brings one local map and the fleet's decision in line: proposes what this replica applied since the
    /// last pass, records a safety rollback made while the database was unreachable, or follows the fleet.
    func reconcile(_ local: ReplicaMapView, fleet: FleetMapState?, now: Date) async throws {
        guard let live = local.live else {
            if let fleet { try await follow(fleet, local: local) }
            return
        }
        let liveKey = Self.key(live.schema.version.description, live.contentSHA256)
        guard let fleet else {
            try await propose(local, live: live, over: nil, now: now)
            return
        }
        await adoptQuarantines(fleet, local: local)
        let fleetKey = fleet.liveVersion.map { Self.key($0, fleet.liveSHA256 ?? "") }
        if fleetKey == liveKey {
            synced[local.name] = liveKey
            if fleet.phase != "rolling_out", local.windowEndsAt != nil {
                await controller.followFleetPromotion(local.name, version: live.schema.version)
            }
            return
        }
        if synced[local.name] != liveKey {
            // This replica made something else live since the last pass.
            if let fleetLive = fleet.liveVersion, let fleetSHA = fleet.liveSHA256,
                local.quarantined.contains(where: { $0.version.description == fleetLive && $0.contentSHA256 == fleetSHA })
            {
                try await recordSafetyRollback(local, live: live, fleet: fleet)
            } else if fleet.quarantined.contains(where: {
                $0.version == live.schema.version.description && $0.contentSHA256 == live.contentSHA256
            }) {
                try await follow(fleet, local: local)
            } else {
                try await propose(local, live: live, over: fleet, now: now)
            }
            return
        }
        try await follow(fleet, local: local)
    }

    /// Makes this replica's live version the fleet's, opening the fleet's window when the local one is open.
    func propose(_ local: ReplicaMapView, live: SchemaDocument, over fleet: FleetMapState?, now: Date) async throws {
        let version = live.schema.version.description
        guard let yaml = await controller.storedYAML(local.name, version: live.schema.version) else { return }
        let replica = settings.replica
        let document = FleetDocument(
            name: local.name, version: version, contentSHA256: live.contentSHA256, yaml: yaml, source: live.file,
            replica: replica, appliedAt: now)
        let windowed = local.windowEndsAt != nil
        let window = live.schema.rollbackWindow.timeInterval
        let after = try await store.update(name: local.name) { current in
            if let current, current.liveVersion == version, current.liveSHA256 == live.contentSHA256 { return nil }
            var state =
                current
                ?? FleetMapState(
                    name: local.name, desiredVersion: nil, desiredSHA256: nil, liveVersion: nil, liveSHA256: nil,
                    standbyVersion: nil, standbySHA256: nil, windowStartedAt: nil, windowEndsAt: nil, phase: "stable",
                    reason: nil, revision: 0, quarantined: [])
            let previous = state.liveVersion
            if windowed, let previous {
                // Mid-window, the predecessor stays the last promoted version.
                if state.phase != "rolling_out" {
                    state.standbyVersion = previous
                    state.standbySHA256 = state.liveSHA256
                }
                state.windowStartedAt = now
                state.windowEndsAt = now.addingTimeInterval(window)
                state.phase = "rolling_out"
            } else {
                state.standbyVersion = nil
                state.standbySHA256 = nil
                state.windowStartedAt = nil
                state.windowEndsAt = nil
                state.phase = "stable"
            }
            state.liveVersion = version
            state.liveSHA256 = live.contentSHA256
            state.desiredVersion = version
            state.desiredSHA256 = live.contentSHA256
            state.reason = nil
            let entry = FleetHistoryEntry(
                time: now, action: "apply", version: version, fromVersion: previous, source: live.file,
                contentSHA256: live.contentSHA256,
                reason: windowed ? "applied on \(replica); the fleet judges it until its window ends" : "applied on \(replica)",
                replica: replica)
            return FleetChange(state: state, history: [entry], documents: [document])
        }
        if after?.liveVersion == version, after?.liveSHA256 == live.contentSHA256 {
            synced[local.name] = Self.key(version, live.contentSHA256)
            logger.info(
                "version proposed to the fleet",
                metadata: ["map": .string(local.name), "version": .string(version), "replica": .string(replica)])
        }
    }

    /// Records, once the database is back, a rollback this replica made alone while it was unreachable.
    func recordSafetyRollback(_ local: ReplicaMapView, live: SchemaDocument, fleet: FleetMapState) async throws {
        let replica = settings.replica
        let version = live.schema.version.description
        let reasonText =
            local.quarantined.last?.reason ?? "failed checks while the fleet's database was unreachable"
        let now = try await store.now()
        _ = try await store.update(name: local.name) { current in
            guard var state = current, let from = state.liveVersion, let fromSHA = state.liveSHA256,
                from != version || fromSHA != live.contentSHA256
            else { return nil }
            let reason = "local safety rollback on \(replica) while the fleet's database was unreachable: \(reasonText)"
            state.liveVersion = version
            state.liveSHA256 = live.contentSHA256
            state.standbyVersion = nil
            state.standbySHA256 = nil
            state.windowStartedAt = nil
            state.windowEndsAt = nil
            state.phase = "rolled_back"
            state.reason = "\(from) rolled back: \(reason)"
            if !state.quarantined.contains(where: { $0.version == from && $0.contentSHA256 == fromSHA }) {
                state.quarantined.append(FleetQuarantine(version: from, contentSHA256: fromSHA, reason: reason, at: now, replica: replica))
            }
            let history = [
                FleetHistoryEntry(
                    time: now, action: "rollback", version: version, fromVersion: from, source: replica,
                    contentSHA256: live.contentSHA256, reason: reason, replica: replica),
                FleetHistoryEntry(
                    time: now, action: "quarantine", version: from, fromVersion: nil, source: replica,
                    contentSHA256: fromSHA, reason: reason, replica: replica),
            ]
            return FleetChange(state: state, history: history, documents: [])
        }
        synced[local.name] = Self.key(version, live.contentSHA256)
        logger.warning(
            "local safety rollback recorded with the fleet",
            metadata: ["map": .string(local.name), "version": .string(version), "replica": .string(replica)])
    }

    /// Makes the fleet's live version live here: a rollback to the standby the fleet fell back to, or the
    /// fleet's document applied (a new version from another replica, or the version of a replica that starts).
    func follow(_ fleet: FleetMapState, local: ReplicaMapView?) async throws {
        guard let version = fleet.liveVersion, let sha = fleet.liveSHA256 else { return }
        let key = Self.key(version, sha)
        if let local, let standby = local.standby, standby.schema.version.description == version, standby.contentSHA256 == sha {
            let parsed = standby.schema.version
            let reason = fleet.reason ?? "rolled back by the fleet"
            if await controller.followFleetRollback(local.name, to: parsed, reason: "fleet: \(reason)") {
                synced[local.name] = key
                logger.warning(
                    "followed the fleet's rollback", metadata: ["map": .string(fleet.name), "version": .string(version)])
            }
            return
        }
        guard let document = try await store.document(name: fleet.name, version: version) else { return }
        let source = "fleet (applied on \(document.replica))"
        do {
            let report = try await controller.apply(yaml: Array(document.yaml.utf8), source: source, isDryRun: false, prune: false)
            if !report.hasStateErrors {
                synced[fleet.name] = key
                logger.info("followed the fleet's version", metadata: ["map": .string(fleet.name), "version": .string(version)])
            }
        } catch {
            logger.error(
                "could not apply the fleet's version",
                metadata: ["map": .string(fleet.name), "version": .string(version), "error": "\(error)"])
        }
    }

    /// Copies the fleet's quarantines of a map into this replica's state, so that they hold across a
    /// restart while the database is unreachable.
    func adoptQuarantines(_ fleet: FleetMapState, local: ReplicaMapView) async {
        for quarantine in fleet.quarantined
        where !local.quarantined.contains(where: {
            $0.version.description == quarantine.version && $0.contentSHA256 == quarantine.contentSHA256
        }) {
            guard let version = try? SemanticVersion(parsing: quarantine.version) else { continue }
            await controller.adoptFleetQuarantine(
                fleet.name, version: version, contentSHA256: quarantine.contentSHA256, reason: quarantine.reason, at: quarantine.at)
        }
    }

    static func key(_ version: String, _ sha: String) -> String { "\(version)#\(sha)" }
}
