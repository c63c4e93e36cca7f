import Rollout

/// Maps whose reconcile failed, each once, with exponential backoff (controller-runtime's rate-limited queue).
struct ReconcileQueue: Sendable {
    private var due: [String: RolloutInstant] = [:]
    private var attempts: [String: Int] = [:]

    /// Schedules `name` again after a failure; a name already queued keeps its earlier time.
    mutating func requeue(_ name: String, at now: RolloutInstant, base: Duration, max maximum: Duration) {
        let attempt = attempts[name, default: 0]
        attempts[name] = attempt + 1
        var delay = base
        for _ in 0..<min(attempt, 20) where delay < maximum { delay = delay * 2 }
        let time = now + min(delay, maximum)
        due[name] = due[name].map { min($0, time) } ?? time
    }

    /// A success: forget the failures.
    mutating func forget(_ name: String) {
        due[name] = nil
        attempts[name] = nil
    }

    mutating func takeDue(at now: RolloutInstant) -> [String] {
        let names = due.filter { $0.value <= now }.map(\.key).sorted()
        for name in names { due[name] = nil }
        return names
    }

    var nextDue: RolloutInstant? { due.values.min() }
    func attemptCount(_ name: String) -> Int { attempts[name, default: 0] }
}
