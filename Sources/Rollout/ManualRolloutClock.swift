public import Foundation
import Synchronization

/// A clock that moves only when told to, for tests of the state machines and of the shell that drives them.
///
/// ``advance(by:)`` moves the monotonic instant and the wall-clock date together
/// and resumes every ``sleep(until:)`` whose deadline has come, in deadline
/// order. ``sleeperCount`` lets a test wait until the code under test is
/// parked before it moves time.
public final class ManualRolloutClock: RolloutClock {
    private enum Sleeper {
        /// Registered, continuation not stored yet (cancellation may arrive in between).
        case pending
        case waiting(RolloutInstant, CheckedContinuation<Void, any Error>)
        case cancelled
    }

    private struct State {
        var now: RolloutInstant
        var date: Date
        var nextID: UInt64 = 0
        var sleepers: [UInt64: Sleeper] = [:]
    }

    private let state: Mutex<State>

    /// - Parameters:
    ///   - start: The first reading of ``now``.
    ///   - date: The first reading of ``currentDate``; a fixed, whole-second date by default.
    public init(start: RolloutInstant = .zero, date: Date = Date(timeIntervalSince1970: 1_750_000_000)) {
        state = Mutex(State(now: start, date: date))
    }

    public var now: RolloutInstant { state.withLock { $0.now } }

    public var currentDate: Date { state.withLock { $0.date } }

    /// Tasks parked in ``sleep(until:)``.
    public var sleeperCount: Int {
        state.withLock { state in
            state.sleepers.values.count { if case .waiting = $0 { true } else { false } }
        }
    }

    /// Moves time forward by `duration` (never backward) and wakes the sleepers that are due.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a ManualRolloutClock never goes backward")
        let due: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            state.now = state.now + duration
            state.date = state.date.addingTimeInterval(Self.seconds(duration))
            var due: [(RolloutInstant, UInt64, CheckedContinuation<Void, any Error>)] = []
            for (id, sleeper) in state.sleepers {
                if case .waiting(let deadline, let continuation) = sleeper, deadline <= state.now {
                    due.append((deadline, id, continuation))
                }
            }
            for (_, id, _) in due { state.sleepers[id] = nil }
            return due.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
        }
        for continuation in due { continuation.resume() }
    }

    /// Moves time forward to `instant`; does nothing if it is already past.
    public func advance(to instant: RolloutInstant) {
        let delta = instant - now
        if delta > .zero { advance(by: delta) }
    }

    public func sleep(until deadline: RolloutInstant) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            state.sleepers[state.nextID] = .pending
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let result: Result<Void, any Error>? = state.withLock { state in
                    switch state.sleepers[id] {
                    case .cancelled:
                        state.sleepers[id] = nil
                        return .failure(CancellationError())
                    default:
                        if deadline <= state.now {
                            state.sleepers[id] = nil
                            return .success(())
                        }
                        state.sleepers[id] = .waiting(deadline, continuation)
                        return nil
                    }
                }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, any Error>? = state.withLock { state in
                switch state.sleepers[id] {
                case .pending:
                    state.sleepers[id] = .cancelled
                    return nil
                case .waiting(_, let continuation):
                    state.sleepers[id] = nil
                    return continuation
                case .cancelled, nil:
                    return nil
                }
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
