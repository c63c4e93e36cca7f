#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// One map as the entry API and embedding services see it: a live instance,
/// maybe a standby, and the machinery that swaps them without losing a write.
///
/// Reads go straight to the live instance. Writes pass a *write gate*: a
/// counter of writers in flight that the controller closes for the few
/// microseconds of a switch. An online rebuild runs as online schema-change
/// tools for databases do:
///
/// 1. close the gate, start a ``ChangeLog`` of written keys, open it;
/// 2. copy a consistent snapshot of the live instance into the replacement
///    while readers and writers go on (writers record their keys);
/// 3. replay the recorded keys (each key's *current* value, or its absence)
///    until few are left;
/// 4. close the gate, replay the rest, make the replacement live, open the gate.
///
/// Every write acknowledged before step 4 is either in the snapshot or
/// recorded after it and replayed from the instance it went to, so it is
/// neither lost nor resurrected (a delete replays as a delete). Writers wait
/// only during step 4, whose length is measured (``pauseStatistics``).
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
        /// Keys replayed while the gate was closed.
        package var replayedDuringPause: Int = 0
        /// How long writers waited at the switch.
        package var pause: Duration = .zero
        /// From the start of the capture to the gate opening on the replacement.
        package var total: Duration = .zero
    }

    private struct Routing {
        var live: Instance
        var standby: Instance?
        var standbyRole: StandbyRole = .warm
        var changeLog: ChangeLog<Key>?
        var isClosed = false
        var inFlight = 0
        var isRebuilding = false
    }

    /// What a writer needs, read once as it passes the gate; constant until it leaves.
    private struct Ticket {
        var live: Instance
        var mirror: Instance?
        var changeLog: ChangeLog<Key>?
    }

    private let routing: Mutex<Routing>
    private let stripes = KeyStripes()
    private let pauses = PauseRecorder()
    private let divergenceCount = Mutex(0)

    /// Fewer recorded keys than this end the concurrent replay rounds and go to the switch.
    private let switchThreshold: Int
    private let maxReplayRounds: Int

    package init(live: Instance, switchThreshold: Int = 256, maxReplayRounds: Int = 16) {
        routing = Mutex(Routing(live: live))
        self.switchThreshold = switchThreshold
        self.maxReplayRounds = maxReplayRounds
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
        } mirror: { standby, _ in
            self.mirrorPut(key, value, to: standby)
        }
    }

    @discardableResult
    package func delete(_ key: Key) throws(Failure) -> Bool {
        try write(key) { (instance) throws(Failure) -> Bool in
            try instance.delete(key)
        } mirror: { standby, _ in
            standby.discard(key)
        }
    }

    package func compareAndSet(_ key: Key, expected: Value?, new: Value?) throws(Failure) -> Bool {
        try write(key) { (instance) throws(Failure) -> Bool in
            try instance.compareAndSet(key, expected: expected, new: new)
        } mirror: { standby, swapped in
            guard swapped else { return }
            if let new { self.mirrorPut(key, new, to: standby) } else { standby.discard(key) }
        }
    }

    private func mirrorPut(_ key: Key, _ value: Value, to standby: Instance) {
        if standby.carry([(key, value)]) > 0 {
            standby.discard(key)
            divergenceCount.withLock { $0 += 1 }
        }
    }

    private func write<R>(
        _ key: Key,
        _ operation: (Instance) throws(Failure) -> R,
        mirror: (Instance, R) -> Void
    ) throws(Failure) -> R {
        let ticket = enter()
        defer {
            // Recorded even when the operation failed: the replay reads the current value, so an extra key costs nothing.
            ticket.changeLog?.record(key)
            leave()
        }
        guard let standby = ticket.mirror else { return try operation(ticket.live) }
        return try stripes.withLock(for: key) { () throws(Failure) -> R in
            let result = try operation(ticket.live)
            mirror(standby, result)
            return result
        }
    }

    // MARK: - The write gate

    private func enter() -> Ticket {
        var attempts = 0
        while true {
            let ticket = routing.withLock { routing -> Ticket? in
                guard !routing.isClosed else { return nil }
                routing.inFlight += 1
                return Ticket(
                    live: routing.live,
                    mirror: routing.standbyRole == .warm ? routing.standby : nil,
                    changeLog: routing.changeLog
                )
            }
            if let ticket { return ticket }
            attempts += 1
            Self.backOff(attempts)
        }
    }

    private func leave() {
        routing.withLock { $0.inFlight -= 1 }
    }

    /// Closes the gate and waits for the writers in flight; returns when the pause began.
    private func close() -> ContinuousClock.Instant {
        routing.withLock { routing in
            precondition(!routing.isClosed, "the write gate is closed twice")
            routing.isClosed = true
        }
        let start = ContinuousClock.now
        var attempts = 0
        while routing.withLock({ $0.inFlight }) > 0 {
            attempts += 1
            Self.backOff(attempts)
        }
        return start
    }

    /// Applies `change` to the routing and opens the gate, in one critical section.
    @discardableResult
    private func open(since start: ContinuousClock.Instant, applying change: (inout Routing) -> Void = { _ in }) -> Duration {
        routing.withLock { routing in
            change(&routing)
            routing.isClosed = false
        }
        let pause = ContinuousClock.now - start
        pauses.record(pause)
        return pause
    }

    private static func backOff(_ attempts: Int) {
        if attempts < 64 { return }
        sched_yield()
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
            let snapshot = source.snapshot()
            report.copied = snapshot.count
            report.dropped += replacement.carry(snapshot)
            while report.replayRounds < maxReplayRounds, log.count >= switchThreshold {
                report.replayRounds += 1
                let keys = log.drain()
                report.replayed += keys.count
                report.dropped += replay(keys, from: source, to: replacement)
            }
            let pauseStart = close()
            let keys = log.drain()
            report.replayed += keys.count
            report.replayedDuringPause = keys.count
            report.dropped += replay(keys, from: source, to: replacement)
            report.pause = open(since: pauseStart) { routing in
                routing.changeLog = nil
                Self.switchRouting(&routing, to: replacement, next: next)
            }
        } else {
            let pauseStart = close()
            report.pause = open(since: pauseStart) { routing in
                Self.switchRouting(&routing, to: replacement, next: next)
            }
        }
        routing.withLock { $0.isRebuilding = false }
        report.total = ContinuousClock.now - began
        return report
    }

    private static func switchRouting(_ routing: inout Routing, to replacement: Instance, next: NextStandby) {
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

    private func replay(_ keys: Set<Key>, from source: Instance, to target: Instance) -> Int {
        var dropped = 0
        for key in keys {
            if let value = source.peek(key) {
                if target.carry([(key, value)]) > 0 {
                    target.discard(key)
                    dropped += 1
                }
            } else {
                target.discard(key)
            }
        }
        return dropped
    }

    /// Makes the standby live (a warm or frozen rollback): a switch, no copy.
    ///
    /// - Returns: the writer pause, or nil when there is no standby.
    package func switchToStandby() -> Duration? {
        let start = close()
        var switched = false
        let pause = open(since: start) { routing in
            guard let standby = routing.standby else { return }
            routing.live = standby
            routing.standby = nil
            switched = true
        }
        return switched ? pause : nil
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
        routing.withLock { $0.standby = nil }
    }
}
