import Foundation
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
        do {
            try await function()
        } catch {
            await Self.permits.release()
            throw error
        }
        await Self.permits.release()
    }
}

extension Trait where Self == HeavySuite {
    /// See ``HeavySuite``.
    public static var heavy: HeavySuite { HeavySuite() }
}

/// A counting semaphore for tasks: waiters are resumed in arrival order. An actor: the `Mutex` version was
/// reported by ThreadSanitizer as a race on the state it guards, once, when eight suites took permits at once
/// (whether a false report on a contended lock or not, the actor leaves nothing to argue about).
actor AsyncPermits {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { available = count }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
