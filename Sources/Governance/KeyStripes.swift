/// A fixed set of locks picked by key hash.
///
/// While a warm standby is kept, a write goes to the live instance and then
/// to the standby; two writers of one key must not interleave between the two
/// or the standby would keep the older value. Holding the key's stripe across
/// both writes orders them, and writers of other keys rarely share a stripe.
package final class KeyStripes: Sendable {
    private let stripes: [PthreadMutex]
    private let mask: Int

    /// - Parameter count: rounded up to a power of two.
    package init(count: Int = 256) {
        var size = 1
        while size < count { size <<= 1 }
        stripes = (0..<size).map { _ in PthreadMutex() }
        mask = size - 1
    }

    package func withLock<Key: Hashable, R, E: Error>(for key: Key, _ body: () throws(E) -> R) throws(E) -> R {
        let stripe = stripes[key.hashValue & mask]
        return try stripe.withLock { () throws(E) -> R in try body() }
    }
}
