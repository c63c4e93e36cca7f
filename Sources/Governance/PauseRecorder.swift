/// Writer pauses of a governed map's switches: how long its write gate stayed closed.
public struct PauseStatistics: Sendable, Hashable {
    /// Closings of the gate (rebuild capture start, rebuild switch, rollback switch).
    public var count: Int
    public var last: Duration
    public var max: Duration
    public var total: Duration

    public init(count: Int = 0, last: Duration = .zero, max: Duration = .zero, total: Duration = .zero) {
        self.count = count
        self.last = last
        self.max = max
        self.total = total
    }
}

package final class PauseRecorder: Sendable {
    private let stats = Locked(PauseStatistics())

    package func record(_ pause: Duration) {
        stats.withLock { stats in
            stats.count += 1
            stats.last = pause
            stats.total += pause
            if pause > stats.max { stats.max = pause }
        }
    }

    package var statistics: PauseStatistics { stats.withLock { $0 } }
}
