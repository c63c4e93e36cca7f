import Foundation
import Governance
import LiveMaps
import Logging
import MapSchema
import Rollout

extension Controller {
    // MARK: - Sources of documents

    public func apply(yaml: [UInt8], source: String, isDryRun: Bool, prune: Bool) async throws(ControlPlaneError) -> ApplyReport {
        guard yaml.count <= configuration.maxApplyBytes else {
            throw ControlPlaneError(
                .tooLarge, code: "too_large", message: "the body is \(yaml.count) bytes, over the limit of \(configuration.maxApplyBytes)")
        }
        let progress = configuration.reconcileProgress.begin()
        defer { configuration.reconcileProgress.end(progress) }
        var options = SchemaDecoder.Options()
        options.allowFaultInjection = configuration.allowFaultInjection
        options.allowPrometheusQueries = configuration.queryEvaluator != nil
        options.allowMultipleDocuments = true
        options.maxFileBytes = configuration.maxApplyBytes
        let result = await Self.decodeOffActor(yaml, source: source, options: options)
        var invalid = result.invalid
        if result.documents.isEmpty && invalid.isEmpty {
            let errors = result.diagnostics.filter { $0.severity == .error }
            if !errors.isEmpty { invalid.append(InvalidDocument(file: source, diagnostics: errors)) }
        }
        let known = Set(records.keys)
        let report = await ingest(
            valid: result.documents.map { ($0, source) },
            invalid: invalid.map { ($0, source) },
            isDryRun: isDryRun,
            prune: prune
        )
        // A change whose state write failed is answered as not applied (503): it must not be
        // applied later behind the client's back, so it is not retried as a file's would be.
        for entry in report.plan where entry.stateError != nil {
            requeue.forget(entry.name)
            records[entry.name]?.pending = nil
            if !known.contains(entry.name) { records[entry.name] = nil }
        }
        return report
    }

    /// Reconciles the maps to a directory of schema files (the watcher calls it on every change).
    ///
    /// The source of each document is its file path, with `@COMMIT` when the
    /// directory is inside a git work tree (HEAD is read once per call).
    /// Invalid files leave their map's live version untouched. With `prune`,
    /// live maps with no file are dropped, unless a file was too broken to
    /// tell which map it is.
    public func reconcileDirectory(_ path: String, prune: Bool) async -> ApplyReport {
        await reconcileDirectory(path, prune: prune, changedFiles: nil)
    }

    /// Reconciles the maps to a directory of which only `changedFiles` changed since the last reconcile
    /// (paths as a watcher names them; nil: anything may have changed).
    ///
    /// Only those files are read again and only the maps they named before or name now are planned; the
    /// report holds those. When the loader cannot follow the paths one by one (a directory, a symbolic
    /// link, a hidden name), the whole directory is read and planned, as with `changedFiles` nil.
    public func reconcileDirectory(_ path: String, prune: Bool, changedFiles: Set<String>?) async -> ApplyReport {
        // One directory reconcile at a time (the watcher's, a SIGHUP resync): each plans from its own load.
        await directoryTurns.begin()
        defer { directoryTurns.end() }
        directoryReconcilesBegun += 1
        defer { directoryReconcilesDone += 1 }
        let progress = configuration.reconcileProgress.begin()
        defer { configuration.reconcileProgress.end(progress) }
        var options = SchemaDecoder.Options()
        options.allowFaultInjection = configuration.allowFaultInjection
        options.allowPrometheusQueries = configuration.queryEvaluator != nil
        let loaded = await loadDirectory(path, changed: changedFiles, options: options)
        let set = loaded.set
        let commit = GitRevision.head(containing: path)
        func source(_ file: String) -> String { commit.map { "\(file)@\($0)" } ?? file }
        var invalid = set.invalid
        let accounted = Set(set.invalid.map(\.file)).union(set.documents.map(\.file))
        for diagnostic in set.diagnostics where diagnostic.severity == .error && !accounted.contains(diagnostic.file) {
            invalid.append(InvalidDocument(file: diagnostic.file, diagnostics: [diagnostic]))
        }
        unnamedInvalidFiles = Set(invalid.filter { $0.name == nil }.map(\.file))
        if set.filesScanned == 0 && set.documents.isEmpty && !set.diagnostics.isEmpty {
            logger.error("cannot read the schema directory", metadata: ["path": .string(path), "error": "\(set.diagnostics.first!)"])
            return ApplyReport(dryRun: false, plan: [])
        }
        // Desired state is the last valid document *received*. A file that has not
        // changed since the directory last gave it is not received again, so a newer version sent
        // with `mapctl apply` stays desired until the file itself changes (a resync does not undo it).
        var received: [SchemaDocument] = []
        var notReceivedAgain: [SchemaDocument] = []
        for document in set.documents where loaded.concerns(name: document.schema.name, file: document.file) {
            let name = document.schema.name
            let desired = records[name]?.state.desiredSHA256
            if desired != nil, desired != document.contentSHA256, lastReceivedFromDirectory(name) == document.contentSHA256 {
                notReceivedAgain.append(document)
                continue
            }
            received.append(document)
            if lastReceivedFromDirectory(name) != document.contentSHA256 {
                directoryReceived[name] = document.contentSHA256
                do {
                    try store.setMetaValue(document.contentSHA256, forKey: "directory_sha256:\(name)")
                } catch {
                    logger.warning("could not record the directory's document", metadata: ["map": .string(name), "error": "\(error)"])
                }
            }
        }
        // Level-triggered: an invalid mark left by a file of this directory that no longer names the map goes.
        let present = Set(set.documents.map(\.schema.name)).union(invalid.compactMap(\.name))
        let report = await ingest(
            valid: received.map { ($0, source($0.file)) },
            invalid: invalid.filter { loaded.concerns(name: $0.name, file: $0.file) }.map { ($0, source($0.file)) },
            isDryRun: false,
            prune: prune && unnamedInvalidFiles.isEmpty,
            notReceivedAgain: notReceivedAgain,
            present: present
        )
        for name in records.keys.sorted() where !present.contains(name) {
            guard let mark = records[name]?.state.invalid, mark.source?.hasPrefix(path) == true else { continue }
            clearInvalid(name)
        }
        return report
    }

    /// The content hash of the document the watched directory last gave for `name`, if any.
    func lastReceivedFromDirectory(_ name: String) -> String? {
        if let sha = directoryReceived[name] { return sha }
        let stored = try? store.metaValue(forKey: "directory_sha256:\(name)")
        if let stored { directoryReceived[name] = stored }
        return stored ?? nil
    }

    /// The invalid document that marked `name` is gone: a map never live is forgotten, a live one is no longer invalid.
    func clearInvalid(_ name: String) {
        guard var record = records[name] else { return }
        if record.state.liveVersion == nil {
            pruneMap(name)
            return
        }
        var state = record.state
        state.invalid = nil
        do {
            try store.save(state, at: clock.currentDate)
            record.state = state
            records[name] = record
        } catch {
            logger.error("could not clear an invalid mark", metadata: ["map": .string(name), "error": "\(error)"])
        }
    }

    // MARK: - Ingest → plan → reconcile

    /// One path for every source: classify each document, then (unless a dry run) reconcile each map.
    func ingest(
        valid: [(SchemaDocument, String)],
        invalid: [(InvalidDocument, String)],
        isDryRun: Bool,
        prune: Bool,
        notReceivedAgain: [SchemaDocument] = [],
        present: Set<String> = []
    ) async -> ApplyReport {
        var plan: [PlanEntry] = notReceivedAgain.map { document in
            PlanEntry(
                name: document.schema.name, action: .unchanged, toVersion: document.schema.version.description,
                reason: "the file is unchanged since it was last received; a later document is desired"
            )
        }
        var touched: [String] = []
        var valid = valid
        var invalid = invalid

        // Two documents for one map in one input: both are invalid, the map is left alone.
        let duplicates = Self.duplicatedNames(valid.map(\.0.schema.name))
        if !duplicates.isEmpty {
            for (document, source) in valid where duplicates.contains(document.schema.name) {
                let diagnostic = Diagnostic(
                    file: document.file, line: document.nameLine, column: document.nameColumn,
                    message: "map '\(document.schema.name)' is defined more than once"
                )
                invalid.append(
                    (
                        InvalidDocument(
                            file: document.file, name: document.schema.name, version: document.schema.version.description,
                            diagnostics: [diagnostic]), source
                    ))
            }
            valid.removeAll { duplicates.contains($0.0.schema.name) }
        }

        // Long inputs are taken in bounded batches: between them, the actor serves others (status, readyz).
        var pacer = ActorPacer()
        var invalidNames: Set<String> = []
        for (document, source) in invalid {
            await pacer.step()
            let diagnostics = document.diagnostics.filter { $0.severity == .error }
            let entry = PlanEntry(
                name: document.name ?? document.file,
                action: .invalid,
                toVersion: document.version,
                reason: diagnostics.first?.message ?? "invalid document",
                diagnostics: document.diagnostics,
                source: source
            )
            plan.append(entry)
            guard let name = document.name else {
                logger.error("invalid schema file", metadata: ["file": .string(document.file), "reason": .string(entry.reason ?? "")])
                if !isDryRun { counters.countReconcile("invalid") }
                continue
            }
            invalidNames.insert(name)
            if !isDryRun {
                markInvalid(name, diagnostics: document.diagnostics, source: source, version: document.version)
                touched.append(name)
            }
        }

        for (document, source) in valid {
            await pacer.step()
            let name = document.schema.name
            let decision = self.plan(document, source: source)
            plan.append(decision.entry)
            if !isDryRun {
                if let failure = await execute(decision, document: document, source: source) {
                    plan[plan.count - 1].stateError = failure
                }
                touched.append(name)
            }
        }

        if prune {
            // `present`: every map the directory names, beside the documents planned here (a reconcile of changed files).
            let keep = Set(valid.map(\.0.schema.name)).union(invalidNames).union(notReceivedAgain.map(\.schema.name)).union(present)
            for name in records.keys.sorted() where !keep.contains(name) && records[name]?.state.liveVersion != nil {
                plan.append(
                    PlanEntry(
                        name: name, action: .prune, fromVersion: records[name]?.state.liveVersion?.description,
                        reason: "no document for this map"))
                if !isDryRun { pruneMap(name) }
            }
        }
        let results = isDryRun ? [] : await statuses(of: touched)
        return ApplyReport(dryRun: isDryRun, plan: plan, results: results)
    }

    /// Classifies one document against the map's live state.
    func plan(_ document: SchemaDocument, source: String) -> PlanDecision {
        if let unchanged = unchangedPlan(document, source: source) { return unchanged }
        let name = document.schema.name
        let record = records[name]
        var live: Planner.Live?
        if let liveDocument = record?.live, let map = registry[name] {
            let instance = map
            live = Planner.Live(
                schema: liveDocument.schema,
                contentSHA256: liveDocument.contentSHA256,
                entries: instance.liveView.count,
                entriesDropped: { instance.entriesDropped(by: $0) }
            )
        }
        let quarantine = record?.state.quarantined.first {
            $0.version == document.schema.version && $0.contentSHA256 == document.contentSHA256
        }
        let known = try? store.document(name: name, version: document.schema.version)
        var decision = Planner.plan(
            document, source: source, live: live, knownContent: known?.contentSHA256,
            quarantine: quarantine?.reason ?? fleetQuarantine(of: document))
        // A map a service bound to its Swift types takes only versions those types fit.
        if let binding = registry.binding(of: name), decision.changesLive {
            do {
                try binding.check(document.schema)
            } catch {
                decision = decision.refusing(error.message, live: live)
            }
        }
        return decision
    }

    /// Carries out a plan decision; a failure to persist keeps the document pending and requeues it.
    ///
    /// - Returns: why the state could not be written, when it could not (nothing was applied then).
    @discardableResult
    func execute(_ decision: PlanDecision, document: SchemaDocument, source: String) async -> String? {
        let name = document.schema.name
        if rebuildsInFlight.contains(name), decision.changesLive {
            // One change of a map at a time: this document waits for the rebuild under way.
            if records[name] == nil { records[name] = MapRecord(state: PersistedMapState(name: name)) }
            records[name]?.pending = PendingDocument(document: document, source: source)
            requeue.requeue(name, at: clock.now, base: configuration.requeueBackoff, max: configuration.requeueBackoff)
            wake()
            return nil
        }
        if decision.changesLive, let waiting = fleetWait(for: document) {
            // The fleet's shared state is unreachable: nothing new goes live; the document waits.
            if records[name] == nil { records[name] = MapRecord(state: PersistedMapState(name: name)) }
            records[name]?.pending = PendingDocument(document: document, source: source)
            requeue.requeue(name, at: clock.now, base: configuration.requeueBackoff, max: configuration.maxRequeueBackoff)
            wake()
            return "nothing was applied and live is untouched: \(waiting); the document is retried"
        }
        do {
            switch decision.kind {
            case .create:
                try create(document, source: source)
                counters.countReconcile("success")
            case .update(let kind, let carriesData):
                try await update(to: document, source: source, kind: kind, carriesData: carriesData, dropped: decision.entry.entriesDropped)
                counters.countReconcile("success")
            case .downgrade(let carriesData):
                try await rollBack(
                    name, to: document, reason: decision.entry.reason ?? "downgrade", trigger: .downgrade,
                    source: source, carriesData: carriesData
                )
                counters.countReconcile("success")
            case .unchanged:
                try acceptUnchanged(document, source: source)
                counters.countReconcile("unchanged")
            case .refused(let reason):
                let diagnostic = Diagnostic(file: document.file, line: document.line, column: 0, message: reason)
                markInvalid(name, diagnostics: [diagnostic], source: source, version: document.schema.version.description)
            case .quarantined(let reason):
                logger.info(
                    "quarantined version not applied",
                    metadata: ["map": .string(name), "version": .string(document.schema.version.description), "reason": .string(reason)]
                )
                counters.countReconcile("unchanged")
            }
            records[name]?.pending = nil
            requeue.forget(name)
            return nil
        } catch {
            counters.countReconcile("error")
            logger.error(
                "reconcile failed; retrying with backoff",
                metadata: ["map": .string(name), "version": .string(document.schema.version.description), "error": "\(error)"]
            )
            if records[name] == nil { records[name] = MapRecord(state: PersistedMapState(name: name)) }
            records[name]?.pending = PendingDocument(document: document, source: source)
            requeue.requeue(name, at: clock.now, base: configuration.requeueBackoff, max: configuration.maxRequeueBackoff)
            wake()
            return "the state could not be written, so nothing was applied and live is untouched: \(error)"
        }
    }

    /// Level-triggered retry: plans the pending document again against what is live now.
    func reconcilePending(_ name: String) async {
        guard let pending = records[name]?.pending else { return }
        await execute(plan(pending.document, source: pending.source), document: pending.document, source: pending.source)
    }

    // MARK: - Changes

    func applied(_ document: SchemaDocument, source: String) -> AppliedDocument {
        AppliedDocument(
            name: document.schema.name, version: document.schema.version, contentSHA256: document.contentSHA256,
            yaml: document.text, source: source, appliedAt: clock.currentDate
        )
    }

    func history(
        _ action: HistoryEntry.Action, version: SemanticVersion?, from: SemanticVersion? = nil,
        source: String?, sha: String?, reason: String?
    ) -> HistoryEntry {
        HistoryEntry(
            time: clock.currentDate, action: action, version: version?.description, fromVersion: from?.description,
            source: source, contentSHA256: sha, reason: reason
        )
    }

    /// The governed map for a new (or restored) map: typed when a service bound it, else dynamic.
    func makeManagedMap(_ name: String, schema: MapSchema) -> any AnyManagedMap {
        if let binding = registry.binding(of: name) {
            let map = binding.managedMap(
                schema: schema, breakerPolicy: schema.circuitBreaker, clock: clock, mapClock: configuration.mapClock)
            if map.liveView.schema != schema {
                // Made earlier for another version (the map was pruned since): start it afresh, empty.
                _ = map.rebuild(to: schema, standby: .none, carriesData: false)
            }
            return map
        }
        return ManagedMap<DynamicMap>(
            name: name, schema: schema, breakerPolicy: schema.circuitBreaker, clock: clock, mapClock: configuration.mapClock)
    }

    func create(_ document: SchemaDocument, source: String) throws(StateStoreError) {
        let name = document.schema.name
        var record = records[name] ?? MapRecord(state: PersistedMapState(name: name))
        var state = record.state
        state.liveVersion = document.schema.version
        state.liveSHA256 = document.contentSHA256
        state.standby = nil
        state.windowEndsAt = nil
        setDesired(&state, document, source: source)
        let entry = history(.apply, version: document.schema.version, source: source, sha: document.contentSHA256, reason: "create")
        try store.save(state, appending: [entry], recording: [applied(document, source: source)], at: clock.currentDate)
        record.state = state
        record.live = document
        record.standby = nil
        record.rollout = nil
        record.tally = CheckTally()
        records[name] = record
        registry.set(makeManagedMap(name, schema: document.schema), for: name)
        counters.registerMap(name)
        logger.info(
            "map created",
            metadata: ["map": .string(name), "version": .string(document.schema.version.description), "source": .string(source)])
    }

    func update(
        to document: SchemaDocument, source: String, kind: ChangeKind?, carriesData: Bool, dropped: Int?
    ) async throws(StateStoreError) {
        let name = document.schema.name
        guard var record = records[name], let previous = record.live, let map = registry[name] else {
            return try create(document, source: source)
        }
        let schema = document.schema
        let midWindow = record.rollout != nil && record.standby != nil
        let next: GovernedMap<DynamicMap>.NextStandby
        var standbyDocument: SchemaDocument?
        var standbyMode: RolloutPolicy.Standby
        if midWindow, let stable = record.standby {
            // A new version mid-window is judged against the last promoted version, which stays the standby.
            standbyDocument = stable
            standbyMode = record.state.standby?.mode ?? schema.rollout.standby
            next = .keepCurrent(freeze: !carriesData)
        } else {
            standbyDocument = previous
            standbyMode = schema.rollout.standby
            if !carriesData {
                next = .previousLive(.frozen)
            } else {
                next = standbyMode == .warm ? .previousLive(.warm) : .none
            }
        }
        let window = schema.rollbackWindow
        var state = record.state
        state.liveVersion = schema.version
        state.liveSHA256 = document.contentSHA256
        state.standby = standbyDocument.map { .init(version: $0.schema.version, mode: carriesData ? standbyMode : .cold) }
        state.windowEndsAt = clock.currentDate.addingTimeInterval(window.timeInterval)
        state.reason = nil
        setDesired(&state, document, source: source)
        var reason = "update (\(kind?.rawValue ?? "no data change"))"
        if let dropped, dropped > 0 { reason += ", \(dropped) entries dropped" }
        if midWindow { reason += ", replacing \(previous.schema.version) mid-window; standby stays \(standbyDocument!.schema.version)" }
        let entry = history(
            .apply, version: schema.version, from: previous.schema.version, source: source, sha: document.contentSHA256, reason: reason)
        try store.save(state, appending: [entry], recording: [applied(document, source: source)], at: clock.currentDate)

        rebuildsInFlight.insert(name)
        let beforeRebuild = configuration.beforeRebuild
        let report = await offActor {
            beforeRebuild?(name)
            return map.rebuild(to: schema, standby: next, carriesData: carriesData)
        }
        rebuildsInFlight.remove(name)
        map.adoptBreaker(schema.circuitBreaker)
        // Other fields (a document that waited meanwhile) may have changed during the rebuild.
        record.pending = records[name]?.pending
        record.state = state
        record.live = document
        record.standby = standbyDocument
        record.tally = CheckTally()
        let now = clock.now
        let analysis = RolloutAnalysis(policy: schema.rollout, startedAt: now, window: window)
        record.rollout = RolloutProgress(
            version: schema.version, analysis: analysis, baseline: map.liveView.counters.snapshot(),
            nextCheck: analysis.nextCheck(after: now)
        )
        records[name] = record
        wake()
        logger.info(
            "map updated",
            metadata: [
                "map": .string(name), "version": .string(schema.version.description),
                "from_version": .string(previous.schema.version.description), "source": .string(source),
                "reason": .string(reason), "copied": .stringConvertible(report.copied), "dropped": .stringConvertible(report.dropped),
                "pause_us": .stringConvertible(report.pause.microseconds),
            ]
        )
    }

    func acceptUnchanged(_ document: SchemaDocument, source: String) throws(StateStoreError) {
        let name = document.schema.name
        guard var record = records[name] else { return }
        var state = record.state
        setDesired(&state, document, source: source)
        if state.desiredVersion != record.state.desiredVersion { state.reason = nil }
        guard state != record.state else { return }
        try store.save(state, at: clock.currentDate)
        record.state = state
        records[name] = record
    }

    /// Desired = this valid document; any invalid mark goes, and so do quarantines: a document with
    /// another version or other content arrived.
    func setDesired(_ state: inout PersistedMapState, _ document: SchemaDocument, source: String) {
        state.desiredVersion = document.schema.version
        state.desiredSHA256 = document.contentSHA256
        state.desiredSource = source
        state.invalid = nil
        if !state.quarantined.isEmpty {
            logger.info(
                "quarantine released by a new document",
                metadata: [
                    "map": .string(state.name), "version": .string(document.schema.version.description),
                    "released": .string(state.quarantined.map(\.version.description).joined(separator: ",")),
                ]
            )
            state.quarantined = []
        }
    }

    /// Records an invalid document: the live version is untouched; status, log, history and metric say so.
    func markInvalid(_ name: String, diagnostics: [Diagnostic], source: String, version: String?) {
        counters.countReconcile("invalid")
        var record = records[name] ?? MapRecord(state: PersistedMapState(name: name))
        let reason = diagnostics.first { $0.severity == .error }?.message ?? "invalid document"
        logger.error(
            "invalid schema document; live version untouched",
            metadata: [
                "map": .string(name), "version": .string(version ?? "?"), "source": .string(source), "reason": .string(reason),
            ])
        // The same invalid input again changes nothing (no new history entry).
        if let current = record.state.invalid, current.diagnostics == diagnostics, current.source == source {
            records[name] = record
            return
        }
        var state = record.state
        state.invalid = .init(diagnostics: diagnostics, source: source, at: clock.currentDate)
        let entry = HistoryEntry(
            time: clock.currentDate, action: .invalid, version: version, fromVersion: state.liveVersion?.description,
            source: source, contentSHA256: nil, reason: reason
        )
        do {
            try store.save(state, appending: [entry], at: clock.currentDate)
        } catch {
            logger.error("could not record an invalid document", metadata: ["map": .string(name), "error": "\(error)"])
        }
        record.state = state
        records[name] = record
    }

    func pruneMap(_ name: String) {
        guard !rebuildsInFlight.contains(name) else {
            logger.warning("not pruned while it is being rebuilt; the next reconcile prunes it", metadata: ["map": .string(name)])
            return
        }
        do {
            try store.deleteMap(name: name)
        } catch {
            logger.error("could not prune a map", metadata: ["map": .string(name), "error": "\(error)"])
            return
        }
        records[name] = nil
        registry.set(nil, for: name)
        logger.info("map pruned", metadata: ["map": .string(name)])
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    var microseconds: Double { timeInterval * 1e6 }
}
