import Logging
import MapSchema
import Rollout

/// The outcomes of one check's `rollout.queries`, and the version they were asked about.
struct RolloutQueryRun: Sendable {
    var version: SemanticVersion
    var outcomes: [RolloutQueryOutcome]
}

extension Controller {
    // MARK: - Checks from outside the map (SPEC §8.1)

    /// Runs the live version's `rollout.queries` when `name`'s check is due at `now`; nil when there is
    /// nothing to ask (no queries, no check due, a rebuild in flight, the fleet's leader judging).
    ///
    /// ``checkRollout(of:at:)`` awaits it before it reads any state: the queries take a network round trip,
    /// during which the actor serves other calls, and the check itself then runs without a suspension.
    func runRolloutQueries(of name: String, at now: RolloutInstant) async -> RolloutQueryRun? {
        guard !rebuildsInFlight.contains(name), configuration.fleet?.judgement != .fleet, let record = records[name],
            let progress = record.rollout, now >= progress.nextCheck, let live = record.live,
            live.schema.version == progress.version, !live.schema.rollout.queries.isEmpty
        else { return nil }
        let queries = live.schema.rollout.queries
        guard let evaluator = configuration.queryEvaluator else {
            // Refused at apply time; reached only by a document restored from before the flag was dropped.
            return RolloutQueryRun(
                version: progress.version,
                outcomes: queries.map { .inconclusive($0.name, error: "no Prometheus server configured (start with --prometheus URL)") })
        }
        let answered = await evaluator.evaluate(queries, map: name, version: progress.version.description)
        // One outcome per query, in order, whatever the evaluator returned.
        let outcomes = queries.map { query in
            answered.first { $0.name == query.name } ?? .inconclusive(query.name, error: "the query evaluator gave no outcome")
        }
        return RolloutQueryRun(version: progress.version, outcomes: outcomes)
    }

    /// The outcomes to judge `record`'s current interval with (recorded on it for status and logged);
    /// empty when no queries ran. Outcomes for a version that is no longer the one judged count as none.
    func judgedQueryOutcomes(_ run: RolloutQueryRun?, record: inout MapRecord) -> [RolloutQueryOutcome] {
        guard let run, let progress = record.rollout else { return [] }
        let outcomes =
            run.version == progress.version
            ? run.outcomes
            : run.outcomes.map { .inconclusive($0.name, error: "the version changed while the query ran") }
        record.queryOutcomes = outcomes
        for outcome in outcomes {
            var metadata: Logger.Metadata = [
                "map": .string(record.name), "version": .string(progress.version.description), "query": .string(outcome.name),
                "result": .string(outcome.result.description),
            ]
            if let value = outcome.value { metadata["value"] = .stringConvertible(value) }
            if let error = outcome.error {
                metadata["error"] = .string(error)
                logger.warning("rollout query inconclusive", metadata: metadata)
            } else {
                logger.debug("rollout query", metadata: metadata)
            }
        }
        return outcomes
    }
}
