public import Foundation
public import MapSchema

/// Where the controller keeps each map's state: applied documents, live, standby and desired versions,
/// quarantines and history.
///
/// ``StateStore`` (SQLite, the default) and `PostgresStateStore` (module Fleet, PostgreSQL tables scoped by
/// a fleet name) implement it with the same transactions: ``save(_:appending:recording:at:)`` writes a map's
/// state, the history entries that explain it and the documents it applied all at once or not at all, so a
/// crash at any point loses nothing (SPEC §3.5).
public protocol MapStateStore: Sendable {
    /// Records an applied document; recording the same (name, version, content) again does nothing.
    ///
    /// - Throws: ``StateStoreError/Code/documentConflict`` when the version is known with other content.
    func record(_ document: AppliedDocument) async throws(StateStoreError)

    /// The document applied for `name` at `version`, if any.
    func document(name: String, version: SemanticVersion) async throws(StateStoreError) -> AppliedDocument?

    /// Every document applied for `name`, oldest first.
    func documents(name: String) async throws(StateStoreError) -> [AppliedDocument]

    /// Every map's state, by name.
    func mapStates() async throws(StateStoreError) -> [PersistedMapState]

    /// One map's state, nil if the store has none.
    func mapState(name: String) async throws(StateStoreError) -> PersistedMapState?

    /// Writes a map's whole state (quarantines included; `updatedAt` set from `date`), appends `history` and
    /// records `documents`, in one transaction: on a throw nothing is written.
    func save(
        _ state: PersistedMapState,
        appending history: [HistoryEntry],
        recording documents: [AppliedDocument],
        at date: Date
    ) async throws(StateStoreError)

    /// Forgets a map entirely: its state, quarantines, history and documents, in one transaction.
    ///
    /// - Returns: True when the store knew the map.
    @discardableResult
    func deleteMap(name: String) async throws(StateStoreError) -> Bool

    /// The map's history, oldest first; only the last `limit` entries when set.
    func history(name: String, limit: Int?) async throws(StateStoreError) -> [HistoryEntry]
}
