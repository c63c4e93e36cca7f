/// The keys written while a rebuild copies a snapshot: what the replay must look at again.
///
/// Only keys are kept; the replay reads each key's current value from the
/// instance being replaced, so a key written twice is replayed once, and a
/// delete replays as a delete (nothing is resurrected). The keys are spread
/// over stripes by hash, each with its own lock, so that writers rarely wait
/// for one another and no single set grows (and rehashes) to the size of the map
/// while a writer holds its lock.
@usableFromInline
package final class ChangeLog<Key: Hashable & Sendable>: Sendable {
    private final class Stripe: Sendable {
        let keys = Locked<Set<Key>>([])
    }

    private let stripes: [Stripe]
    private let mask: Int

    package init(stripeCount: Int = 64) {
        var size = 1
        while size < stripeCount { size <<= 1 }
        stripes = (0..<size).map { _ in Stripe() }
        mask = size - 1
    }

    package func record(_ key: Key) {
        stripes[key.hashValue & mask].keys.withLock { _ = $0.insert(key) }
    }

    /// Takes every key recorded so far and starts a new, empty log.
    package func drain() -> [Key] {
        var drained: [Key] = []
        for stripe in stripes {
            let keys = stripe.keys.withLock { keys in
                defer { keys = [] }
                return keys
            }
            drained.append(contentsOf: keys)
        }
        return drained
    }

    package var count: Int { stripes.reduce(0) { $0 + $1.keys.withLock { $0.count } } }
}
