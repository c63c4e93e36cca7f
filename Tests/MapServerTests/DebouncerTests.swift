import Testing

@testable import MapServer

@Suite struct DebouncerTests {
    let start = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start.advanced(by: .milliseconds(milliseconds)) }

    @Test func nothingIsDueWithoutEvents() {
        var debouncer = Debouncer<ContinuousClock.Instant>()
        #expect(debouncer.deadline == nil)
        #expect(debouncer.takeIfDue(at: at(1000)) == nil)
    }

    @Test func aSingleEventFiresAfterTheQuietPeriod() {
        var debouncer = Debouncer<ContinuousClock.Instant>(quietPeriod: .milliseconds(50), maxDelay: .milliseconds(100))
        debouncer.record(at: at(0))
        #expect(debouncer.deadline == at(50))
        #expect(debouncer.takeIfDue(at: at(49)) == nil)
        #expect(debouncer.takeIfDue(at: at(50)) == 1)
        #expect(debouncer.deadline == nil)
    }

    @Test func aBurstIsCoalescedAndFiresNoLaterThanMaxDelayAfterItsFirstEvent() {
        var debouncer = Debouncer<ContinuousClock.Instant>(quietPeriod: .milliseconds(50), maxDelay: .milliseconds(100))
        for millisecond in stride(from: 0, through: 90, by: 10) {
            debouncer.record(at: at(millisecond))
        }
        // Quiet period after the last event would be 140 ms; the cap is 100 ms.
        #expect(debouncer.deadline == at(100))
        #expect(debouncer.takeIfDue(at: at(100)) == 10)
    }

    @Test func aBurstThatStopsEarlyFiresAQuietPeriodAfterItsLastEvent() {
        var debouncer = Debouncer<ContinuousClock.Instant>(quietPeriod: .milliseconds(50), maxDelay: .milliseconds(100))
        debouncer.record(at: at(0))
        debouncer.record(at: at(20))
        #expect(debouncer.deadline == at(70))
    }

    @Test func eventsAfterAFireStartANewBurst() {
        var debouncer = Debouncer<ContinuousClock.Instant>(quietPeriod: .milliseconds(50), maxDelay: .milliseconds(100))
        debouncer.record(at: at(0))
        #expect(debouncer.takeIfDue(at: at(60)) == 1)
        debouncer.record(at: at(200))
        #expect(debouncer.deadline == at(250))
        #expect(debouncer.takeIfDue(at: at(250)) == 1)
    }
}
