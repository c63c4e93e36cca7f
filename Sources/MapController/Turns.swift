import Synchronization

/// Lets async callers take turns: one at a time, in the order they came.
///
/// Directory reconciles take turns through it: one loads the directory, then plans its documents in batches
/// with the actor yielded in between, and another (the watcher's next, a SIGHUP resync) must not plan from an
/// older load meanwhile, or it would apply an older file's document over a newer one.
final class Turns: Sendable {
    private struct State {
        var isTaken = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Waits until the turn is this caller's; pair with ``end()``.
    func begin() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isNow = state.withLock { state -> Bool in
                guard state.isTaken else {
                    state.isTaken = true
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if isNow { continuation.resume() }
        }
    }

    /// Ends this caller's turn: the longest waiting caller's begins.
    func end() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.isTaken = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
