import LiveMaps
import MapSchema
import Rollout

/// Everything the controller knows of one map, isolated to the controller's actor.
///
/// `state` is what the store holds; the rest is what memory adds to it: the
/// decoded documents, the rollout in progress, a document waiting to be
/// reconciled again after a failure.
struct MapRecord: Sendable {
    var state: PersistedMapState
    /// The live version's document; nil while nothing is live.
    var live: SchemaDocument?
    /// The predecessor kept during the window (the last promoted version).
    var standby: SchemaDocument?
    /// The version being judged, while in its window.
    var rollout: RolloutProgress?
    /// The checks of the version judged last (kept after its promotion or rollback, for status).
    var tally = CheckTally()
    /// The last outcomes of the live version's `rollout.queries`, for status.
    var queryOutcomes: [RolloutQueryOutcome] = []
    /// A valid document whose reconcile failed (the store refused to write): retried with backoff.
    var pending: PendingDocument?

    init(state: PersistedMapState) {
        self.state = state
    }

    var name: String { state.name }
}

struct PendingDocument: Sendable {
    var document: SchemaDocument
    var source: String
}

/// One version's judgement in progress: the pure analysis and the counters it compares.
struct RolloutProgress: Sendable {
    var version: SemanticVersion
    var analysis: RolloutAnalysis
    /// The live instance's counters at the previous check.
    var baseline: CounterSnapshot
    var nextCheck: RolloutInstant
}
