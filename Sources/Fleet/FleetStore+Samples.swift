import Foundation
import PostgresNIO

extension FleetStore {
    // MARK: Samples

    /// Publishes (or replaces) one replica's sample of an interval: one row per
    /// (name, version, windowStart, interval, replica).
    public func publish(_ sample: FleetSample) async throws(FleetError) {
        try await perform("publish a sample of map '\(sample.name)'") { [client, logger, fleet] in
            let buckets = sample.latencyBuckets.map(\.clampedToInt64)
            _ = try await client.query(
                """
                INSERT INTO mapctl_fleet_samples (fleet, name, version, window_start, interval_index, replica, ops, errors,
                    faults, latency_buckets, published_at)
                VALUES (\(fleet), \(sample.name), \(sample.version), \(sample.windowStart), \(Int64(sample.interval)),
                    \(sample.replica), \(sample.ops.clampedToInt64), \(sample.errors.clampedToInt64),
                    \(sample.faults.clampedToInt64), \(buckets)::bigint[], \(sample.publishedAt))
                ON CONFLICT (fleet, name, version, window_start, interval_index, replica) DO UPDATE SET
                    ops = excluded.ops, errors = excluded.errors, faults = excluded.faults,
                    latency_buckets = excluded.latency_buckets, published_at = excluded.published_at
                """,
                logger: logger
            )
        }
    }

    /// Every replica's samples of a window of `version` from interval `fromInterval` on, by interval then replica.
    public func samples(
        name: String, version: String, windowStart: Date, fromInterval: Int = 0
    ) async throws(FleetError) -> [FleetSample] {
        try await perform("read the samples of map '\(name)'") { [client, logger, fleet] in
            let rows = try await client.query(
                """
                SELECT interval_index, replica, ops, errors, faults, latency_buckets, published_at
                FROM mapctl_fleet_samples
                WHERE fleet = \(fleet) AND name = \(name) AND version = \(version) AND window_start = \(windowStart)
                    AND interval_index >= \(fromInterval)
                ORDER BY interval_index, replica COLLATE "C"
                """,
                logger: logger
            )
            var samples: [FleetSample] = []
            for try await row in rows {
                let row = row.makeRandomAccess()
                let buckets: [Int64] = try row.value("latency_buckets")
                samples.append(
                    FleetSample(
                        name: name,
                        version: version,
                        windowStart: windowStart,
                        interval: Int(try row.value("interval_index", as: Int64.self)),
                        replica: try row.value("replica"),
                        ops: UInt64(storedBigint: try row.value("ops")),
                        errors: UInt64(storedBigint: try row.value("errors")),
                        faults: UInt64(storedBigint: try row.value("faults")),
                        latencyBuckets: buckets.map(UInt64.init(storedBigint:)),
                        publishedAt: try row.value("published_at")
                    )
                )
            }
            return samples
        }
    }

    /// Deletes samples and checks of windows that started before `date`; returns how many rows went.
    @discardableResult
    public func pruneSamples(before date: Date) async throws(FleetError) -> Int {
        try await perform("prune old samples") { [client, logger, fleet] in
            var removed = 0
            for table in ["mapctl_fleet_samples", "mapctl_fleet_checks"] {
                let rows = try await client.query(
                    "DELETE FROM \(unescaped: table) WHERE fleet = \(fleet) AND window_start < \(date) RETURNING 1",
                    logger: logger
                )
                removed += try await rows.collect().count
            }
            return removed
        }
    }

    // MARK: Checks

    /// Records the leader's verdict on one interval once.
    ///
    /// - Returns: True when this call recorded it; false when the interval already had a verdict (kept as it was).
    public func recordCheck(name: String, version: String, windowStart: Date, interval: Int, result: String) async throws(FleetError)
        -> Bool
    {
        try await perform("record a check of map '\(name)'") { [client, logger, fleet] in
            let rows = try await client.query(
                """
                INSERT INTO mapctl_fleet_checks (fleet, name, version, window_start, interval_index, result)
                VALUES (\(fleet), \(name), \(version), \(windowStart), \(Int64(interval)), \(result))
                ON CONFLICT DO NOTHING
                RETURNING 1
                """,
                logger: logger
            )
            return try await !rows.collect().isEmpty
        }
    }

    /// The verdicts recorded for a window of `version`, by interval.
    public func checks(name: String, version: String, windowStart: Date) async throws(FleetError) -> [Int: String] {
        try await perform("read the checks of map '\(name)'") { [client, logger, fleet] in
            let rows = try await client.query(
                """
                SELECT interval_index, result FROM mapctl_fleet_checks
                WHERE fleet = \(fleet) AND name = \(name) AND version = \(version) AND window_start = \(windowStart)
                """,
                logger: logger
            )
            var checks: [Int: String] = [:]
            for try await (interval, result) in rows.decode((Int64, String).self) {
                checks[Int(interval)] = result
            }
            return checks
        }
    }

    // MARK: Replicas

    /// Records this replica's heartbeat (what it serves); `lastSeen` is the database's `now()`.
    public func heartbeat(_ report: ReplicaReport) async throws(FleetError) {
        let maps: String
        do {
            maps = String(decoding: try JSONEncoder().encode(report.maps), as: UTF8.self)
        } catch {
            throw FleetError(.database, "cannot encode the maps of replica \(report.replica): \(error)")
        }
        try await perform("record the heartbeat of replica \(report.replica)") { [client, logger, fleet] in
            _ = try await client.query(
                """
                INSERT INTO mapctl_fleet_replicas (fleet, replica, maps, last_seen)
                VALUES (\(fleet), \(report.replica), \(maps)::jsonb, now())
                ON CONFLICT (fleet, replica) DO UPDATE SET maps = excluded.maps, last_seen = excluded.last_seen
                """,
                logger: logger
            )
        }
    }

    /// Every replica that ever sent a heartbeat to this fleet (see ``forgetReplicas(notSeenSince:)``), by id.
    public func replicas() async throws(FleetError) -> [ReplicaReport] {
        try await perform("read the fleet's replicas") { [client, logger, fleet] in
            let rows = try await client.query(
                "SELECT replica, maps::text, last_seen FROM mapctl_fleet_replicas WHERE fleet = \(fleet) ORDER BY replica COLLATE \"C\"",
                logger: logger
            )
            var reports: [ReplicaReport] = []
            for try await (replica, maps, lastSeen) in rows.decode((String, String, Date).self) {
                let decoded: [ReplicaMap]
                do {
                    decoded = try JSONDecoder().decode([ReplicaMap].self, from: Data(maps.utf8))
                } catch {
                    throw FleetError(.database, "the stored maps of replica \(replica) do not decode: \(error)")
                }
                reports.append(ReplicaReport(replica: replica, maps: decoded, lastSeen: lastSeen))
            }
            return reports
        }
    }

    /// Forgets replicas whose last heartbeat is older than `date`; returns how many.
    @discardableResult
    public func forgetReplicas(notSeenSince date: Date) async throws(FleetError) -> Int {
        try await perform("forget old replicas") { [client, logger, fleet] in
            let rows = try await client.query(
                "DELETE FROM mapctl_fleet_replicas WHERE fleet = \(fleet) AND last_seen < \(date) RETURNING 1",
                logger: logger
            )
            return try await rows.collect().count
        }
    }
}
