/// Scans that hold a lock only briefly: a chunk of slots at a time.
///
/// Why: a plan that counts what a schema change would drop used to copy every entry while holding every
/// shard lock, which stalled writers for 60 ms at 500,000 entries. A visit holds one lock (one shard's, or
/// the shared lock of a single-table strategy) for at most ``visitChunk`` slots, and copies nothing.
/// The price: it is not a point-in-time view. An entry written during the visit may be seen or not, and
/// one moved by a concurrent rehash may be seen twice or not at all, so counts from it are estimates.
extension LiveMap {
    /// Slots examined per lock acquisition.
    static var visitChunk: Int { 256 }

    /// Calls `body` with every entry and its last write time on the map's clock (0 without ttl), under
    /// the lock of its shard or table, a chunk of slots at a time. `body` must not call into this map.
    func visitEntries(_ body: (Key, Value, UInt64) -> Void) {
        switch engine {
        case .sharded(let engine): engine.visitEntries(chunk: Self.visitChunk, body)
        case .rwlock(let engine): engine.visitEntries(chunk: Self.visitChunk, body)
        case .snapshot(let engine): engine.visitEntries(chunk: Self.visitChunk, body)
        case .serialized(let engine): engine.reads.visitEntries(chunk: Self.visitChunk, body)
        }
    }
}

extension ShardedEngine {
    func visitEntries(chunk: Int, _ body: (Key, Value, UInt64) -> Void) {
        for index in 0...shardMask {
            var next: Int? = 0
            while let start = next {
                next =
                    withLockedTable(index, creating: false) { table in
                        table.visitEntries(from: start, limit: chunk, ttl: policy.ttl, body)
                    } ?? nil
            }
        }
    }
}

extension RWLockEngine {
    func visitEntries(chunk: Int, _ body: (Key, Value, UInt64) -> Void) {
        var next: Int? = 0
        while let start = next {
            next = withReadLock { table.visitEntries(from: start, limit: chunk, ttl: policy.ttl, body) }
        }
    }
}

extension SnapshotEngine {
    /// Under the writer lock a chunk at a time (readers go on; a rehash between chunks may move entries).
    func visitEntries(chunk: Int, _ body: (Key, Value, UInt64) -> Void) {
        var next: Int? = 0
        while let start = next {
            next = withWriterLock { table in table.visitEntries(from: start, limit: chunk, ttl: policy.ttl, body) }
        }
    }
}
