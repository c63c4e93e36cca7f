import Foundation
import Governance
public import LiveMaps
public import Logging
import MapSchema
public import Rollout

/// The controller: reconciles live maps to the documents it receives, rebuilds
/// them online, judges new versions during their window and rolls them back.
///
/// The daemon (and an embedding service) makes one, calls ``start()`` before
/// serving anything, runs ``run()`` for as long as it lives and calls
/// ``shutdown()`` on a clean exit:
///
/// ```swift
/// let controller = try Controller(configuration: .init(stateDirectory: ".mapctl"), logger: logger)
/// try await controller.start()          // restores every map at its last live version
/// async let loop: Void = controller.run()
/// _ = await controller.reconcileDirectory("schemas", prune: false)
/// ```
///
/// Every change of state goes through the actor; the entry API does not (reads
/// and writes go straight to the governed maps, which the actor swaps).
public actor Controller: ControlPlane {
    /// How the controller runs.
    public struct Configuration: Sendable {
        /// Where the state database (and the API token) live.
        public var stateDirectory: String
        /// Accept `fault_injection` in schemas (`--enable-fault-injection`).
        public var allowFaultInjection: Bool
        /// Time for checks, windows, cooldowns and history.
        public var clock: any RolloutClock
        /// Time for the maps' ttl.
        public var mapClock: any MapClock
        /// The largest apply body accepted.
        public var maxApplyBytes: Int
        /// Backoff of a reconcile that failed (the store refused to write): first delay, doubled up to the maximum.
        public var requeueBackoff: Duration
        public var maxRequeueBackoff: Duration
        /// Called with the map's name on the rebuild's own thread before a rebuild or cold rollback
        /// copies (tests hold a rebuild there to observe the control plane meanwhile).
        package var beforeRebuild: (@Sendable (String) -> Void)?
        /// Entry writes are refused (503 `memory_limit`) while resident memory is over this (`--max-memory`).
        public var maxMemoryBytes: Int?
        /// Since when a reconcile or apply runs, readable while the actor is busy (`/readyz` reads it).
        public var reconcileProgress = ReconcileProgress()
        /// Runs `rollout.queries` (`--prometheus`); without one, a schema with queries is refused.
        public var queryEvaluator: (any RolloutQueryEvaluating)?
        /// The fleet this controller is a replica of (`--fleet`, SPEC §8); nil when it judges alone.
        public var fleet: (any FleetMembership)?

        public init(
            stateDirectory: String = ".mapctl",
            allowFaultInjection: Bool = false,
            clock: any RolloutClock = SystemRolloutClock(),
            mapClock: any MapClock = SystemMapClock(),
            maxApplyBytes: Int = 4 << 20,
            requeueBackoff: Duration = .milliseconds(500),
            maxRequeueBackoff: Duration = .seconds(60),
            maxMemoryBytes: Int? = nil,
            queryEvaluator: (any RolloutQueryEvaluating)? = nil
        ) {
            self.stateDirectory = stateDirectory
            self.allowFaultInjection = allowFaultInjection
            self.clock = clock
            self.mapClock = mapClock
            self.maxApplyBytes = maxApplyBytes
            self.requeueBackoff = requeueBackoff
            self.maxRequeueBackoff = maxRequeueBackoff
            self.maxMemoryBytes = maxMemoryBytes
            self.queryEvaluator = queryEvaluator
        }
    }

    public nonisolated let configuration: Configuration
    let logger: Logger
    nonisolated let store: StateStore
    let clock: any RolloutClock
    /// The governed maps, readable without the actor (entry API, typed handles).
    nonisolated let registry = MapRegistry()
    /// `maxMemoryBytes`, checked by every entry write.
    nonisolated let memoryLimit: MemoryLimit?

    var records: [String: MapRecord] = [:]
    var counters = ControllerCounters()
    var requeue = ReconcileQueue()
    /// Files of the last directory reconcile that are invalid without a readable map name.
    var unnamedInvalidFiles: Set<String> = []
    /// Per map, the content hash of the document last received from the watched directory
    /// (persisted in the store's meta table as `directory_sha256:NAME`).
    var directoryReceived: [String: String] = [:]
    var hasStarted = false
    /// Maps whose rebuild or cold rollback runs off the actor right now: nothing else changes them meanwhile
    /// (their documents wait in the requeue, their checks wait for the next interval).
    package var rebuildsInFlight: Set<String> = []
    var directoryReconcilesBegun = 0
    var directoryReconcilesDone = 0
    var isShutDown = false
    /// This run's id in the store (set by ``start()``): written into saved contents, so that a start restores only the last run's.
    var runID: Int64?
    /// Versions in their window when the previous run ended uncleanly (set by ``start()``): in a fleet, the
    /// coordinator reports them as faults to the leader instead of the controller judging them alone.
    var lastRunCrashedVersions: [RunRecord.WindowedMap] = []
    /// The watched directory's files as last decoded: a reconcile reads only the files that changed.
    nonisolated let directoryDecodeCache = SchemaLoader.DecodeCache()
    /// Directory reconciles take turns: each plans from its own load of the directory.
    nonisolated let directoryTurns = Turns()
    /// The run loop's current sleep, cancelled to wake it early (a new window, a requeue).
    var sleeper: Task<Void, Never>?

    /// Opens the state database. Nothing is restored or served until ``start()``.
    ///
    /// - Throws: ``StateStoreError`` when the state directory or database cannot be opened.
    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.clock = configuration.clock
        self.memoryLimit = configuration.maxMemoryBytes.map { MemoryLimit(bytes: $0) }
        self.store = try StateStore(directory: configuration.stateDirectory)
    }

    /// True once ``start()`` restored the maps and the first directory reconcile, if one began, is done.
    public var isReady: Bool {
        hasStarted && directoryReconcilesDone >= min(directoryReconcilesBegun, 1)
    }

    // MARK: - Lifecycle

    /// Restores every map at its last live version, with the contents the last clean shutdown saved,
    /// and applies the crash-loop rule, before anything is served.
    ///
    /// An unclean end of the previous run while a version was in its window
    /// counts as a fault of that version: more than its `max_faults` rolls it
    /// back here, at once.
    ///
    /// - Throws: ``StateStoreError`` when the state cannot be read.
    public func start() async throws {
        guard !hasStarted else { return }
        let run = try store.beginRun(at: clock.currentDate)
        if !run.previousRunEndedCleanly, run.previousRunStartedAt != nil {
            logger.warning(
                "previous run ended uncleanly",
                metadata: ["maps_in_window": .string(run.mapsInWindow.map { "\($0.name)@\($0.version)" }.joined(separator: ","))]
            )
        }
        for state in try store.mapStates() {
            restore(state)
        }
        runID = run.runID
        restoreContents(previousRun: run.runID - 1)
        lastRunCrashedVersions = run.crashedVersions
        if configuration.fleet?.judgement != .fleet {
            for crashed in run.crashedVersions {
                await judgeStartupFault(of: crashed)
            }
        }
        hasStarted = true
        logger.info("controller started", metadata: ["maps": .stringConvertible(records.count), "run": .stringConvertible(run.runID)])
    }

    /// Checks rollouts every `interval`, promotes at window ends and retries failed reconciles, until cancelled.
    public func run() async throws {
        if !hasStarted { try await start() }
        while !Task.isCancelled {
            await tick()
            let deadline = nextDeadline()
            let clock = self.clock
            let sleep = Task<Void, Never> {
                try? await clock.sleep(until: deadline)
            }
            sleeper = sleep
            await withTaskCancellationHandler {
                await sleep.value
            } onCancel: {
                sleep.cancel()
            }
            sleeper = nil
        }
    }

    /// Saves each live map's contents (restored by the next ``start()``) and marks the run as ended
    /// cleanly, so that the next start counts no crash.
    public func shutdown() async {
        guard !isShutDown else { return }
        isShutDown = true
        sleeper?.cancel()
        if let runID { saveContents(run: runID) }
        do {
            try store.endRunCleanly(at: clock.currentDate)
            logger.info("controller shut down cleanly")
        } catch {
            logger.error("could not mark the run as ended cleanly", metadata: ["error": "\(error)"])
        }
    }

    /// Wakes the run loop so that it recomputes its next deadline.
    func wake() {
        sleeper?.cancel()
    }

    /// When the run loop must look again: the next check, window end or requeue; at most a minute away.
    func nextDeadline() -> RolloutInstant {
        var deadline = clock.now + .seconds(60)
        for record in records.values {
            if let progress = record.rollout { deadline = min(deadline, progress.nextCheck) }
        }
        if let due = requeue.nextDue { deadline = min(deadline, due) }
        return deadline
    }

    /// One pass of the loop: every rollout check that is due, every requeued reconcile that is due.
    ///
    /// The run loop calls it; tests call it after moving a manual clock.
    package func tick() async {
        let now = clock.now
        // Only maps in a window have checks (checkRollout returns at once for the others): with thousands of
        // maps, sorting and visiting every one held the actor on each wake-up. Many windows at once are
        // checked in bounded batches, as an apply's documents are.
        var pacer = ActorPacer()
        for name in records.compactMap({ $0.value.rollout == nil ? nil : $0.key }).sorted() {
            await pacer.step()
            await checkRollout(of: name, at: now)
        }
        for name in requeue.takeDue(at: now) {
            await reconcilePending(name)
        }
    }
}

extension Controller {
    /// The governed map behind `name`, for benchmarks and tests in this package.
    package nonisolated func governedMap(named name: String) -> GovernedMap<DynamicMap>? {
        (registry[name] as? ManagedMap<DynamicMap>)?.governed
    }
}
