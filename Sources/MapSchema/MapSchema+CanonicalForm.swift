extension MapSchema {
    /// A text that two documents share exactly when they mean the same schema.
    ///
    /// Built from the decoded model, so comments, key order, quoting, a leading
    /// `v` and defaults written out or left implicit make no difference. One
    /// `key=value` line per field, in a fixed order; strings are escaped so that
    /// no value can forge another line.
    public var canonicalForm: String {
        var lines: [String] = []
        func add(_ key: String, _ value: String) { lines.append(key + "=" + Self.escape(value)) }
        add("name", name)
        add("version", version.description)
        if let description { add("description", description) }
        add("key_type", keyType.rawValue)
        switch valueType {
        case .scalar(let scalar): add("value_type", "scalar:" + scalar.rawValue)
        case .record(let record): add("value_type", "record:" + record)
        case .external(let external): add("value_type", "external:" + external)
        }
        for field in fields { add("fields." + field.name, field.type.rawValue + (field.isOptional ? "?" : "")) }
        add("strategy", strategy.rawValue)
        if strategy == .sharded { add("shards", String(shards)) }
        if let capacity {
            if let maxEntries = capacity.maxEntries { add("capacity.max_entries", String(maxEntries)) }
            add("capacity.on_full", capacity.onFull.rawValue)
            if let maxKeyBytes = capacity.maxKeyBytes { add("capacity.max_key_bytes", String(maxKeyBytes)) }
            if let maxValueBytes = capacity.maxValueBytes { add("capacity.max_value_bytes", String(maxValueBytes)) }
        }
        if let ttl { add("ttl", Self.nanos(ttl)) }
        if strategy == .serialized {
            add("batch.max_size", String(batch.maxSize))
            add("batch.max_delay", Self.nanos(batch.maxDelay))
        }
        add("rollback_window", Self.nanos(rollbackWindow))
        add("rollout.standby", rollout.standby.rawValue)
        add("rollout.interval", Self.nanos(rollout.interval))
        add("rollout.min_ops", String(rollout.minOps))
        add("rollout.failure_limit", String(rollout.failureLimit))
        if let rate = rollout.maxErrorRate { add("rollout.max_error_rate", String(rate)) }
        add("rollout.max_faults", String(rollout.maxFaults))
        if let p99 = rollout.maxP99Latency { add("rollout.max_p99_latency", Self.nanos(p99)) }
        for query in rollout.queries {
            add("rollout.queries." + query.name + ".prometheus", query.prometheus)
            if let max = query.max { add("rollout.queries." + query.name + ".max", String(max)) }
            if let min = query.min { add("rollout.queries." + query.name + ".min", String(min)) }
        }
        if let breaker = circuitBreaker {
            add("circuit_breaker.open_after_faults", String(breaker.openAfterFaults))
            add("circuit_breaker.window", Self.nanos(breaker.window))
            add("circuit_breaker.cooldown", Self.nanos(breaker.cooldown))
        }
        if let faults = faultInjection {
            add("fault_injection.error_rate", String(faults.errorRate))
            add("fault_injection.fault_rate", String(faults.faultRate))
            if let latency = faults.latency { add("fault_injection.latency", Self.nanos(latency)) }
            if let crash = faults.crashAfterOps { add("fault_injection.crash_after_ops", String(crash)) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Hex SHA-256 of ``canonicalForm``.
    public var contentSHA256: String { ContentHash.sha256Hex(canonicalForm.utf8) }

    private static func nanos(_ duration: Duration) -> String { String(GoDuration.nanoseconds(of: duration)) + "ns" }

    private static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.append(character)
            }
        }
        return out
    }
}
