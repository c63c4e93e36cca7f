import MapSchema
import Testing

@Suite("Go durations")
struct GoDurationTests {
    @Test(
        "A valid duration parses to its exact value",
        arguments: [
            ("500us", Duration.microseconds(500)), ("500µs", .microseconds(500)), ("2ms", .milliseconds(2)), ("1s", .seconds(1)),
            ("15m", .seconds(900)), ("1h", .seconds(3600)), ("1h30m", .seconds(5400)), ("1.5h", .seconds(5400)),
            ("250ns", .nanoseconds(250)), ("0", .zero), ("0s", .zero), ("1m30s", .seconds(90)), ("2h45m30.5s", .milliseconds(9_930_500)),
            ("+5s", .seconds(5)), (".5s", .milliseconds(500)), ("1.s", .seconds(1)),
        ]
    )
    func parses(_ text: String, _ expected: Duration) throws {
        #expect(try GoDuration.parse(text) == expected)
    }

    @Test(
        "An invalid duration is refused",
        arguments: ["", "10", "10d", "-5m", "1 s", "s", "1.2.3s", "m5", "1hh", "abc", ".s", "1e3s", "9999999999h"])
    func refuses(_ text: String) {
        #expect(throws: GoDuration.ParseError.self) { try GoDuration.parse(text) }
    }

    @Test(
        "A duration formats as Go writes it, without zero parts",
        arguments: [
            (Duration.seconds(5400), "1h30m"), (.milliseconds(2), "2ms"), (.microseconds(500), "500us"), (.seconds(1), "1s"),
            (.zero, "0s"), (.milliseconds(1500), "1.5s"), (.nanoseconds(42), "42ns"), (.seconds(3600), "1h"), (.seconds(90), "1m30s"),
            (.microseconds(1500), "1.5ms"), (.seconds(3601), "1h1s"),
        ]
    )
    func formats(_ duration: Duration, _ expected: String) {
        #expect(GoDuration.format(duration) == expected)
    }

    @Test("Formatting then parsing gives the same duration")
    func roundTrip() throws {
        for nanoseconds: Int64 in [1, 999, 1_000, 1_500_000, 59_000_000_000, 3_723_000_000_000, 86_400_000_000_001] {
            let duration = Duration.nanoseconds(nanoseconds)
            #expect(try GoDuration.parse(GoDuration.format(duration)) == duration)
        }
    }
}
