import Foundation
import LiveMaps
import MapController
import MapSchema
import Rollout

/// One window's samples are keyed by the map, the version and the window's start.
struct SampleKey: Hashable, Sendable {
    var name: String
    var version: String
    var windowStart: Date
}

/// Where this replica's sampling of one window stands: the counters at the start of the current interval.
struct SampleCursor: Sendable {
    var interval: Int
    var baseline: CounterSnapshot
    var extraFaults: UInt64
}

/// Samples (every replica) and judgement (the leader).
extension FleetCoordinator {
    // MARK: - Samples

    /// Publishes, for each window this replica serves, the deltas of every interval that ended since the last
    /// pass. Intervals are counted from the window's start in the shared state, so that every replica's
    /// interval k covers the same span.
    func publishSamples(local: [ReplicaMapView], fleet: [String: FleetMapState], now: Date) async throws {
        var open: Set<SampleKey> = []
        for map in local {
            guard let live = map.live, let counters = map.counters, let state = fleet[map.name], state.phase == "rolling_out",
                let start = state.windowStartedAt, state.liveVersion == live.schema.version.description,
                state.liveSHA256 == live.contentSHA256
            else { continue }
            let key = SampleKey(name: map.name, version: live.schema.version.description, windowStart: start)
            open.insert(key)
            let interval = live.schema.rollout.interval.timeInterval
            let current = max(0, Int(now.timeIntervalSince(start) / max(interval, 0.001)))
            guard var cursor = cursors[key] else {
                var faults: UInt64 = 0
                if let crashed = pendingStartupFaults[map.name], crashed.hasSamePrecedence(as: live.schema.version) {
                    faults = 1
                    pendingStartupFaults[map.name] = nil
                    logger.warning(
                        "unclean exit during the window reported to the fleet as a fault",
                        metadata: ["map": .string(map.name), "version": .string(key.version)])
                }
                cursors[key] = SampleCursor(interval: current, baseline: counters, extraFaults: faults)
                continue
            }
            if current > cursor.interval {
                let delta = counters.delta(since: cursor.baseline)
                try await store.publish(
                    FleetSample(
                        name: map.name, version: key.version, windowStart: start, interval: cursor.interval, replica: settings.replica,
                        ops: delta.totalOps, errors: delta.errors, faults: delta.faults &+ cursor.extraFaults,
                        latencyBuckets: Self.trimmed(delta.latency.counts), publishedAt: now))
                cursor = SampleCursor(interval: current, baseline: counters, extraFaults: 0)
                cursors[key] = cursor
            }
        }
        cursors = cursors.filter { open.contains($0.key) }
    }

    static func trimmed(_ counts: [UInt64]) -> [UInt64] {
        guard let last = counts.lastIndex(where: { $0 != 0 }) else { return [] }
        return Array(counts[...last])
    }

    // MARK: - Leadership and judgement

    /// Takes (or keeps) the fleet's advisory lock and, while it is held, judges every open window.
    func lead(states: [String: FleetMapState], now: Date) async throws {
        let leads = try await store.tryLead(replica: settings.replica)
        if leads != isLeader {
            isLeader = leads
            // What another leader judged meanwhile is in the samples and checks: start each window afresh.
            judgements = [:]
            leaderGauge.record(leads ? 1 : 0)
            if leads {
                logger.info("this replica leads the fleet", metadata: ["replica": .string(settings.replica)])
            }
        }
        // Followers refresh the fleet's checks for status once a heartbeat; the leader reads them every pass.
        let refreshes = leads || lastChecksRefresh.map { ContinuousClock.now - $0 >= settings.heartbeat } ?? true
        guard refreshes else { return }
        lastChecksRefresh = .now
        for state in states.values.sorted(by: { $0.name < $1.name }) {
            let checks = try await refreshChecks(of: state)
            guard leads else { continue }
            try await judge(state, recorded: checks, now: now)
        }
        if leads {
            // Windows that ended (promoted, rolled back, replaced) need no judgement kept.
            let open = Set(
                states.values.compactMap { state in
                    state.windowStartedAt.flatMap { start in
                        state.liveVersion.map { SampleKey(name: state.name, version: $0, windowStart: start) }
                    }
                })
            judgements = judgements.filter { open.contains($0.key) }
        }
    }

    /// Reads the leader's recorded checks of a map's window into the view (status shows them on every replica).
    func refreshChecks(of state: FleetMapState) async throws -> [Int: String] {
        guard state.phase == "rolling_out", let version = state.liveVersion, let start = state.windowStartedAt else {
            return [:]
        }
        let checks = try await store.checks(name: state.name, version: version, windowStart: start)
        var counts = CheckCounts()
        for interval in checks.keys.sorted() {
            switch checks[interval] {
            case "pass":
                counts.passed += 1
                counts.consecutiveFailures = 0
            case "fail":
                counts.failed += 1
                counts.consecutiveFailures += 1
            default: counts.inconclusive += 1
            }
        }
        view.setChecks(counts, for: state.name)
        return checks
    }

    /// Judges one window on the sum of every replica's samples, interval by interval from its start (so that
    /// a new leader reaches the same verdicts as the old one), and records the decision once.
    func judge(_ state: FleetMapState, recorded: [Int: String], now: Date) async throws {
        guard state.phase == "rolling_out", let version = state.liveVersion, let sha = state.liveSHA256,
            let start = state.windowStartedAt, let ends = state.windowEndsAt,
            let document = try await document(state.name, version: version, sha: sha)
        else { return }
        let policy = document.schema.rollout
        let interval = max(policy.interval.timeInterval, 0.001)
        let grace = settings.sampleGrace.timeInterval
        let window = ends.timeIntervalSince(start)
        let total = Int((window / interval).rounded(.up))
        let elapsed = now.timeIntervalSince(start) - grace
        let windowOver = elapsed >= window
        let completed = min(total, max(0, Int(elapsed / interval)))
        guard completed > 0 || windowOver else { return }

        let key = SampleKey(name: state.name, version: version, windowStart: start)
        let judged = windowOver ? total : completed
        var progress =
            judgements[key]
            ?? WindowJudgement(
                analysis: RolloutAnalysis(policy: policy, startedAt: .zero, window: .seconds(window)), next: 0,
                decision: .continue(.inconclusive))
        var sums: [Int: FleetSample] = [:]
        let samples =
            progress.next < judged
            ? try await store.samples(name: state.name, version: version, windowStart: start, fromInterval: progress.next) : []
        for sample in samples where sample.interval < judged {
            var sum =
                sums[sample.interval]
                ?? FleetSample(
                    name: state.name, version: version, windowStart: start, interval: sample.interval, replica: "fleet", ops: 0,
                    errors: 0, faults: 0, latencyBuckets: [], publishedAt: now)
            sum.ops &+= sample.ops
            sum.errors &+= sample.errors
            sum.faults &+= sample.faults
            if sum.latencyBuckets.count < sample.latencyBuckets.count {
                sum.latencyBuckets += [UInt64](repeating: 0, count: sample.latencyBuckets.count - sum.latencyBuckets.count)
            }
            for (index, count) in sample.latencyBuckets.enumerated() { sum.latencyBuckets[index] &+= count }
            sums[sample.interval] = sum
        }

        var analysis = progress.analysis
        var decision = progress.decision
        for index in progress.next..<max(progress.next, judged) {
            let sample = Self.intervalSample(sums[index])
            var outcomes: [RolloutQueryOutcome] = []
            if !policy.queries.isEmpty, let queries {
                // Prometheus answers for now: each interval is queried once, when the leader first judges it.
                if let known = queryVerdicts[key]?[index] {
                    outcomes = known
                } else if recorded[index] == nil {
                    outcomes = await queries.evaluate(policy.queries, map: state.name, version: version)
                    queryVerdicts[key, default: [:]][index] = outcomes
                }
            }
            let at = RolloutInstant.zero + .seconds(min(Double(index + 1) * interval, window))
            decision = analysis.evaluate(sample, queries: outcomes, at: at)
            if recorded[index] == nil, let check = analysis.lastCheck {
                if try await store.recordCheck(name: state.name, version: version, windowStart: start, interval: index, result: check.label)
                {
                    logger.debug(
                        "fleet check",
                        metadata: [
                            "map": .string(state.name), "version": .string(version), "interval": .stringConvertible(index),
                            "result": .string(check.description),
                        ])
                }
            }
            progress = WindowJudgement(analysis: analysis, next: index + 1, decision: decision)
            if case .rollback = decision { break }
        }
        judgements[key] = progress
        switch decision {
        case .rollback(let reason):
            try await decideRollback(state, reason: reason, now: now)
            queryVerdicts[key] = nil
            judgements[key] = nil
        case .promote where windowOver:
            try await decidePromotion(state, tally: analysis.tally, now: now)
            queryVerdicts[key] = nil
            judgements[key] = nil
        default:
            break
        }
    }

    static func intervalSample(_ sum: FleetSample?) -> IntervalSample {
        guard let sum else { return .idle }
        var counts = sum.latencyBuckets
        if counts.count < LatencyHistogram.bucketCount {
            counts += [UInt64](repeating: 0, count: LatencyHistogram.bucketCount - counts.count)
        }
        let histogram = LatencyHistogram(counts: Array(counts.prefix(LatencyHistogram.bucketCount)))
        let timed = histogram.count
        return IntervalSample(
            ops: sum.ops, errors: sum.errors, faults: sum.faults, p99: timed > 0 ? histogram.quantile(0.99) : nil,
            latencySamples: timed)
    }

    func decideRollback(_ state: FleetMapState, reason: String, now: Date) async throws {
        let replica = settings.replica
        let expected = state.revision
        let after = try await store.update(name: state.name) { current in
            guard var next = current, next.revision == expected, let from = next.liveVersion, let fromSHA = next.liveSHA256,
                let target = next.standbyVersion, let targetSHA = next.standbySHA256
            else { return nil }
            next.liveVersion = target
            next.liveSHA256 = targetSHA
            next.standbyVersion = nil
            next.standbySHA256 = nil
            next.windowStartedAt = nil
            next.windowEndsAt = nil
            next.phase = "rolled_back"
            next.reason = "\(from) rolled back: \(reason)"
            if !next.quarantined.contains(where: { $0.version == from && $0.contentSHA256 == fromSHA }) {
                next.quarantined.append(FleetQuarantine(version: from, contentSHA256: fromSHA, reason: reason, at: now, replica: replica))
            }
            let history = [
                FleetHistoryEntry(
                    time: now, action: "rollback", version: target, fromVersion: from, source: "fleet leader", contentSHA256: targetSHA,
                    reason: reason, replica: replica),
                FleetHistoryEntry(
                    time: now, action: "quarantine", version: from, fromVersion: nil, source: "fleet leader", contentSHA256: fromSHA,
                    reason: reason, replica: replica),
            ]
            return FleetChange(state: next, history: history, documents: [])
        }
        if after?.revision != expected {
            logger.warning(
                "fleet rolled back a version",
                metadata: [
                    "map": .string(state.name), "from_version": .string(state.liveVersion ?? "-"),
                    "version": .string(state.standbyVersion ?? "-"), "reason": .string(reason),
                ])
            // The leader follows its own decision at once: its next pass would come only after this one has
            // judged every other map (0.8 s at 100 maps in their windows).
            if let after {
                try await follow(after, local: await controller.replicaView(of: after.name))
            }
            wakeup?.yield()
        }
    }

    func decidePromotion(_ state: FleetMapState, tally: CheckTally, now: Date) async throws {
        let replica = settings.replica
        let expected = state.revision
        let reason =
            "rollback window passed: \(tally.passed) passed, \(tally.failed) failed, \(tally.inconclusive) inconclusive fleet checks"
        _ = try await store.update(name: state.name) { current in
            guard var next = current, next.revision == expected, let version = next.liveVersion else { return nil }
            let from = next.standbyVersion
            next.standbyVersion = nil
            next.standbySHA256 = nil
            next.windowStartedAt = nil
            next.windowEndsAt = nil
            next.phase = "stable"
            let entry = FleetHistoryEntry(
                time: now, action: "promote", version: version, fromVersion: from, source: "fleet leader",
                contentSHA256: next.liveSHA256, reason: reason, replica: replica)
            return FleetChange(state: next, history: [entry], documents: [])
        }
        logger.info("fleet promoted a version", metadata: ["map": .string(state.name), "version": .string(state.liveVersion ?? "-")])
    }

    /// The decoded document of a fleet version (its rollout policy), cached by content hash.
    func document(_ name: String, version: String, sha: String) async throws -> SchemaDocument? {
        if let cached = documents[sha] { return cached }
        guard let stored = try await store.document(name: name, version: version) else { return nil }
        var options = SchemaDecoder.Options()
        options.allowFaultInjection = true
        let result = SchemaDecoder(options: options).decode(Array(stored.yaml.utf8), file: stored.source ?? name)
        guard let document = result.documents.first else { return nil }
        documents[sha] = document
        return document
    }
}

/// Where the leader's judgement of one window stands (see ``FleetCoordinator/judgements``).
struct WindowJudgement: Sendable {
    var analysis: RolloutAnalysis
    /// The first interval not judged yet.
    var next: Int
    var decision: RolloutAnalysis.Decision
}
