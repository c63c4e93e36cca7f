import Foundation

/// How one replica takes part in its fleet (`mapctl watch --fleet URL [--fleet-name NAME] [--replica ID]`).
public struct FleetSettings: Sendable {
    /// The PostgreSQL database that holds the fleet's shared state.
    public var location: FleetLocation
    /// Replicas with the same database and fleet name are one fleet.
    public var fleetName: String
    /// This replica's id in status and history (default: the hostname and the API port).
    public var replica: String
    /// How often the coordinator looks at the shared state when no notification arrives (polling behind
    /// LISTEN/NOTIFY), publishes its samples and, as leader, judges. Intervals shorter than ten ticks get
    /// a proportionally shorter tick.
    public var tick: Duration
    /// How long after an interval's end the leader waits for the replicas' samples of it.
    public var sampleGrace: Duration
    /// How often each replica writes its heartbeat (live version and entries per map).
    public var heartbeat: Duration
    /// A replica not heard from for this long is no longer listed (nor counted in `mapctl_fleet_replicas`).
    public var replicaTimeout: Duration

    public init(
        location: FleetLocation,
        fleetName: String = "default",
        replica: String,
        tick: Duration = .milliseconds(500),
        sampleGrace: Duration = .milliseconds(300),
        heartbeat: Duration = .seconds(1),
        replicaTimeout: Duration = .seconds(15)
    ) {
        self.location = location
        self.fleetName = fleetName
        self.replica = replica
        self.tick = tick
        self.sampleGrace = sampleGrace
        self.heartbeat = heartbeat
        self.replicaTimeout = replicaTimeout
    }

    /// The default replica id: this host's name and the port it serves on.
    public static func defaultReplicaID(port: Int) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let host =
            gethostname(&buffer, buffer.count) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self) : "localhost"
        return "\(host):\(port)"
    }
}
