import Foundation
import Logging
import PostgresNIO

extension FleetStore {
    /// The fleet's change notifications, from `LISTEN mapctl_fleet` on a dedicated connection.
    ///
    /// Yields ``FleetNotification/reconnected`` each time the LISTEN is in place (first connect included; what
    /// happened before it may have been missed, so read everything again), then
    /// ``FleetNotification/changed(name:revision:)`` for each of this fleet's notifications. The connection is
    /// checked every few seconds; when it drops or cannot be made, it is made again with a backoff (0.1 s doubling
    /// to 5 s). Ends when the consumer stops iterating (or its task is cancelled).
    public func changes() -> AsyncStream<FleetNotification> {
        let (stream, continuation) = AsyncStream.makeStream(of: FleetNotification.self, bufferingPolicy: .bufferingNewest(1024))
        let task = Task { [location, fleet, logger, timeout] in
            await Self.listen(location: location, fleet: fleet, logger: logger, timeout: timeout, into: continuation)
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// The payload's map name and revision when it is a notification of `fleet`.
    static func parseNotification(_ payload: String, fleet: String) -> FleetNotification? {
        let prefix = fleet + "/"
        guard payload.hasPrefix(prefix) else { return nil }
        let rest = payload.dropFirst(prefix.count)
        guard let slash = rest.lastIndex(of: "/"), let revision = Int64(rest[rest.index(after: slash)...]) else { return nil }
        let name = rest[..<slash]
        guard !name.isEmpty else { return nil }
        return .changed(name: String(name), revision: revision)
    }

    private static func listen(
        location: FleetLocation,
        fleet: String,
        logger: Logger,
        timeout: Duration,
        into continuation: AsyncStream<FleetNotification>.Continuation
    ) async {
        var backoff = Duration.milliseconds(100)
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                let connection = try await connect(
                    location,
                    applicationName: "\(applicationName) listen \(fleet)",
                    logger: logger,
                    id: attempt
                )
                backoff = .milliseconds(100)
                await listen(on: connection, fleet: fleet, logger: logger, timeout: timeout, into: continuation)
                try? await connection.close()
            } catch {
                logger.warning("fleet '\(fleet)': cannot listen for changes: \(error.message); retrying in \(backoff)")
            }
            guard !Task.isCancelled else { return }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    /// Listens until the connection drops (or fails a liveness check) or the task is cancelled.
    private static func listen(
        on connection: PostgresConnection,
        fleet: String,
        logger: Logger,
        timeout: Duration,
        into continuation: AsyncStream<FleetNotification>.Continuation
    ) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Liveness: a quiet connection may be dead without the socket knowing it yet.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(2))
                    guard !Task.isCancelled else { return }
                    let watchdog = Task {
                        try await Task.sleep(for: timeout)
                        try? await connection.close()
                    }
                    defer { watchdog.cancel() }
                    do {
                        try await connection.query("SELECT 1", logger: logger)
                    } catch {
                        try? await connection.close()
                        return
                    }
                }
            }
            group.addTask {
                do {
                    try await connection.listen(on: fleetChannel) { notifications in
                        continuation.yield(.reconnected)
                        for try await notification in notifications {
                            if let change = parseNotification(notification.payload, fleet: fleet) {
                                continuation.yield(change)
                            }
                        }
                    }
                } catch {
                    if !Task.isCancelled {
                        logger.warning("fleet '\(fleet)': the change notifications' connection dropped: \(error)")
                    }
                }
            }
            await group.next()
            group.cancelAll()
            try? await connection.close()
        }
    }
}
