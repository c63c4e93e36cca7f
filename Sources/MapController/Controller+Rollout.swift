import Foundation
import Governance
import LiveMaps
import Logging
import MapSchema
import Rollout

/// What started a rollback; the first three are `mapctl_rollbacks_total`'s `reason` label.
enum RollbackTrigger: String, Sendable {
    case failedChecks = "failed_checks"
    case startupFaults = "startup_faults"
    case manual
    /// A lower version received (a revert in git): a rollback with no quarantine.
    case downgrade
}

extension Controller {
    // MARK: - Checks, promotion

    /// Judges the interval that just ended for `name`'s version in its window, if a check is due.
    func checkRollout(of name: String, at now: RolloutInstant) async {
        let queryRun = await runRolloutQueries(of: name, at: now)  // before reading state: it suspends
        guard !rebuildsInFlight.contains(name), var record = records[name], var progress = record.rollout, now >= progress.nextCheck,
            let map = registry[name]
        else { return }
        let current = map.liveView.counters.snapshot()
        if configuration.fleet?.judgement == .fleet {
            // The fleet's leader judges the sum of every replica's samples; this replica follows.
            progress.baseline = current
            progress.nextCheck = now + progress.analysis.policy.interval
            record.rollout = progress
            records[name] = record
            return
        }
        let delta = current.delta(since: progress.baseline)
        let sample = IntervalSample(
            ops: delta.totalOps,
            errors: delta.errors,
            faults: delta.faults,
            p99: delta.latency.count > 0 ? delta.latency.quantile(0.99) : nil,
            latencySamples: delta.latency.count
        )
        let decision = progress.analysis.evaluate(sample, queries: judgedQueryOutcomes(queryRun, record: &record), at: now)
        let version = progress.version.description
        if let check = progress.analysis.lastCheck {
            counters.countCheck(map: name, version: version, result: check.label)
            logger.debug(
                "rollout check",
                metadata: [
                    "map": .string(name), "version": .string(version), "result": .string(check.description),
                    "ops": .stringConvertible(sample.ops), "errors": .stringConvertible(sample.errors),
                    "faults": .stringConvertible(sample.faults),
                ])
        }
        progress.baseline = current
        progress.nextCheck = progress.analysis.nextCheck(after: now)
        record.tally = progress.analysis.tally
        record.rollout = progress
        records[name] = record
        switch decision {
        case .continue:
            break
        case .promote:
            if configuration.fleet == nil {
                promote(name)
            } else {
                // Cut off from the fleet: safety rollbacks only; the window stays open until the fleet decides.
                progress.nextCheck = now + progress.analysis.policy.interval
                records[name]?.rollout = progress
            }
        case .rollback(let reason):
            await rollBackAutomatically(name, reason: reason, trigger: .failedChecks)
        }
    }

    /// The window passed without a rollback: the version is promoted and the predecessor released.
    func promote(_ name: String) {
        guard var record = records[name], let live = record.live else { return }
        var state = record.state
        let predecessor = state.standby?.version
        state.standby = nil
        state.windowEndsAt = nil
        let tally = record.tally
        let reason = "rollback window passed: \(tally.passed) passed, \(tally.failed) failed, \(tally.inconclusive) inconclusive checks"
        let entry = history(
            .promote, version: live.schema.version, from: predecessor, source: state.desiredSource, sha: live.contentSHA256, reason: reason)
        do {
            try store.save(state, appending: [entry], at: clock.currentDate)
        } catch {
            // The window stays open in memory; the next tick tries again.
            logger.error("could not record a promotion", metadata: ["map": .string(name), "error": "\(error)"])
            record.rollout?.nextCheck = clock.now + configuration.requeueBackoff
            records[name] = record
            return
        }
        registry[name]?.releaseStandby()
        record.state = state
        record.standby = nil
        record.rollout = nil
        records[name] = record
        logger.info(
            "version promoted",
            metadata: [
                "map": .string(name), "version": .string(live.schema.version.description), "reason": .string(reason),
            ])
    }

    // MARK: - Rollbacks

    func rollBackAutomatically(_ name: String, reason: String, trigger: RollbackTrigger) async {
        guard let record = records[name], let target = record.standby else {
            logger.error("rollback wanted but no predecessor is kept", metadata: ["map": .string(name), "reason": .string(reason)])
            return
        }
        do {
            try await rollBack(name, to: target, reason: reason, trigger: trigger, source: "controller")
        } catch {
            logger.error("could not record a rollback; retrying at the next check", metadata: ["map": .string(name), "error": "\(error)"])
            records[name]?.rollout?.nextCheck = clock.now + configuration.requeueBackoff
        }
    }

    /// Makes `target` live again: a switch when the predecessor is kept warm (or frozen), an online copy otherwise.
    ///
    /// The version rolled back from is quarantined, except for a downgrade (the
    /// desired document itself moved back). State and history are written in
    /// one transaction before the switch.
    func rollBack(
        _ name: String, to target: SchemaDocument, reason: String, trigger: RollbackTrigger,
        source: String?, carriesData: Bool? = nil
    ) async throws(StateStoreError) {
        guard var record = records[name], let from = record.live, let map = registry[name] else { return }
        let now = clock.currentDate
        var state = record.state
        state.liveVersion = target.schema.version
        state.liveSHA256 = target.contentSHA256
        state.standby = nil
        state.windowEndsAt = nil
        var entries = [
            history(
                .rollback, version: target.schema.version, from: from.schema.version, source: source, sha: target.contentSHA256,
                reason: reason)
        ]
        var documents: [AppliedDocument] = []
        if trigger == .downgrade {
            setDesired(&state, target, source: source ?? "controller")
            state.reason = reason
            if (try? store.document(name: name, version: target.schema.version)) == nil {
                documents.append(applied(target, source: source ?? "controller"))
            }
        } else {
            state.reason = "\(from.schema.version) rolled back: \(reason)"
            if !state.isQuarantined(version: from.schema.version, contentSHA256: from.contentSHA256) {
                state.quarantined.append(.init(version: from.schema.version, contentSHA256: from.contentSHA256, reason: reason, at: now))
            }
            entries.append(history(.quarantine, version: from.schema.version, source: source, sha: from.contentSHA256, reason: reason))
        }
        try store.save(state, appending: entries, recording: documents, at: now)

        let started = ContinuousClock.now
        let usesStandby = record.standby?.schema.version == target.schema.version && map.hasStandby
        var mode = "switch"
        if usesStandby, let pause = map.switchToStandby() {
            mode = "switch (\(Int(pause.microseconds)) us pause)"
        } else {
            let carries =
                carriesData
                ?? (SchemaCompatibility.overallKind(SchemaCompatibility.changes(from: from.schema, to: target.schema)) != .breaking)
            rebuildsInFlight.insert(name)
            let beforeRebuild = configuration.beforeRebuild
            let report = await offActor {
                beforeRebuild?(name)
                return map.rebuild(to: target.schema, standby: .none, carriesData: carries)
            }
            rebuildsInFlight.remove(name)
            record.pending = records[name]?.pending
            mode = "copy back (\(report.copied) entries, \(report.dropped) dropped, \(Int(report.pause.microseconds)) us pause)"
        }
        map.releaseStandby()
        map.adoptBreaker(target.schema.circuitBreaker)
        record.state = state
        record.live = target
        record.standby = nil
        record.rollout = nil
        records[name] = record
        if trigger != .downgrade { counters.countRollback(map: name, reason: trigger.rawValue) }
        logger.warning(
            "rolled back",
            metadata: [
                "map": .string(name), "version": .string(target.schema.version.description),
                "from_version": .string(from.schema.version.description), "reason": .string(reason),
                "trigger": .string(trigger.rawValue), "mode": .string(mode),
                "duration_us": .stringConvertible(Int((ContinuousClock.now - started).microseconds)),
            ])
    }

    public func rollback(name: String, to version: String?, reason: String?, source: String) async throws(ControlPlaneError) -> MapStatus {
        guard let record = records[name], let live = record.live else {
            throw ControlPlaneError(.notFound, code: "map_not_found", message: "no live map named '\(name)'")
        }
        let target: SchemaDocument
        if let version {
            let parsed: SemanticVersion
            do { parsed = try SemanticVersion(parsing: version) } catch {
                throw ControlPlaneError(.badRequest, code: "bad_version", message: error.message)
            }
            if parsed.hasSamePrecedence(as: live.schema.version) {
                throw ControlPlaneError(.conflict, code: "already_live", message: "\(name) \(parsed) is already live")
            }
            if let standby = record.standby, standby.schema.version.hasSamePrecedence(as: parsed) {
                target = standby
            } else {
                target = try storedDocument(name, version: parsed)
            }
        } else if let standby = record.standby {
            target = standby
        } else {
            guard let predecessor = predecessorVersion(of: name, live: live.schema.version) else {
                throw ControlPlaneError(.conflict, code: "no_predecessor", message: "\(name) has no earlier version to roll back to")
            }
            target = try storedDocument(name, version: predecessor)
        }
        let because = reason.map { "manual: \($0)" } ?? "manual rollback"
        guard !rebuildsInFlight.contains(name) else {
            throw ControlPlaneError(.conflict, code: "rebuild_in_progress", message: "\(name) is being rebuilt; retry when it is done")
        }
        do {
            try await rollBack(name, to: target, reason: because, trigger: .manual, source: source)
        } catch {
            throw ControlPlaneError(.internal, code: "state_error", message: "the rollback could not be recorded: \(error)")
        }
        return status(of: records[name]!)
    }

    /// The version live before `live` in history, skipping versions quarantined since.
    func predecessorVersion(of name: String, live: SemanticVersion) -> SemanticVersion? {
        guard let entries = try? store.history(name: name) else { return nil }
        let quarantined = Set(records[name]?.state.quarantined.map(\.version.description) ?? [])
        let liveText = live.description
        for entry in entries.reversed() where entry.version == liveText && (entry.action == .apply || entry.action == .rollback) {
            if let from = entry.fromVersion, from != liveText, !quarantined.contains(from) {
                return try? SemanticVersion(parsing: from)
            }
        }
        return nil
    }

    func storedDocument(_ name: String, version: SemanticVersion) throws(ControlPlaneError) -> SchemaDocument {
        let stored: AppliedDocument?
        do { stored = try store.document(name: name, version: version) } catch {
            throw ControlPlaneError(.internal, code: "state_error", message: "\(error)")
        }
        guard let stored else {
            throw ControlPlaneError(.notFound, code: "version_not_found", message: "\(name) \(version) is not in the map's history")
        }
        guard let document = decodeStored(stored) else {
            throw ControlPlaneError(
                .conflict, code: "version_unusable", message: "\(name) \(version) no longer validates (fault injection disabled?)")
        }
        return document
    }

    func decodeStored(_ stored: AppliedDocument) -> SchemaDocument? {
        var options = SchemaDecoder.Options()
        options.allowFaultInjection = configuration.allowFaultInjection
        options.allowPrometheusQueries = configuration.queryEvaluator != nil
        let result = SchemaDecoder(options: options).decode(Array(stored.yaml.utf8), file: stored.source ?? stored.name)
        guard let document = result.documents.first, document.schema.name == stored.name else {
            logger.error(
                "a stored document no longer validates",
                metadata: [
                    "map": .string(stored.name), "version": .string(stored.version.description),
                    "error": .string(result.diagnostics.first?.description ?? "no document"),
                ])
            return nil
        }
        return document
    }

    // MARK: - Restore and crash loops

    /// Rebuilds one map from the store: its live version (empty: contents are memory), its window and standby.
    func restore(_ state: PersistedMapState) {
        var record = MapRecord(state: state)
        if let pendingVersion = state.desiredVersion, pendingVersion != state.liveVersion,
            !state.quarantined.contains(where: { $0.version == pendingVersion }),
            let stored = try? store.document(name: state.name, version: pendingVersion), let document = decodeStored(stored)
        {
            record.pending = PendingDocument(document: document, source: state.desiredSource ?? "restore")
            requeue.requeue(state.name, at: clock.now, base: .zero, max: .zero)
        }
        guard let version = state.liveVersion,
            let stored = try? store.document(name: state.name, version: version),
            let live = decodeStored(stored)
        else {
            records[state.name] = record
            return
        }
        let map = makeManagedMap(state.name, schema: live.schema)
        record.live = live
        if let standby = state.standby, let windowEndsAt = state.windowEndsAt,
            let storedStandby = try? store.document(name: state.name, version: standby.version),
            let standbyDocument = decodeStored(storedStandby)
        {
            record.standby = standbyDocument
            if standby.mode == .warm {
                map.installStandby(schema: standbyDocument.schema, role: .warm)
            }
            let remaining = Duration.seconds(max(0, windowEndsAt.timeIntervalSince(clock.currentDate)))
            let now = clock.now
            let analysis = RolloutAnalysis(policy: live.schema.rollout, startedAt: now, window: remaining)
            record.rollout = RolloutProgress(
                version: version, analysis: analysis, baseline: map.liveView.counters.snapshot(),
                nextCheck: analysis.nextCheck(after: now)
            )
        }
        records[state.name] = record
        registry.set(map, for: state.name)
        counters.registerMap(state.name)
        logger.info(
            "map restored",
            metadata: [
                "map": .string(state.name), "version": .string(version.description),
                "window_ends_at": .string(state.windowEndsAt.map { "\($0)" } ?? "none"),
            ])
    }

    /// An unclean end of the previous run while `crashed` was in its window: a fault of that version.
    func judgeStartupFault(of crashed: RunRecord.WindowedMap) async {
        guard var record = records[crashed.name], var progress = record.rollout,
            progress.version == crashed.version
        else { return }
        let decision = progress.analysis.recordStartupFaults(1, at: clock.now)
        record.tally = progress.analysis.tally
        record.rollout = progress
        records[crashed.name] = record
        logger.warning(
            "unclean exit during the rollback window counted as a fault",
            metadata: [
                "map": .string(crashed.name), "version": .string(crashed.version.description),
            ])
        if case .rollback(let reason) = decision {
            counters.countCheck(map: crashed.name, version: crashed.version.description, result: "fail")
            await rollBackAutomatically(crashed.name, reason: reason, trigger: .startupFaults)
        }
    }
}
