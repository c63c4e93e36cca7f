public import Prometheus

/// `mapctl_resp_commands_total{command,result}`: the RESP commands served, by name (`other` for one
/// the listener does not know) and result (`ok`, or `error` for an error reply).
///
/// Entry commands are also counted where every entry operation is, in `mapctl_map_ops_total`, since
/// they go through the same entry API as HTTP. Handles are made once, so that counting a command is
/// one atomic add.
public final class RESPCommandMetrics: Sendable {
    private let ok: [Prometheus.Counter]
    private let error: [Prometheus.Counter]
    private let otherOK: Prometheus.Counter
    private let otherError: Prometheus.Counter

    public init(registry: PrometheusCollectorRegistry) {
        let descriptor = MetricNameDescriptor(
            namespace: "mapctl",
            metricName: "resp_commands",
            unitName: "total",
            helpText: "RESP (Redis protocol) commands served, by command and result."
        )
        func counter(_ command: String, _ result: String) -> Prometheus.Counter {
            registry.makeCounter(descriptor: descriptor, labels: [("command", command), ("result", result)])
        }
        ok = RESPCommand.allCases.map { counter($0.rawValue, "ok") }
        error = RESPCommand.allCases.map { counter($0.rawValue, "error") }
        otherOK = counter("other", "ok")
        otherError = counter("other", "error")
    }

    func count(_ command: RESPCommand?, failed: Bool) {
        guard let command, let index = RESPCommand.allCases.firstIndex(of: command) else {
            (failed ? otherError : otherOK).increment()
            return
        }
        (failed ? error : ok)[index].increment()
    }
}
