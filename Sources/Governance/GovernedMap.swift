import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One map as the entry API and embedding services see it: a live instance,
/// maybe a standby, and the machinery that swaps them without losing a write.
///
/// Reads go straight to the live instance. Writes pass a *write gate*: an
/// atomic count of writers in flight with a "closed" bit, which the
/// controller sets for the few microseconds of a switch. An online rebuild
/// runs as online schema-change tools for databases do:
///
/// 1. close the gate, start a ``ChangeLog`` of written keys, open it;
/// 2. copy the live instance's entries into the replacement while readers
///    and writers go on (writers record their keys); the copy need not be
///    one point in time (a sharded map is copied shard by shard), since
///    every key written during it is in the log;
/// 3. replay the recorded keys (each key's *current* value, or its absence)
///    while the log shrinks;
/// 4. close the gate, turn on *dual writes* (every write goes to the live
///    instance and then to the replacement, under the key's stripe lock),
///    stop the log, open the gate;
/// 5. replay what the log still holds, each key under its stripe lock, so a
///    replay and a dual write of one key cannot interleave;
/// 6. close the gate, make the replacement live, open the gate.
///
/// Every write acknowledged before step 4 is in the snapshot or in the log,
/// and is replayed from the instance it went to; every write after step 4
/// reaches the replacement itself. So no acknowledged write is lost or
/// resurrected (a delete replays as a delete), however fast writers write:
/// no replay happens while the gate is closed, and writers wait only for the
/// writers in flight at steps 1, 4 and 6 (measured: ``pauseStatistics``).
///
/// While a *warm* standby is kept, every write also goes to the standby,
/// under a per-key stripe lock so that the two instances see one key's
/// writes in the same order; a rollback is then a switch. A *frozen* standby
/// keeps its data as of the switch (a breaking change, whose keys or values
/// the predecessor cannot hold).
@usableFromInline
package final class GovernedMap<Instance: MapInstance>: @unchecked Sendable {
    // @unchecked Sendable is sound: the only state not behind a lock or an atomic is `current`'s
    // referent, an immutable `Routing` published through an atomic pointer; see `Routing` and
    // `ThreadStripes` for why no thread uses one after it is released.
    package typealias Key = Instance.Key
    package typealias Value = Instance.Value
    package typealias Failure = Instance.Failure
    package typealias StandbyRole = Governance.StandbyRole
    package typealias NextStandby = Governance.NextStandby
    package typealias RebuildReport = Governance.RebuildReport

    /// What the operations route to, as of one moment. Never mutated: a change publishes a new one.
    @usableFromInline
    final class Routing: Sendable {
        @usableFromInline let live: Instance
        let standby: Instance?
        let standbyRole: StandbyRole
        /// The standby when it takes every write (warm), else nil: what a writer mirrors to.
        @usableFromInline let mirror: Instance?
        @usableFromInline let changeLog: ChangeLog<Instance.Key>?
        /// The replacement of a rebuild in its dual-write phase.
        @usableFromInline let dualWriteTarget: Instance?

        init(_ state: RoutingState) {
            live = state.live
            standby = state.standby
            standbyRole = state.standbyRole
            mirror = state.standbyRole == .warm ? state.standby : nil
            changeLog = state.changeLog
            dualWriteTarget = state.dualWriteTarget
        }

        var state: RoutingState {
            RoutingState(live: live, standby: standby, standbyRole: standbyRole, changeLog: changeLog, dualWriteTarget: dualWriteTarget)
        }
    }

    /// A routing being changed.
    struct RoutingState {
        var live: Instance
        var standby: Instance?
        var standbyRole: StandbyRole = .warm
        var changeLog: ChangeLog<Key>?
        var dualWriteTarget: Instance?
    }

    /// The current `Routing`, retained once on behalf of this map (an `Unmanaged` opaque pointer).
    /// Readers and writers use it without retaining it: no shared cache line is written on their path.
    @usableFromInline let current: Atomic<UnsafeMutableRawPointer>
    /// Reader and writer counts per thread stripe, and the write gate's closed flag.
    @usableFromInline let stripes = ThreadStripes()
    /// Serializes changes of routing (the controller's side; never taken by readers or writers).
    private let changes = PthreadMutex()
    private let rebuilding = Atomic<Bool>(false)
    private let keyStripes = KeyStripes()
    private let pauses = PauseRecorder()
    private let divergenceCount = Atomic<Int>(0)

    /// Fewer recorded keys than this end the unlocked replay rounds and go to the dual writes.
    /// The rounds only shorten the locked replay: under a writer that keeps the log full they do not converge,
    /// so there are few of them.
    private let switchThreshold: Int
    private let maxReplayRounds: Int

    /// Tests stretch the dual-write phase so that writers surely write during it.
    private let dualWriteDwell: Duration

    package init(live: Instance, switchThreshold: Int = 256, maxReplayRounds: Int = 0, dualWriteDwell: Duration = .zero) {
        current = Atomic(Unmanaged.passRetained(Routing(RoutingState(live: live))).toOpaque())
        self.switchThreshold = switchThreshold
        self.maxReplayRounds = maxReplayRounds
        self.dualWriteDwell = dualWriteDwell
    }

    deinit {
        Unmanaged<Routing>.fromOpaque(current.load(ordering: .acquiring)).release()
    }

    // MARK: - State

    /// Runs `body` on the current routing, counted as a reader so that the routing outlives the call.
    @inlinable
    func reading<R, E: Error>(_ body: (Routing) throws(E) -> R) throws(E) -> R {
        let stripe = ThreadStripes.currentStripe()
        stripes.arriveReader(stripe)
        defer { stripes.departReader(stripe) }
        let routing = Unmanaged<Routing>.fromOpaque(current.load(ordering: .sequentiallyConsistent))
        return try routing._withUnsafeGuaranteedRef { (routing) -> Result<R, E> in
            do throws(E) { return .success(try body(routing)) } catch { return .failure(error) }
        }.get()
    }

    package var live: Instance { reading { $0.live } }
    package var standby: Instance? { reading { $0.standby } }
    package var standbyRole: StandbyRole? { reading { $0.standby == nil ? nil : $0.standbyRole } }
    package var pauseStatistics: PauseStatistics { pauses.statistics }
    /// Mirrored writes the standby could not take (its schema refused the value); the key was removed there.
    package var standbyDivergences: Int { divergenceCount.load(ordering: .relaxed) }

    // MARK: - Entries

    @inlinable
    package func get(_ key: Instance.Key) throws(Instance.Failure) -> Instance.Value? {
        try reading { (routing) throws(Instance.Failure) -> Instance.Value? in try routing.live.get(key) }
    }

    package func contains(_ key: Key) throws(Failure) -> Bool {
        try get(key) != nil
    }

    @inlinable
    package func put(_ key: Instance.Key, _ value: Instance.Value) throws(Instance.Failure) {
        try write(key) { (instance) throws(Instance.Failure) in
            try instance.put(key, value)
        } mirror: { target, _ in
            Self.mirrorPut(key, value, to: target)
        }
    }

    @discardableResult
    @inlinable
    package func delete(_ key: Instance.Key) throws(Instance.Failure) -> Bool {
        try write(key) { (instance) throws(Instance.Failure) -> Bool in
            try instance.delete(key)
        } mirror: { target, _ in
            target.discard(key)
            return true
        }
    }

    package func compareAndSet(_ key: Key, expected: Value?, new: Value?) throws(Failure) -> Bool {
        try write(key) { (instance) throws(Failure) -> Bool in
            try instance.compareAndSet(key, expected: expected, new: new)
        } mirror: { target, swapped in
            guard swapped else { return true }
            if let new { return Self.mirrorPut(key, new, to: target) }
            target.discard(key)
            return true
        }
    }

    /// Stores a mirrored value; when the target refuses it, the key is removed there (no stale value stays).
    @usableFromInline
    static func mirrorPut(_ key: Instance.Key, _ value: Instance.Value, to target: Instance) -> Bool {
        guard target.carry([(key, value)]) > 0 else { return true }
        target.discard(key)
        return false
    }

    /// Passes the gate, runs the write on the routing current while this writer is in flight (it cannot
    /// change before the writer leaves), and mirrors it where the routing says.
    @inlinable
    func write<R>(
        _ key: Instance.Key,
        _ operation: (Instance) throws(Instance.Failure) -> R,
        mirror: (Instance, R) -> Bool
    ) throws(Instance.Failure) -> R {
        let stripe = ThreadStripes.currentStripe()
        stripes.enterWriter(stripe)
        defer { stripes.leaveWriter(stripe) }
        let routing = Unmanaged<Routing>.fromOpaque(current.load(ordering: .sequentiallyConsistent))
        return try routing._withUnsafeGuaranteedRef { (routing) -> Result<R, Instance.Failure> in
            do throws(Instance.Failure) {
                if routing.mirror == nil, routing.dualWriteTarget == nil, routing.changeLog == nil {
                    return .success(try operation(routing.live))
                }
                return .success(try writeGoverned(key, routing, operation, mirror: mirror))
            } catch {
                return .failure(error)
            }
        }.get()
    }

    /// A write while a standby, a change log or a dual-write target is there.
    @usableFromInline
    func writeGoverned<R>(
        _ key: Instance.Key,
        _ routing: Routing,
        _ operation: (Instance) throws(Instance.Failure) -> R,
        mirror: (Instance, R) -> Bool
    ) throws(Instance.Failure) -> R {
        // Recorded even when the operation failed: the replay reads the current value, so an extra key costs nothing.
        defer { routing.changeLog?.record(key) }
        guard routing.mirror != nil || routing.dualWriteTarget != nil else { return try operation(routing.live) }
        return try keyStripes.withLock(for: key) { () throws(Failure) -> R in
            let result = try operation(routing.live)
            if let standby = routing.mirror, !mirror(standby, result) {
                divergenceCount.wrappingAdd(1, ordering: .relaxed)
            }
            if let target = routing.dualWriteTarget { _ = mirror(target, result) }
            return result
        }
    }

    // MARK: - The write gate and routing changes

    /// Closes the gate, waits for the writers in flight, publishes the routing `change` makes of the current
    /// one and opens the gate; returns how long writers waited. Once no reader can hold the previous
    /// routing any more it is released, on a background task: when it held the last reference to an
    /// instance, freeing a million entries takes longer than a switch, and nobody should wait for it.
    @discardableResult
    private func reroute(_ change: (inout RoutingState) -> Void) -> Duration {
        let (previous, pause) = changes.withLock { () -> (Unmanaged<Routing>, Duration) in
            let start = ContinuousClock.now
            stripes.close()
            let previous = Unmanaged<Routing>.fromOpaque(current.load(ordering: .sequentiallyConsistent))
            var state = previous._withUnsafeGuaranteedRef { $0.state }
            change(&state)
            current.store(Unmanaged.passRetained(Routing(state)).toOpaque(), ordering: .sequentiallyConsistent)
            stripes.open()
            return (previous, ContinuousClock.now - start)
        }
        pauses.record(pause)
        stripes.waitForReaders()
        Self.dispose(previous.takeRetainedValue())
        return pause
    }

    // MARK: - Rebuild, switch, release

    /// Makes `replacement` live, carrying every entry of the live instance across while readers and writers go on.
    ///
    /// - Parameters:
    ///   - replacement: a new, empty instance.
    ///   - next: what the standby is after the switch.
    ///   - carriesData: false for a breaking change: the replacement starts empty.
    /// - Returns: what was copied, replayed and dropped, and the writer pause.
    package func rebuild(into replacement: Instance, standby next: NextStandby, carriesData: Bool = true) -> RebuildReport {
        let began = ContinuousClock.now
        let wasRebuilding = rebuilding.exchange(true, ordering: .acquiringAndReleasing)
        precondition(!wasRebuilding, "one rebuild at a time")
        var report = RebuildReport()
        let source: Instance
        if carriesData {
            let log = ChangeLog<Key>()
            var captured: Instance?
            reroute { routing in
                routing.changeLog = log
                captured = routing.live
            }
            source = captured!
            // A compatible change (same or widened types, no narrowed byte limit): entries are carried
            // and replayed as they are, in bulk, without re-checking each value.
            let unchecked = replacement.acceptsUnchanged(entriesOf: source)
            let copyStart = ContinuousClock.now
            let carried = replacement.carryAll(from: source, unchecked: unchecked)
            report.copy = ContinuousClock.now - copyStart
            report.copied = carried.copied
            report.dropped += carried.dropped
            var longest = pauses.statistics.last
            while report.replayRounds < maxReplayRounds, log.count >= switchThreshold {
                report.replayRounds += 1
                let keys = log.drain()
                report.replayed += keys.count
                report.dropped += replay(keys, from: source, to: replacement, locking: false, unchecked: unchecked)
            }
            // Dual writes on, log off: from here the replacement receives every write itself.
            longest = max(
                longest,
                reroute { routing in
                    routing.changeLog = nil
                    routing.dualWriteTarget = replacement
                })
            let keys = log.drain()
            report.replayed += keys.count
            report.replayedDuringDualWrites = keys.count
            report.dropped += replay(keys, from: source, to: replacement, locking: true, unchecked: unchecked)
            if dualWriteDwell > .zero {
                usleep(
                    UInt32(
                        clamping: dualWriteDwell.components.attoseconds / 1_000_000_000_000 + dualWriteDwell.components.seconds * 1_000_000)
                )
            }
            report.pause = reroute { routing in
                routing.dualWriteTarget = nil
                Self.switchRouting(&routing, to: replacement, next: next)
            }
            // Whether kept as the standby or not, the last reference held here goes to the background.
            Self.dispose(source)
            report.longestPause = max(longest, report.pause)
        } else {
            report.pause = reroute { routing in
                Self.switchRouting(&routing, to: replacement, next: next)
            }
            report.longestPause = report.pause
        }
        rebuilding.store(false, ordering: .releasing)
        report.total = ContinuousClock.now - began
        return report
    }

    /// The routing after a switch to `replacement`; what it no longer references is freed with the old routing.
    private static func switchRouting(_ routing: inout RoutingState, to replacement: Instance, next: NextStandby) {
        let previous = routing.live
        routing.live = replacement
        switch next {
        case .none:
            routing.standby = nil
        case .keepCurrent(let freeze):
            if freeze { routing.standbyRole = .frozen }
        case .previousLive(let role):
            routing.standby = previous
            routing.standbyRole = role
        }
    }

    /// Copies each key's current value (or absence) from `source` to `target`.
    ///
    /// - Parameter locking: while dual writes are on, each key is replayed under its stripe lock, so that
    ///   a writer's write to both instances and the replay of that key happen one after the other.
    private func replay(_ keys: [Key], from source: Instance, to target: Instance, locking: Bool, unchecked: Bool) -> Int {
        var dropped = 0
        for key in keys {
            let refused =
                locking
                ? keyStripes.withLock(for: key) { Self.replay(key, from: source, to: target, unchecked: unchecked) }
                : Self.replay(key, from: source, to: target, unchecked: unchecked)
            if refused { dropped += 1 }
        }
        return dropped
    }

    /// True when the target refused the value (the key is then absent there).
    private static func replay(_ key: Key, from source: Instance, to target: Instance, unchecked: Bool) -> Bool {
        guard let value = source.peek(key) else {
            target.discard(key)
            return false
        }
        guard target.carryOne(key, value, unchecked: unchecked) else {
            target.discard(key)  // refused: no stale value stays
            return true
        }
        return false
    }

    /// Makes the standby live (a warm or frozen rollback): a switch, no copy.
    ///
    /// - Returns: the writer pause, or nil when there is no standby.
    package func switchToStandby() -> Duration? {
        guard standby != nil else { return nil }
        var switched = false
        let pause = reroute { routing in
            guard let standby = routing.standby else { return }
            // The instance rolled back from dies with the old routing, after the gate opens.
            routing.live = standby
            routing.standby = nil
            switched = true
        }
        return switched ? pause : nil
    }

    /// Frees an instance no longer routed to on a background task: freeing a million entries takes
    /// longer than a switch, and neither writers nor the controller should wait for it.
    private static func dispose(_ instance: Instance) {
        Task.detached(priority: .background) {
            withExtendedLifetime(instance) {}
        }
    }

    private static func dispose(_ routing: Routing) {
        Task.detached(priority: .background) {
            withExtendedLifetime(routing) {}
        }
    }

    /// Installs a standby without a switch (a restart restoring a window: both instances start empty).
    package func installStandby(_ standby: Instance?, role: StandbyRole) {
        reroute { routing in
            routing.standby = standby
            routing.standbyRole = role
        }
    }

    /// Drops the standby (promotion at the end of the window).
    package func releaseStandby() {
        guard standby != nil else { return }
        reroute { routing in routing.standby = nil }
    }
}

/// What the standby of a ``GovernedMap`` receives.
package enum StandbyRole: Sendable, Hashable {
    /// Every write is mirrored to it: a rollback is a switch with no loss.
    case warm
    /// Kept as it was at the switch; writes are not mirrored.
    case frozen
}

/// The standby after a rebuild's switch.
package enum NextStandby: Sendable {
    /// No standby (no predecessor, or a cold one that keeps its schema only).
    case none
    /// Keep the standby there is now (a new version replacing one still in its window);
    /// `freeze` stops mirroring writes to it (the new version's data no longer fits it).
    case keepCurrent(freeze: Bool)
    /// The instance being replaced becomes the standby.
    case previousLive(StandbyRole)
}

/// What a rebuild did.
package struct RebuildReport: Sendable, Hashable {
    /// Entries in the snapshot.
    package var copied: Int = 0
    /// Entries that did not fit the replacement (snapshot and replay).
    package var dropped: Int = 0
    /// Keys replayed from the change log, all rounds together.
    package var replayed: Int = 0
    package var replayRounds: Int = 0
    /// Keys replayed under stripe locks while dual writes were on.
    package var replayedDuringDualWrites: Int = 0
    /// How long writers waited at the switch (step 6).
    package var pause: Duration = .zero
    /// The longest of the three gate closings (steps 1, 4, 6).
    package var longestPause: Duration = .zero
    /// From the start of the capture to the gate opening on the replacement.
    package var total: Duration = .zero
    /// The copy of the live instance's entries (step 2).
    package var copy: Duration = .zero

    package init() {}
}
