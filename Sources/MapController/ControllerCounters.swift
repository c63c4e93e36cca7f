/// The controller's own event counters, read by ``Controller/metricsSnapshot()``.
struct ControllerCounters: Sendable {
    static let checkResults = ["pass", "fail", "inconclusive"]
    static let reconcileResults = ["success", "error", "invalid", "unchanged"]
    static let rollbackReasons = ["failed_checks", "startup_faults", "manual"]

    struct CheckKey: Hashable, Sendable {
        var map: String
        var version: String
        var result: String
    }

    struct RollbackKey: Hashable, Sendable {
        var map: String
        var reason: String
    }

    private(set) var checks: [CheckKey: UInt64] = [:]
    private(set) var rollbacks: [RollbackKey: UInt64] = [:]
    private(set) var reconciles: [String: UInt64] = Dictionary(uniqueKeysWithValues: reconcileResults.map { ($0, 0) })

    mutating func countCheck(map: String, version: String, result: String) {
        // Every result of a judged version exists from its first check, so that rates work at once.
        for label in Self.checkResults { checks[CheckKey(map: map, version: version, result: label), default: 0] += 0 }
        checks[CheckKey(map: map, version: version, result: result), default: 0] += 1
    }

    mutating func countRollback(map: String, reason: String) {
        for label in Self.rollbackReasons { rollbacks[RollbackKey(map: map, reason: label), default: 0] += 0 }
        rollbacks[RollbackKey(map: map, reason: reason), default: 0] += 1
    }

    /// Makes the rollback series of a new map exist at zero.
    mutating func registerMap(_ map: String) {
        for label in Self.rollbackReasons { rollbacks[RollbackKey(map: map, reason: label), default: 0] += 0 }
    }

    mutating func countReconcile(_ result: String) {
        reconciles[result, default: 0] += 1
    }
}
