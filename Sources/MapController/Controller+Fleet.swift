import Foundation
import Governance
public import LiveMaps
public import MapSchema
import Rollout

/// What one replica holds of one map, for the fleet coordinator: what it serves, its window, and the
/// cumulative counters of the live instance (the coordinator publishes their per-interval deltas).
public struct ReplicaMapView: Sendable {
    public var name: String
    public var live: SchemaDocument?
    public var standby: SchemaDocument?
    /// When the live version's local window ends; nil when it is promoted (or nothing is live).
    public var windowEndsAt: Date?
    public var quarantined: [PersistedMapState.Quarantine]
    public var entries: Int
    public var counters: CounterSnapshot?
}

extension Controller {
    /// The fleet's quarantine of this (version, content), if the controller belongs to a fleet.
    func fleetQuarantine(of document: SchemaDocument) -> String? {
        guard let fleet = configuration.fleet,
            case .quarantined(let reason) = fleet.admission(
                name: document.schema.name, version: document.schema.version, contentSHA256: document.contentSHA256)
        else { return nil }
        return "quarantined for the fleet: \(reason)"
    }

    /// Why a new version must wait (the fleet's shared state is unreachable), nil when it may go live.
    func fleetWait(for document: SchemaDocument) -> String? {
        guard let fleet = configuration.fleet,
            case .wait(let reason) = fleet.admission(
                name: document.schema.name, version: document.schema.version, contentSHA256: document.contentSHA256)
        else { return nil }
        return reason
    }

    /// Every map this replica holds, with its live instance's counters.
    public func replicaView() -> [ReplicaMapView] {
        records.keys.sorted().compactMap { replicaView(of: $0) }
    }

    /// One map of ``replicaView()``, or nil when this replica does not hold it.
    public func replicaView(of name: String) -> ReplicaMapView? {
        guard let record = records[name] else { return nil }
        let map = registry[name]
        return ReplicaMapView(
            name: name, live: record.live, standby: record.standby,
            windowEndsAt: record.rollout == nil ? nil : record.state.windowEndsAt,
            quarantined: record.state.quarantined, entries: map?.liveView.count ?? 0,
            counters: map?.liveView.counters.snapshot()
        )
    }

    /// Follows the fleet's rollback of `name` to `version`: a switch to the standby when it is that
    /// version, a copy back otherwise. The version rolled back from is quarantined here too.
    ///
    /// - Returns: False when there is nothing to do (already live, unknown map, a rebuild under way).
    @discardableResult
    public func followFleetRollback(_ name: String, to version: SemanticVersion, reason: String) async -> Bool {
        guard let record = records[name], let live = record.live, !rebuildsInFlight.contains(name),
            !live.schema.version.hasSamePrecedence(as: version)
        else { return false }
        let target: SchemaDocument
        if let standby = record.standby, standby.schema.version.hasSamePrecedence(as: version) {
            target = standby
        } else {
            do { target = try storedDocument(name, version: version) } catch {
                logger.error(
                    "cannot follow the fleet's rollback: the version is not stored here",
                    metadata: ["map": .string(name), "version": .string(version.description), "error": "\(error.message)"])
                return false
            }
        }
        do {
            try await rollBack(name, to: target, reason: reason, trigger: .failedChecks, source: "fleet")
            return true
        } catch {
            logger.error("could not record the fleet's rollback", metadata: ["map": .string(name), "error": "\(error)"])
            return false
        }
    }

    /// Follows the fleet's promotion of the live version of `name` (its window passed with no rollback).
    public func followFleetPromotion(_ name: String, version: SemanticVersion) {
        guard let record = records[name], record.rollout != nil,
            record.live?.schema.version.hasSamePrecedence(as: version) == true
        else { return }
        promote(name)
    }

    /// Adopts the fleet's quarantine of (version, content) into this replica's state, so that it shows in
    /// status and survives a restart while the database is unreachable.
    public func adoptFleetQuarantine(_ name: String, version: SemanticVersion, contentSHA256: String, reason: String, at date: Date) {
        guard var record = records[name], !record.state.isQuarantined(version: version, contentSHA256: contentSHA256) else { return }
        var state = record.state
        state.quarantined.append(.init(version: version, contentSHA256: contentSHA256, reason: reason, at: date))
        do {
            try store.save(state, at: clock.currentDate)
            record.state = state
            records[name] = record
        } catch {
            logger.error("could not record the fleet's quarantine", metadata: ["map": .string(name), "error": "\(error)"])
        }
    }

    /// The documents this replica stored for `name` at `version` (the fleet asks for one it lacks).
    public func storedYAML(_ name: String, version: SemanticVersion) -> String? {
        (try? store.document(name: name, version: version))?.yaml
    }

    /// Maps whose previous run ended uncleanly in their window: faults of those versions for the fleet.
    public func startupFaults() -> [RunRecord.WindowedMap] { lastRunCrashedVersions }
}
