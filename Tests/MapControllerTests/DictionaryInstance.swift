@testable import Governance
@testable import MapController

/// A dictionary behind a lock: the smallest ``MapInstance``, to test the governance on its own.
///
/// `rejecting` makes it refuse values (as a stricter schema would), to test what does not fit.
final class DictionaryInstance: MapInstance {
    struct Refused: Error {}

    private let storage = Locked<[Int: Int]>([:])
    private let rejects: @Sendable (Int) -> Bool

    init(_ entries: [Int: Int] = [:], rejecting: @escaping @Sendable (Int) -> Bool = { _ in false }) {
        storage.withLock { $0 = entries }
        rejects = rejecting
    }

    func get(_ key: Int) throws(Refused) -> Int? { storage.withLock { $0[key] } }

    func put(_ key: Int, _ value: Int) throws(Refused) {
        guard !rejects(value) else { throw Refused() }
        storage.withLock { $0[key] = value }
    }

    func delete(_ key: Int) throws(Refused) -> Bool { storage.withLock { $0.removeValue(forKey: key) != nil } }

    func compareAndSet(_ key: Int, expected: Int?, new: Int?) throws(Refused) -> Bool {
        if let new, rejects(new) { throw Refused() }
        return storage.withLock { storage in
            guard storage[key] == expected else { return false }
            storage[key] = new
            return true
        }
    }

    func peek(_ key: Int) -> Int? { storage.withLock { $0[key] } }
    func snapshot() -> [(Int, Int)] { storage.withLock { $0.map { ($0.key, $0.value) } } }

    func carry(_ entries: [(Int, Int)]) -> Int {
        storage.withLock { storage in
            var dropped = 0
            for (key, value) in entries {
                if rejects(value) { dropped += 1 } else { storage[key] = value }
            }
            return dropped
        }
    }

    func discard(_ key: Int) { storage.withLock { _ = $0.removeValue(forKey: key) } }
    var count: Int { storage.withLock { $0.count } }
    var contents: [Int: Int] { storage.withLock { $0 } }
}
