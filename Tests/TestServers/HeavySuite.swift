import Foundation
import Synchronization
import Testing

/// A suite that loads the machine (daemons in child processes, thousands of files, crash loops): at most
/// ``HeavySuite/width`` of them run at once in the test process.
///
/// Swift Testing starts every suite at once. On a 2-core machine, twenty suites each starting daemons
/// leave the concurrency pool's two threads so little CPU that a 500 ms timeout is seen after 20 s and the
/// timing bounds of unrelated tests fail. The light suites still run beside the heavy ones.
///
/// ```swift
/// @Suite("mapctl against a real daemon", .heavy)
/// ```
public struct HeavySuite: SuiteTrait, TestTrait, TestScoping {
    /// Heavy suites at once: `MAPCTL_TEST_HEAVY_WIDTH`, else 2.
    public static let width: Int = {
        let configured = ProcessInfo.processInfo.environment["MAPCTL_TEST_HEAVY_WIDTH"].flatMap { Int($0) }
        return max(1, configured ?? 2)
    }()

    static let permits = AsyncPermits(width)

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        await Self.permits.acquire()
        defer { Self.permits.release() }
        try await function()
    }
}

extension Trait where Self == HeavySuite {
    /// See ``HeavySuite``.
    public static var heavy: HeavySuite { HeavySuite() }
}

/// A counting semaphore for tasks: waiters are resumed in arrival order.
final class AsyncPermits: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(available: count)) }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
