import MapSchema
import Rollout
import Testing

@Suite("Circuit breaker")
struct CircuitBreakerTests {
    static let policy = CircuitBreakerPolicy(openAfterFaults: 3, window: .seconds(10), cooldown: .seconds(30))

    static func at(_ seconds: Double) -> RolloutInstant {
        RolloutInstant(offset: .milliseconds(Int64(seconds * 1000)))
    }

    @Test("A new breaker is closed and lets writes through")
    func startsClosed() {
        var breaker = CircuitBreaker(policy: Self.policy)
        #expect(breaker.state(at: .zero) == .closed)
        #expect(breaker.allowWrite(at: .zero) == .allowed)
    }

    @Test("It opens when open_after_faults faults fall within the window")
    func opensAtThreshold() {
        var breaker = CircuitBreaker(policy: Self.policy)
        breaker.recordFault(at: Self.at(1))
        breaker.recordFault(at: Self.at(2))
        #expect(breaker.state(at: Self.at(2)) == .closed)
        #expect(breaker.faultsInWindow(at: Self.at(2)) == 2)
        breaker.recordFault(at: Self.at(3))
        #expect(breaker.state(at: Self.at(3)) == .open)
        #expect(breaker.openings == 1)
        #expect(breaker.allowWrite(at: Self.at(3)) == .refused(retryAfter: .seconds(30)))
    }

    @Test("Faults older than the window do not count")
    func faultsOutsideTheWindowDoNotCount() {
        var breaker = CircuitBreaker(policy: Self.policy)
        breaker.recordFault(at: Self.at(0))
        breaker.recordFault(at: Self.at(5))
        breaker.recordFault(at: Self.at(10))  // the first is exactly one window old: out
        #expect(breaker.state(at: Self.at(10)) == .closed)
        #expect(breaker.faultsInWindow(at: Self.at(10)) == 2)
        breaker.recordFault(at: Self.at(14.9))
        #expect(breaker.state(at: Self.at(14.9)) == .open)
    }

    @Test("While open, writes are refused with a Retry-After that shrinks with the cooldown")
    func refusesDuringCooldown() {
        var breaker = CircuitBreaker(policy: Self.policy)
        for t in [1.0, 1.5, 2.0] { breaker.recordFault(at: Self.at(t)) }
        #expect(breaker.allowWrite(at: Self.at(2)) == .refused(retryAfter: .seconds(30)))
        #expect(breaker.allowWrite(at: Self.at(12)) == .refused(retryAfter: .seconds(20)))
        #expect(breaker.allowWrite(at: Self.at(31.5)) == .refused(retryAfter: .milliseconds(500)))
        #expect(breaker.state(at: Self.at(31.9)) == .open)
        #expect(breaker.cooldownEndsAt == Self.at(32))
    }

    @Test("Faults reported while open do not extend the cooldown")
    func faultsWhileOpenDoNotExtend() {
        var breaker = CircuitBreaker(policy: Self.policy)
        for t in [0.0, 0.1, 0.2] { breaker.recordFault(at: Self.at(t)) }
        breaker.recordFault(at: Self.at(10))
        #expect(breaker.allowWrite(at: Self.at(20)) == .refused(retryAfter: .milliseconds(10_200)))
    }

    @Test("After the cooldown it is half-open: one probe at a time, three successes close it")
    func halfOpenProbesThenCloses() {
        var breaker = CircuitBreaker(policy: Self.policy)
        for t in [0.0, 0.0, 0.0] { breaker.recordFault(at: Self.at(t)) }
        #expect(breaker.state(at: Self.at(30)) == .halfOpen)
        #expect(breaker.allowWrite(at: Self.at(30)) == .allowed)
        #expect(breaker.allowWrite(at: Self.at(30.1)) == .refused(retryAfter: .seconds(1)))
        breaker.recordWriteResult(success: true, at: Self.at(30.2))
        #expect(breaker.state(at: Self.at(30.2)) == .halfOpen)
        #expect(breaker.allowWrite(at: Self.at(30.3)) == .allowed)
        breaker.recordWriteResult(success: true, at: Self.at(30.4))
        #expect(breaker.allowWrite(at: Self.at(30.5)) == .allowed)
        breaker.recordWriteResult(success: true, at: Self.at(30.6))
        #expect(breaker.state(at: Self.at(30.6)) == .closed)
        #expect(breaker.allowWrite(at: Self.at(30.7)) == .allowed)
        #expect(breaker.allowWrite(at: Self.at(30.7)) == .allowed)
    }

    @Test("A fault in half-open opens it again for a whole cooldown")
    func halfOpenFaultReopens() {
        var breaker = CircuitBreaker(policy: Self.policy)
        for t in [0.0, 0.0, 0.0] { breaker.recordFault(at: Self.at(t)) }
        #expect(breaker.allowWrite(at: Self.at(31)) == .allowed)
        breaker.recordWriteResult(success: true, at: Self.at(31))
        #expect(breaker.allowWrite(at: Self.at(32)) == .allowed)
        breaker.recordWriteResult(success: false, at: Self.at(32))
        #expect(breaker.state(at: Self.at(32)) == .open)
        #expect(breaker.openings == 2)
        #expect(breaker.allowWrite(at: Self.at(33)) == .refused(retryAfter: .seconds(29)))
    }

    @Test("Once closed again, faults count from scratch")
    func closedAgainCountsFromScratch() {
        var breaker = CircuitBreaker(policy: Self.policy, configuration: .init(probesToClose: 1))
        for t in [0.0, 0.0, 0.0] { breaker.recordFault(at: Self.at(t)) }
        #expect(breaker.allowWrite(at: Self.at(30)) == .allowed)
        breaker.recordWriteResult(success: true, at: Self.at(30))
        #expect(breaker.state(at: Self.at(30)) == .closed)
        breaker.recordFault(at: Self.at(31))
        breaker.recordFault(at: Self.at(32))
        #expect(breaker.state(at: Self.at(32)) == .closed)
    }

    @Test("A probe whose result never comes stops blocking after the probe timeout")
    func lostProbeTimesOut() {
        var breaker = CircuitBreaker(policy: Self.policy)
        for t in [0.0, 0.0, 0.0] { breaker.recordFault(at: Self.at(t)) }
        #expect(breaker.allowWrite(at: Self.at(30)) == .allowed)
        #expect(breaker.allowWrite(at: Self.at(34.9)) == .refused(retryAfter: .seconds(1)))
        #expect(breaker.allowWrite(at: Self.at(35)) == .allowed)
    }

    @Test("A successful write while closed changes nothing; a failed one is a fault")
    func writeResultsWhileClosed() {
        var breaker = CircuitBreaker(policy: CircuitBreakerPolicy(openAfterFaults: 1, window: .seconds(1), cooldown: .seconds(5)))
        breaker.recordWriteResult(success: true, at: Self.at(0))
        #expect(breaker.state(at: Self.at(0)) == .closed)
        breaker.recordWriteResult(success: false, at: Self.at(0))
        #expect(breaker.state(at: Self.at(0)) == .open)
    }

    @Test("The shared breaker follows its clock and is safe from many tasks")
    func sharedBreaker() async {
        let clock = ManualRolloutClock()
        let shared = SharedCircuitBreaker(policy: Self.policy, clock: clock)
        #expect(shared.state == .closed)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<1000 {
                        _ = shared.allowWrite()
                        shared.recordWriteResult(success: true)
                    }
                }
            }
            group.addTask {
                for _ in 0..<3 { shared.recordFault() }
            }
        }
        #expect(shared.state == .open)
        #expect(shared.allowWrite() == .refused(retryAfter: .seconds(30)))
        clock.advance(by: .seconds(12))
        #expect(shared.allowWrite() == .refused(retryAfter: .seconds(18)))
        clock.advance(by: .seconds(18))
        #expect(shared.state == .halfOpen)
        for _ in 0..<3 {
            #expect(shared.allowWrite() == .allowed)
            shared.recordWriteResult(success: true)
        }
        #expect(shared.state == .closed)
        #expect(shared.openings == 1)
    }
}
