import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A monotonic clock in nanoseconds, injected so that tests control ttl expiry.
public protocol MapClock: Sendable {
    /// Nanoseconds since an arbitrary fixed origin; never decreases.
    func now() -> UInt64
}

/// The process's monotonic clock (`CLOCK_MONOTONIC`).
public struct SystemMapClock: MapClock {
    public init() {}

    @inlinable
    public func now() -> UInt64 { monotonicNanoseconds() }
}

/// A clock that moves only when told to; for tests.
public final class ManualMapClock: MapClock {
    private let nanoseconds: Atomic<UInt64>

    /// - Parameter start: the initial reading; non-zero so that "0" never looks like a real time.
    public init(start: UInt64 = 1_000_000_000) {
        nanoseconds = Atomic(start)
    }

    public func now() -> UInt64 { nanoseconds.load(ordering: .acquiring) }

    /// Moves the clock forward.
    public func advance(by duration: Duration) {
        nanoseconds.wrappingAdd(duration.nanosecondsClamped, ordering: .acquiringAndReleasing)
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the one reading of the monotonic clock for this package's modules
/// (maps, the controller's memory limit and reconcile progress).
@inlinable
package func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

extension Duration {
    /// Whole nanoseconds, clamped to `0...UInt64.max`.
    @usableFromInline
    var nanosecondsClamped: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (sum, overflow2) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflow2 ? .max : sum
    }
}
