import Fleet
import Logging
import MapController

/// The parts of fleet mode made before the controller (which takes the view in its configuration).
struct FleetParts: Sendable {
    var settings: FleetSettings
    var store: FleetStore
    var view: FleetView

    /// The coordinator of this replica, once the controller exists. The leader runs a schema's
    /// `rollout.queries` through the controller's evaluator (`--prometheus`), as a replica alone does.
    func coordinator(controller: Controller, logger: Logger) -> FleetCoordinator {
        FleetCoordinator(
            settings: settings, store: store, view: view, controller: controller,
            queries: controller.configuration.queryEvaluator, logger: logger)
    }
}

extension DaemonConfiguration {
    /// The fleet's store and view when `--fleet` is given; nil otherwise.
    ///
    /// - Throws: ``DaemonError`` for a URL that cannot be used.
    func fleetParts(logger: Logger) throws -> FleetParts? {
        guard let fleetURL else { return nil }
        let location: FleetLocation
        do {
            location = try FleetLocation(parsing: fleetURL)
        } catch {
            throw DaemonError("--fleet: \(error)")
        }
        let replica = replica ?? FleetSettings.defaultReplicaID(port: port)
        var settings = FleetSettings(location: location, fleetName: fleetName, replica: replica)
        settings.tick = .milliseconds(100)
        var fleetLogger = logger
        fleetLogger[metadataKey: "replica"] = .string(replica)
        let store = FleetStore(location: location, fleet: fleetName, logger: fleetLogger)
        return FleetParts(settings: settings, store: store, view: FleetView(store: store))
    }
}
