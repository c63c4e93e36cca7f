/// Coalesces a burst of file events into one reconcile: the pure state machine
/// behind ``DirectoryWatcher``, driven by instants it is given.
///
/// A burst fires once it has been quiet for `quietPeriod`, or `maxDelay` after its
/// first event, whichever comes first. With the watcher's defaults (25 ms, 100 ms) a reconcile
/// starts within 100 ms of any change, and a long stream of writes gives one
/// reconcile per 100 ms rather than one per write.
struct Debouncer<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    let quietPeriod: Duration
    let maxDelay: Duration
    private(set) var firstEvent: Instant?
    private(set) var lastEvent: Instant?
    /// Events recorded in the pending burst.
    private(set) var pendingCount = 0

    init(quietPeriod: Duration = .milliseconds(25), maxDelay: Duration = .milliseconds(100)) {
        precondition(quietPeriod <= maxDelay, "the quiet period cannot be longer than the longest delay")
        self.quietPeriod = quietPeriod
        self.maxDelay = maxDelay
    }

    /// Notes an event at `now`.
    mutating func record(at now: Instant) {
        if firstEvent == nil { firstEvent = now }
        if let last = lastEvent, last > now {
            // An instant from a racing thread may arrive out of order: keep the latest.
        } else {
            lastEvent = now
        }
        pendingCount += 1
    }

    /// When the pending burst is due, nil when nothing is pending.
    var deadline: Instant? {
        guard let firstEvent, let lastEvent else { return nil }
        return min(lastEvent.advanced(by: quietPeriod), firstEvent.advanced(by: maxDelay))
    }

    /// Takes the pending burst if it is due at `now`.
    ///
    /// - Returns: the number of events coalesced, or nil if nothing is due.
    mutating func takeIfDue(at now: Instant) -> Int? {
        guard let deadline, now >= deadline else { return nil }
        let count = pendingCount
        firstEvent = nil
        lastEvent = nil
        pendingCount = 0
        return count
    }
}
