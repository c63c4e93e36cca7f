import Foundation
import LiveMaps
public import Logging
public import MapController
import MapSchema
import Metrics
public import Rollout

/// One replica's part in its fleet (SPEC §8): it keeps the controller's ``FleetView`` current, proposes the
/// versions this replica applies, follows the fleet's decisions, publishes its interval samples and, while it
/// holds the fleet's advisory lock, judges every window on the sum of the fleet's samples.
///
/// Everything is level-triggered: each pass compares this replica's maps with the shared state and acts on
/// the difference, so a missed notification, a restart or a failover costs at most one pass. Notifications
/// (LISTEN/NOTIFY) only make a pass start early.
public actor FleetCoordinator {
    let settings: FleetSettings
    let store: FleetStore
    public nonisolated let view: FleetView
    let controller: Controller
    let queries: (any RolloutQueryEvaluating)?
    let logger: Logger

    /// Per map, the local live (version and content) last brought in line with the fleet: a different
    /// local live means this replica applied something new, to be proposed.
    var synced: [String: String] = [:]
    /// Sampling of the windows this replica serves, by (map, version, window start).
    var cursors: [SampleKey: SampleCursor] = [:]
    /// Versions of the previous run that ended uncleanly in their window, not yet reported.
    var pendingStartupFaults: [String: SemanticVersion] = [:]
    /// Decoded documents by content hash (the leader reads each window's rollout policy from them).
    var documents: [String: SchemaDocument] = [:]
    /// The query outcomes the leader had for an interval, so that a pass does not query Prometheus twice.
    var queryVerdicts: [SampleKey: [Int: [RolloutQueryOutcome]]] = [:]
    /// The leader's judgement of each window so far: the analysis after the intervals already judged, the
    /// next interval and the last decision, so that a pass reads and judges only the intervals that ended
    /// since (a pass that replayed the whole window grew with its age: 1.2 s of CPU at 100 maps after 60 s).
    var judgements: [SampleKey: WindowJudgement] = [:]
    var isLeader = false
    var lastHeartbeat: ContinuousClock.Instant?
    var lastChecksRefresh: ContinuousClock.Instant?
    var lastDisconnectLog: ContinuousClock.Instant?
    var wakeup: AsyncStream<Void>.Continuation?
    /// The store's connection pool, run from ``connect(timeout:)`` until ``run()`` ends.
    var storeTask: Task<Void, Never>?

    let leaderGauge: Gauge
    let replicasGauge: Gauge

    public init(
        settings: FleetSettings, store: FleetStore, view: FleetView, controller: Controller,
        queries: (any RolloutQueryEvaluating)? = nil, logger: Logger
    ) {
        self.settings = settings
        self.store = store
        self.view = view
        self.controller = controller
        self.queries = queries
        self.logger = logger
        self.leaderGauge = Gauge(label: "mapctl_fleet_leader")
        self.replicasGauge = Gauge(label: "mapctl_fleet_replicas")
        leaderGauge.record(0)
        replicasGauge.record(0)
    }

    // MARK: - Start

    /// Migrates the shared tables and reads the fleet's state, before the controller starts, so that the
    /// first reconcile already knows the fleet's quarantines.
    ///
    /// - Returns: False when the database could not be reached within `timeout`: the replica starts
    ///   degraded (it serves what it has and applies nothing new) and keeps trying.
    @discardableResult
    public func connect(timeout: Duration = .seconds(5)) async -> Bool {
        let store = self.store
        if storeTask == nil {
            storeTask = Task { await store.run() }
        }
        if view.isConnected { return true }
        let connected = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await store.migrate()
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        guard connected else {
            logger.warning(
                "fleet database unreachable at start: serving what this replica has, applying nothing new until it is back",
                metadata: ["fleet": .string(settings.fleetName), "database": .string(settings.location.description)])
            return false
        }
        do {
            view.setMaps(try await store.mapStates())
            view.setConnected(true)
            logger.info(
                "joined the fleet",
                metadata: [
                    "fleet": .string(settings.fleetName), "replica": .string(settings.replica),
                    "database": .string(settings.location.description),
                ])
            return true
        } catch {
            return false
        }
    }

    /// After the controller started: brings this replica to the fleet's live versions (a replica started
    /// after a rollback comes up on the version the fleet kept) and remembers the versions whose window the
    /// previous run left uncleanly, as faults for the fleet.
    public func adoptFleetState() async {
        for crashed in await controller.startupFaults() {
            pendingStartupFaults[crashed.name] = crashed.version
        }
        // What this replica restored is not a change of its own: where the fleet moved on while it was
        // away (a rollback, a newer version applied elsewhere), it follows instead of proposing its old state.
        for map in await controller.replicaView() {
            if let live = map.live { synced[map.name] = Self.key(live.schema.version.description, live.contentSHA256) }
        }
        await pass()
    }

    // MARK: - Run

    /// Passes until cancelled: every tick, and at once on a notification.
    public func run() async {
        let (wakeups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wakeup = continuation
        let store = self.store
        let listener = Task {
            for await notification in store.changes() {
                _ = notification
                continuation.yield()
            }
        }
        let ticker = Task { [tick = settings.tick] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                continuation.yield()
            }
        }
        await withTaskCancellationHandler {
            for await _ in wakeups {
                if Task.isCancelled { break }
                await pass()
            }
        } onCancel: {
            listener.cancel()
            ticker.cancel()
            continuation.finish()
        }
        listener.cancel()
        ticker.cancel()
        if isLeader { await store.resign() }
        leaderGauge.record(0)
        storeTask?.cancel()
        storeTask = nil
    }

    /// One level-triggered pass over the shared state.
    func pass() async {
        do {
            let now = try await store.now()
            if !view.isConnected {
                view.setConnected(true)
                logger.info("fleet database reachable again", metadata: ["fleet": .string(settings.fleetName)])
            }
            let states = try await store.mapStates()
            view.setMaps(states)
            let local = await controller.replicaView()
            let byName = Dictionary(states.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
            for map in local {
                try await reconcile(map, fleet: byName[map.name], now: now)
            }
            for state in states where !local.contains(where: { $0.name == state.name }) {
                try await follow(state, local: nil)
            }
            try await publishSamples(local: await controller.replicaView(), fleet: byName, now: now)
            try await heartbeatIfDue(local: local)
            try await lead(states: byName, now: now)
        } catch {
            disconnected(error)
        }
    }

    func disconnected(_ error: any Error) {
        if view.isConnected || lastDisconnectLog.map({ ContinuousClock.now - $0 > .seconds(30) }) ?? true {
            logger.error(
                "fleet database unreachable: serving on, applying and promoting nothing new, judging locally for safety",
                metadata: ["fleet": .string(settings.fleetName), "error": "\(error)"])
            lastDisconnectLog = .now
        }
        view.setConnected(false)
        if isLeader {
            isLeader = false
            leaderGauge.record(0)
        }
    }

    // MARK: - Heartbeat

    func heartbeatIfDue(local: [ReplicaMapView]) async throws {
        if let last = lastHeartbeat, ContinuousClock.now - last < settings.heartbeat { return }
        lastHeartbeat = .now
        let maps = local.map { ReplicaMap(name: $0.name, liveVersion: $0.live?.schema.version.description, entries: $0.entries) }
        try await store.heartbeat(ReplicaReport(replica: settings.replica, maps: maps, lastSeen: Date()))
        let cutoff = Date().addingTimeInterval(-settings.replicaTimeout.timeInterval)
        let replicas = try await store.replicas().filter { $0.lastSeen >= cutoff }
        let leader = try await store.leader()
        view.setReplicas(replicas, leader: leader)
        replicasGauge.record(replicas.count)
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        let parts = components
        return TimeInterval(parts.seconds) + TimeInterval(parts.attoseconds) / 1e18
    }
}
