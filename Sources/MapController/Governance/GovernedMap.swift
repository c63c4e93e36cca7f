#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

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
package final class GovernedMap<Instance: MapInstance>: Sendable {
    package typealias Key = Instance.Key
    package typealias Value = Instance.Value
    package typealias Failure = Instance.Failure

    /// What the standby receives.
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
    }

    private struct Routing {
        var live: Instance
        var standby: Instance?
        var standbyRole: StandbyRole = .warm
        var changeLog: ChangeLog<Key>?
        /// The replacement of a rebuild in its dual-write phase.
        var dualWriteTarget: Instance?
        var isRebuilding = false
    }

    /// What a writer needs, read once as it passes the gate; constant until it leaves.
    private struct Ticket {
        var live: Instance
        var mirror: Instance?
        var target: Instance?
        var changeLog: ChangeLog<Key>?
    }

    /// The write gate: writers in flight in the low bits, ``closedBit`` while a switch is under way.
    /// The routing changes only while the gate is closed and no writer is in flight, so a writer's
    /// ticket stays true until it leaves.
    private let gate = Atomic<Int>(0)
    private static var closedBit: Int { 1 << 40 }
    private let routing: Locked<Routing>
    private let stripes = KeyStripes()
    private let pauses = PauseRecorder()
    private let divergenceCount = Locked(0)

    /// Fewer recorded keys than this end the unlocked replay rounds and go to the dual writes.
    /// The rounds only shorten the locked replay: under a writer that keeps the log full they do not converge,
    /// so there are few of them.
    private let switchThreshold: Int
    private let maxReplayRounds: Int

    /// Tests stretch the dual-write phase so that writers surely write during it.
    private let dualWriteDwell: Duration

    package init(live: Instance, switchThreshold: Int = 256, maxReplayRounds: Int = 0, dualWriteDwell: Duration = .zero) {
        routing = Locked(Routing(live: live))
        self.switchThreshold = switchThreshold
        self.maxReplayRounds = maxReplayRounds
        self.dualWriteDwell = dualWriteDwell
    }

    // MARK: - State

    package var live: Instance { routing.withLock { $0.live } }
    package var standby: Instance? { routing.withLock { $0.standby } }
    package var standbyRole: StandbyRole? { routing.withLock { $0.standby == nil ? nil : $0.standbyRole } }
    package var pauseStatistics: PauseStatistics { pauses.statistics }
    /// Mirrored writes the standby could not take (its schema refused the value); the key was removed there.
    package var standbyDivergences: Int { divergenceCount.withLock { $0 } }

    // MARK: - Entries

    package func get(_ key: Key) throws(Failure) -> Value? {
        try live.get(key)
    }

    package func contains(_ key: Key) throws(Failure) -> Bool {
        try live.get(key) != nil
    }

    package func put(_ key: Key, _ value: Value) throws(Failure) {
        try write(key) { (instance) throws(Failure) in
            try instance.put(key, value)
        } mirror: { target, _ in
            Self.mirrorPut(key, value, to: target)
        }
    }

    @discardableResult
    package func delete(_ key: Key) throws(Failure) -> Bool {
        try write(key) { (instance) throws(Failure) -> Bool in
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
    private static func mirrorPut(_ key: Key, _ value: Value, to target: Instance) -> Bool {
        guard target.carry([(key, value)]) > 0 else { return true }
        target.discard(key)
        return false
    }

    private func write<R>(
        _ key: Key,
        _ operation: (Instance) throws(Failure) -> R,
        mirror: (Instance, R) -> Bool
    ) throws(Failure) -> R {
        let ticket = enter()
        defer {
            // Recorded even when the operation failed: the replay reads the current value, so an extra key costs nothing.
            ticket.changeLog?.record(key)
            leave()
        }
        guard ticket.mirror != nil || ticket.target != nil else { return try operation(ticket.live) }
        return try stripes.withLock(for: key) { () throws(Failure) -> R in
            let result = try operation(ticket.live)
            if let standby = ticket.mirror, !mirror(standby, result) {
                divergenceCount.withLock { $0 += 1 }
            }
            if let target = ticket.target { _ = mirror(target, result) }
            return result
        }
    }

    // MARK: - The write gate

    private func enter() -> Ticket {
        var attempts = 0
        while true {
            let state = gate.load(ordering: .acquiring)
            if state & Self.closedBit == 0,
                gate.compareExchange(expected: state, desired: state + 1, ordering: .acquiringAndReleasing).exchanged
            {
                break
            }
            attempts += 1
            Self.backOff(attempts)
        }
        return routing.withLock { routing in
            Ticket(
                live: routing.live,
                mirror: routing.standbyRole == .warm ? routing.standby : nil,
                target: routing.dualWriteTarget,
                changeLog: routing.changeLog
            )
        }
    }

    private func leave() {
        gate.wrappingSubtract(1, ordering: .releasing)
    }

    /// Closes the gate and waits for the writers in flight; returns when the pause began.
    private func close() -> ContinuousClock.Instant {
        let start = ContinuousClock.now
        let previous = gate.bitwiseOr(Self.closedBit, ordering: .acquiringAndReleasing).oldValue
        precondition(previous & Self.closedBit == 0, "the write gate is closed twice")
        var attempts = 0
        while gate.load(ordering: .acquiring) & (Self.closedBit - 1) != 0 {
            attempts += 1
            Self.backOff(attempts)
        }
        return start
    }

    /// Applies `change` to the routing and opens the gate.
    @discardableResult
    private func open(since start: ContinuousClock.Instant, applying change: (inout Routing) -> Void = { _ in }) -> Duration {
        routing.withLock { routing in change(&routing) }
        gate.bitwiseAnd(~Self.closedBit, ordering: .acquiringAndReleasing)
        let pause = ContinuousClock.now - start
        pauses.record(pause)
        return pause
    }

    /// Spin a little (a switch lasts microseconds), then give the core away.
    private static func backOff(_ attempts: Int) {
        if attempts < 128 { return }
        if attempts < 4_096 {
            sched_yield()
        } else {
            usleep(50)
        }
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
        routing.withLock { routing in
            precondition(!routing.isRebuilding, "one rebuild at a time")
            routing.isRebuilding = true
        }
        var report = RebuildReport()
        let source: Instance
        if carriesData {
            let log = ChangeLog<Key>()
            var captured: Instance?
            let start = close()
            open(since: start) { routing in
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
            let dualStart = close()
            longest = max(longest, open(since: dualStart) { routing in
                routing.changeLog = nil
                routing.dualWriteTarget = replacement
            })
            let keys = log.drain()
            report.replayed += keys.count
            report.replayedDuringDualWrites = keys.count
            report.dropped += replay(keys, from: source, to: replacement, locking: true, unchecked: unchecked)
            if dualWriteDwell > .zero { usleep(UInt32(clamping: dualWriteDwell.components.attoseconds / 1_000_000_000_000 + dualWriteDwell.components.seconds * 1_000_000)) }
            let pauseStart = close()
            var dropped: Instance?
            report.pause = open(since: pauseStart) { routing in
                routing.dualWriteTarget = nil
                dropped = Self.switchRouting(&routing, to: replacement, next: next)
            }
            if let dropped { Self.dispose(dropped) }
            // Whether kept as the standby or not, the last reference held here goes to the background.
            Self.dispose(source)
            report.longestPause = max(longest, report.pause)
        } else {
            let pauseStart = close()
            var dropped: Instance?
            report.pause = open(since: pauseStart) { routing in
                dropped = Self.switchRouting(&routing, to: replacement, next: next)
            }
            if let dropped { Self.dispose(dropped) }
            report.longestPause = report.pause
        }
        routing.withLock { $0.isRebuilding = false }
        report.total = ContinuousClock.now - began
        return report
    }

    /// Returns the instances no longer referenced, for the caller to free once the gate is open.
    private static func switchRouting(_ routing: inout Routing, to replacement: Instance, next: NextStandby) -> Instance? {
        let previous = routing.live
        routing.live = replacement
        switch next {
        case .none:
            defer { routing.standby = nil }
            return routing.standby
        case .keepCurrent(let freeze):
            if freeze { routing.standbyRole = .frozen }
            return nil
        case .previousLive(let role):
            defer {
                routing.standby = previous
                routing.standbyRole = role
            }
            return routing.standby
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
                ? stripes.withLock(for: key) { Self.replay(key, from: source, to: target, unchecked: unchecked) }
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
        let start = close()
        var replaced: Instance?
        let pause = open(since: start) { routing in
            guard let standby = routing.standby else { return }
            // The instance rolled back from dies after the gate opens, not while writers wait.
            replaced = routing.live
            routing.live = standby
            routing.standby = nil
        }
        guard let replaced else { return nil }
        Self.dispose(replaced)
        return pause
    }

    /// Frees an instance no longer routed to on a background task: freeing a million entries takes
    /// longer than a switch, and neither writers nor the controller should wait for it.
    private static func dispose(_ instance: Instance) {
        Task.detached(priority: .background) {
            withExtendedLifetime(instance) {}
        }
    }

    /// Installs a standby without a switch (a restart restoring a window: both instances start empty).
    package func installStandby(_ standby: Instance?, role: StandbyRole) {
        let start = close()
        open(since: start) { routing in
            routing.standby = standby
            routing.standbyRole = role
        }
    }

    /// Drops the standby (promotion at the end of the window).
    package func releaseStandby() {
        let released = routing.withLock { routing in
            defer { routing.standby = nil }
            return routing.standby
        }
        if let released { Self.dispose(released) }
    }
}
