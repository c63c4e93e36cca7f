// Added by the controller engineer (issue 4): the online rebuild's replay reads and removes keys of an
// instance without counting them as user operations and without fault injection, as `load` writes them.

extension LiveMap {
    /// The value for `key`, not counted as an operation.
    @usableFromInline
    func getUncounted(_ key: Key) -> Value? {
        let hash = hasher.hash(key)
        switch engine {
        case .sharded(let engine): return engine.get(key, hash: hash, now: now())
        case .rwlock(let engine): return engine.get(key, hash: hash, now: now())
        case .snapshot(let engine): return engine.get(key, hash: hash, now: now())
        case .serialized(let engine): return engine.get(key, hash: hash, now: now())
        }
    }

    /// Removes `key`, not counted as an operation.
    @usableFromInline
    func deleteUncounted(_ key: Key) {
        let hash = hasher.hash(key)
        switch engine {
        case .sharded(let engine): _ = engine.delete(key, hash: hash, now: now())
        case .rwlock(let engine): _ = engine.delete(key, hash: hash, now: now())
        case .snapshot(let engine): _ = engine.delete(key, hash: hash, now: now())
        case .serialized(let engine): _ = engine.delete(key, hash: hash, now: now())
        }
    }
}

extension DynamicMap {
    /// The value for `key` without counting an operation or injecting faults (a rebuild's replay).
    public func peek(_ key: MapKey) -> JSONValue? {
        map.getUncounted(key)
    }

    /// Removes `key` without counting an operation or injecting faults (a rebuild's replay).
    public func discard(_ key: MapKey) {
        map.deleteUncounted(key)
    }
}
