import Foundation
import Rollout
import Testing

@Suite("Manual rollout clock")
struct ManualRolloutClockTests {
    @Test("Advancing moves the instant and the date together")
    func advanceMovesBoth() {
        let clock = ManualRolloutClock(start: .zero, date: Date(timeIntervalSince1970: 1000))
        clock.advance(by: .milliseconds(1500))
        #expect(clock.now == RolloutInstant(offset: .milliseconds(1500)))
        #expect(clock.currentDate == Date(timeIntervalSince1970: 1001.5))
        clock.advance(to: RolloutInstant(offset: .seconds(1)))
        #expect(clock.now == RolloutInstant(offset: .milliseconds(1500)))
    }

    @Test("A sleeper wakes when time reaches its deadline, not before")
    func sleeperWakesAtDeadline() async throws {
        let clock = ManualRolloutClock()
        let woke = Task { try await clock.sleep(until: RolloutInstant(offset: .seconds(5))) }
        while clock.sleeperCount == 0 { await Task.yield() }
        clock.advance(by: .seconds(4))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        try await woke.value
        #expect(clock.sleeperCount == 0)
    }

    @Test("A deadline already past returns at once")
    func pastDeadline() async throws {
        let clock = ManualRolloutClock(start: RolloutInstant(offset: .seconds(10)))
        try await clock.sleep(until: RolloutInstant(offset: .seconds(3)))
    }

    @Test("Cancelling a sleeper throws CancellationError")
    func cancellation() async {
        let clock = ManualRolloutClock()
        let sleeper = Task { try await clock.sleep(for: .seconds(60)) }
        while clock.sleeperCount == 0 { await Task.yield() }
        sleeper.cancel()
        let result = await sleeper.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(clock.sleeperCount == 0)
    }
}
