import Synchronization

/// The keys written while a rebuild copies a snapshot: what the replay must look at again.
///
/// Only keys are kept; the replay reads each key's current value from the
/// instance being replaced, so a key written twice is replayed once, and a
/// delete replays as a delete (nothing is resurrected).
final class ChangeLog<Key: Hashable & Sendable>: Sendable {
    private let keys = Mutex<Set<Key>>([])

    func record(_ key: Key) {
        keys.withLock { _ = $0.insert(key) }
    }

    /// Takes every key recorded so far and starts a new, empty log.
    func drain() -> Set<Key> {
        keys.withLock { keys in
            let drained = keys
            keys = []
            return drained
        }
    }

    var count: Int { keys.withLock { $0.count } }
}
