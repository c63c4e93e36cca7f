/// What a ``GovernedMap`` needs of one live instance.
///
/// `DynamicMap` conforms (see `DynamicMap+MapInstance.swift`); tests and the
/// benchmark can plug a plain dictionary behind a lock to measure the
/// governance on its own.
@usableFromInline
package protocol MapInstance: AnyObject, Sendable {
    associatedtype Key: Hashable & Sendable
    associatedtype Value: Sendable
    associatedtype Failure: Error

    /// A counted read.
    func get(_ key: Key) throws(Failure) -> Value?
    /// A counted write.
    func put(_ key: Key, _ value: Value) throws(Failure)
    /// A counted delete; true when the key was there.
    func delete(_ key: Key) throws(Failure) -> Bool
    /// A counted compare-and-set: stores `new` (nil deletes) when the current value is `expected` (nil: absent).
    func compareAndSet(_ key: Key, expected: Value?, new: Value?) throws(Failure) -> Bool

    /// The current value without counting an operation (the rebuild's replay reads through it).
    func peek(_ key: Key) -> Value?
    /// Every entry at one consistent point in time.
    func snapshot() -> [(Key, Value)]
    /// Every entry, each as it was at some moment during the call (a rebuild records the writes made
    /// meanwhile and replays them, so it needs no single point in time); `snapshot()` by default.
    func entriesForCopy() -> [(Key, Value)]
    /// Carries entries in without counting them as operations; returns how many were dropped because they do not fit.
    func carry(_ entries: [(Key, Value)]) -> Int
    /// Removes a key without counting an operation.
    func discard(_ key: Key)
    var count: Int { get }

    /// Whether every entry `source` can hold fits this instance as it is (a compatible change), so that
    /// a rebuild may carry and replay entries without re-checking them. False by default.
    func acceptsUnchanged(entriesOf source: Self) -> Bool
    /// Copies `source`'s entries in as ``entriesForCopy()`` reads them; `unchecked` only after
    /// ``acceptsUnchanged(entriesOf:)`` said yes. By default `entriesForCopy()` then ``carry(_:)``.
    /// - Returns: entries read, and entries that did not fit.
    func carryAll(from source: Self, unchecked: Bool) -> (copied: Int, dropped: Int)
    /// Carries one entry read from the rebuild's source; returns whether it was stored.
    /// By default ``carry(_:)`` of that entry.
    func carryOne(_ key: Key, _ value: Value, unchecked: Bool) -> Bool
}

extension MapInstance {
    @usableFromInline package func entriesForCopy() -> [(Key, Value)] { snapshot() }

    @usableFromInline package func acceptsUnchanged(entriesOf source: Self) -> Bool { false }

    @usableFromInline package func carryAll(from source: Self, unchecked: Bool) -> (copied: Int, dropped: Int) {
        let entries = source.entriesForCopy()
        return (entries.count, carry(entries))
    }

    @usableFromInline package func carryOne(_ key: Key, _ value: Value, unchecked: Bool) -> Bool {
        carry([(key, value)]) == 0
    }
}
