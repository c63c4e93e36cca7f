/// One concurrency strategy's implementation of a map; ``LiveMap`` dispatches to one of them.
///
/// Callers compute the key's hash (outside any lock) and the time (only when the map has a ttl).
/// Every method is safe to call from any number of threads.
@usableFromInline
protocol MapEngine<Key, Value>: AnyObject, Sendable {
    associatedtype Key: Hashable & Sendable
    associatedtype Value: Sendable

    func get(_ key: Key, hash: UInt64, now: UInt64) -> Value?
    func contains(_ key: Key, hash: UInt64, now: UInt64) -> Bool
    /// `false` when the map is full and rejects new keys.
    func put(_ key: Key, hash: UInt64, value: Value, size: Int, now: UInt64) -> Bool
    func delete(_ key: Key, hash: UInt64, now: UInt64) -> Value?
    func compareAndSet(
        _ key: Key, hash: UInt64, now: UInt64, matches: @escaping @Sendable (Value?) -> Bool, new: Value?, size: Int
    ) -> WriteOutcome<Value>
    /// A consistent point-in-time copy of the live entries.
    func entries(now: UInt64) -> [(Key, Value)]
    /// Entries with their last write time (0 without ttl), consistent at one point in time.
    func entriesWithWriteTimes() -> [(Key, Value, UInt64)]
    var count: Int { get }
    var estimatedBytes: Int { get }
    /// Removes every expired entry now; returns how many.
    func removeExpired(now: UInt64) -> Int
}
