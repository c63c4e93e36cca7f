public import Foundation
public import Logging
import PostgresNIO
import Synchronization

/// A fleet's shared state in PostgreSQL (SPEC §8): desired documents, each map's decided state with its
/// quarantines and history, the replicas' interval samples and the leader's checks, heartbeats, leadership and
/// change notifications.
///
/// Every row is scoped by ``fleet``: fleets with different names share a database without seeing each other.
/// Queries go through a pool (``run()`` must be running); leadership and LISTEN hold a dedicated connection
/// each. Every failure is thrown as ``FleetError``: ``FleetError/Code/unavailable`` when the database cannot
/// be reached (or does not answer within the store's timeout), ``FleetError/Code/database`` when it refused.
/// A timed-out write may still have been committed: read the state again.
public final class FleetStore: Sendable {
    /// The fleet's name; every row is scoped by it.
    public let fleet: String
    public let location: FleetLocation
    /// How long one operation may take before it fails as unavailable.
    public let timeout: Duration
    let logger: Logger
    let client: PostgresClient
    let leadership: LeadershipSession
    private let started = Atomic<Bool>(false)

    /// A store for `fleet` at `location`; nothing connects until ``run()`` runs and a call needs a connection.
    ///
    /// - Parameter timeout: The longest one call may wait for the database (connection included).
    public init(location: FleetLocation, fleet: String, logger: Logger, timeout: Duration = .seconds(10)) {
        self.fleet = fleet
        self.location = location
        self.logger = logger
        self.timeout = timeout
        self.client = PostgresClient(configuration: Self.clientConfiguration(location), backgroundLogger: logger)
        self.leadership = LeadershipSession(location: location, fleet: fleet, logger: logger, timeout: timeout)
    }

    /// Runs the connection pool until the calling task is cancelled. Start it in a task before any other call.
    /// A second call returns at once (the pool runs once).
    public func run() async {
        guard !started.exchange(true, ordering: .relaxed) else {
            logger.warning("fleet '\(fleet)': FleetStore.run() called again; the pool already runs")
            return
        }
        await client.run()
        await leadership.close()
    }

    /// The database's clock (`now()`): intervals are aligned with it, not with the replicas' clocks.
    public func now() async throws(FleetError) -> Date {
        try await perform("read the database's clock") { [client, logger] in
            let rows = try await client.query("SELECT now()", logger: logger)
            for try await (date) in rows.decode(Date.self) { return date }
            throw FleetError(.database, "SELECT now() returned no row")
        }
    }
}

// MARK: - Connections

extension FleetStore {
    /// `application_name` of the pool's connections; the dedicated ones add what they are for and the fleet.
    static let applicationName = "mapctl"

    /// `text` cut to the 63 bytes PostgreSQL keeps of an `application_name`, at a character boundary.
    static func truncatedName(_ text: String) -> String {
        var name = ""
        for character in text {
            guard name.utf8.count + character.utf8.count <= 63 else { break }
            name.append(character)
        }
        return name
    }

    static func clientConfiguration(_ location: FleetLocation) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch location.endpoint {
        case .unixSocket(let path):
            configuration = PostgresClient.Configuration(
                unixSocketPath: path,
                username: location.user,
                password: location.password,
                database: location.database
            )
        case .tcp(let host, let port):
            configuration = PostgresClient.Configuration(
                host: host,
                port: port,
                username: location.user,
                password: location.password,
                database: location.database,
                tls: clientTLS(location.tls)
            )
        }
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 8
        configuration.options.connectionIdleTimeout = .seconds(60)
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(10))
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    private static func clientTLS(_ mode: FleetLocation.TLSMode) -> PostgresClient.Configuration.TLS {
        guard let tls = tlsConfiguration(mode) else { return .disable }
        return mode == .prefer ? .prefer(tls) : .require(tls)
    }

    /// NIOSSL's configuration for a TLS mode; nil for `disable`. `prefer` and `require` verify no certificate
    /// (as libpq), `verify-ca` the chain, `verify-full` the chain and the host name.
    private static func tlsConfiguration(_ mode: FleetLocation.TLSMode) -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable: return nil
        case .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: break
        }
        return tls
    }

    /// A dedicated connection (leadership, LISTEN), outside the pool, named `applicationName` in `pg_stat_activity`.
    static func connect(
        _ location: FleetLocation,
        applicationName: String,
        logger: Logger,
        id: Int
    ) async throws(FleetError) -> PostgresConnection {
        var configuration: PostgresConnection.Configuration
        switch location.endpoint {
        case .unixSocket(let path):
            configuration = PostgresConnection.Configuration(
                unixSocketPath: path,
                username: location.user,
                password: location.password,
                database: location.database
            )
        case .tcp(let host, let port):
            var tls = PostgresConnection.Configuration.TLS.disable
            if let base = tlsConfiguration(location.tls) {
                do {
                    let context = try NIOSSLContext(configuration: base)
                    tls = location.tls == .prefer ? .prefer(context) : .require(context)
                } catch {
                    throw FleetError(.unavailable, "cannot set up TLS for \(location): \(error)")
                }
            }
            configuration = PostgresConnection.Configuration(
                host: host,
                port: port,
                username: location.user,
                password: location.password,
                database: location.database,
                tls: tls
            )
        }
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = [("application_name", truncatedName(applicationName))]
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
        } catch {
            throw translate(error, location: location, doing: "connect")
        }
    }
}
