import Foundation

/// Runs blocking work (a child process, a socket read, a join) on a thread of its own and awaits it, so that
/// it does not hold one of the concurrency pool's few threads (two on a 2-core machine) while other tests
/// wait for them.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
