extension MetricsRenderer {
    /// A metric family of the controller: its name, type and help text. The names and types are part
    /// of the interface (SPEC §6; dashboards and alerts use them).
    struct Family: Sendable {
        let name: String
        let type: ExpositionText.MetricType
        let help: String

        init(name: String, type: ExpositionText.MetricType, help: String) {
            self.name = name
            self.type = type
            self.help = help
            self.sampleName = ExpositionText.Name(name)
        }

        /// The name of the family's samples (a histogram's have suffixes: see ``LatencyHistogramText``).
        let sampleName: ExpositionText.Name

        static let ops = Family(
            name: "mapctl_map_ops_total", type: .counter, help: "Map operations by op and result (ok, miss, error, fault).")
        static let entries = Family(name: "mapctl_map_entries", type: .gauge, help: "Entries in the map instance.")
        static let bytes = Family(name: "mapctl_map_bytes", type: .gauge, help: "Estimated bytes held by the map instance.")
        static let contention = Family(
            name: "mapctl_map_contention_total", type: .counter, help: "Lock acquisitions that had to wait.")
        static let faults = Family(
            name: "mapctl_map_faults_total", type: .counter, help: "Faults: failures that are not the caller's.")
        static let evictions = Family(
            name: "mapctl_map_evictions_total", type: .counter, help: "Entries evicted by the capacity policy.")
        static let expirations = Family(name: "mapctl_map_expirations_total", type: .counter, help: "Entries expired by ttl.")
        static let info = Family(
            name: "mapctl_map_info", type: .gauge, help: "Always 1: the live version and strategy of each map.")
        static let latency = Family(name: "mapctl_map_op_duration_seconds", type: .histogram, help: "Latency of map operations.")
        static let breaker = Family(
            name: "mapctl_breaker_state", type: .gauge, help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.")
        static let checks = Family(
            name: "mapctl_rollout_checks_total", type: .counter,
            help: "Rollout health checks by result (pass, fail, inconclusive).")
        static let rollbacks = Family(
            name: "mapctl_rollbacks_total", type: .counter, help: "Rollbacks by reason (failed_checks, startup_faults, manual).")
        static let reconciles = Family(
            name: "mapctl_reconcile_total", type: .counter, help: "Reconciles by result (success, error, invalid, unchanged).")
        static let schemaInvalid = Family(name: "mapctl_schema_invalid", type: .gauge, help: "Schema documents now invalid.")
    }
}
