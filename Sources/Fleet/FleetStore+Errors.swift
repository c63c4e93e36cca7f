import Foundation
import Logging
import PostgresNIO
import Synchronization

// MARK: - Deadlines

extension FleetStore {
    /// Runs `body` with the store's timeout; every error comes out as a ``FleetError``.
    ///
    /// The body runs in its own task: when the deadline passes first, the caller gets
    /// ``FleetError/Code/unavailable`` at once and the body is cancelled (a transaction then rolls back before
    /// its COMMIT; one already committing may still commit).
    func perform<T: Sendable>(_ what: String, _ body: @escaping @Sendable () async throws -> T) async throws(FleetError) -> T {
        let result = await Self.withDeadline(timeout, body)
        switch result {
        case .success(let value): return value
        case .failure(let error): throw Self.translate(error, location: location, doing: what, timeout: timeout)
        }
    }

    /// The race of `body` against `timeout` and the caller's cancellation, without waiting for a body that hangs.
    static func withDeadline<T: Sendable>(
        _ timeout: Duration,
        _ body: @escaping @Sendable () async throws -> T
    ) async -> Result<T, any Error> {
        let box = FirstResult<T>()
        let operation = Task {
            do {
                box.finish(.success(try await body()))
            } catch {
                box.finish(.failure(error))
            }
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            box.finish(.failure(DeadlineExceeded()))
        }
        let result = await withTaskCancellationHandler {
            await box.value()
        } onCancel: {
            box.finish(.failure(CancellationError()))
        }
        operation.cancel()
        timer.cancel()
        return result
    }

    /// A transaction on `connection`: COMMIT when `body` returns (unless the task was cancelled meanwhile),
    /// ROLLBACK when it throws; a connection whose ROLLBACK fails is closed, never handed back mid-transaction.
    static func transaction<T>(
        _ connection: PostgresConnection,
        logger: Logger,
        _ body: () async throws -> T
    ) async throws -> T {
        try await connection.query("BEGIN", logger: logger)
        do {
            let value = try await body()
            try Task.checkCancellation()
            try await connection.query("COMMIT", logger: logger)
            return value
        } catch {
            do {
                try await connection.query("ROLLBACK", logger: logger)
            } catch {
                try? await connection.close()
            }
            throw error
        }
    }
}

/// The deadline of ``FleetStore/withDeadline(_:_:)`` passed.
struct DeadlineExceeded: Error {}

/// An error thrown by the caller's closure inside a transaction, passed through untranslated.
struct CallerError: Error {
    let underlying: any Error
}

/// The first of several results; later ones are dropped.
final class FirstResult<T: Sendable>: Sendable {
    private struct State {
        var result: Result<T, any Error>?
        var waiter: CheckedContinuation<Result<T, any Error>, Never>?
    }

    private let state = Mutex(State())

    func finish(_ result: Result<T, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<Result<T, any Error>, Never>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: result)
    }

    func value() async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Result<T, any Error>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

// MARK: - Errors

extension FleetStore {
    /// PostgreSQL error classes that mean the server cannot be used now rather than that it refused a statement:
    /// 08 connection exception, 28 invalid authorization, 3D no such database, 53 insufficient resources
    /// (too many connections), 57 operator intervention (shutdown, cannot connect now).
    private static let unavailableClasses: Set<String> = ["08", "28", "3D", "53", "57"]

    static func translate(_ error: any Error, location: FleetLocation, doing what: String, timeout: Duration? = nil) -> FleetError {
        switch error {
        case let error as FleetError:
            return error
        case is DeadlineExceeded:
            let seconds = timeout.map { " within \($0.components.seconds) s" } ?? ""
            return FleetError(.unavailable, "PostgreSQL at \(location) did not answer\(seconds): cannot \(what)")
        case is CancellationError:
            return FleetError(.unavailable, "cannot \(what): cancelled")
        case let error as PSQLError:
            return translate(error, location: location, doing: what)
        case let error as PostgresDecodingError:
            return FleetError(
                .database,
                "cannot \(what): column \(error.columnName) of type \(error.postgresType) does not decode as \(error.targetType)"
            )
        default:
            return FleetError(.unavailable, "cannot reach PostgreSQL at \(location) to \(what): \(error)")
        }
    }

    private static func translate(_ error: PSQLError, location: FleetLocation, doing what: String) -> FleetError {
        if error.code == .server, let info = error.serverInfo {
            let state = info[.sqlState] ?? ""
            var message = info[.message] ?? "an error without a message"
            if let detail = info[.detail] { message += " (\(detail))" }
            if unavailableClasses.contains(String(state.prefix(2))) {
                return FleetError(.unavailable, "PostgreSQL at \(location) cannot be used to \(what): \(message) [\(state)]")
            }
            return FleetError(.database, "PostgreSQL refused to \(what): \(message) [\(state)]")
        }
        var message = "\(error.code)"
        if let underlying = error.underlying { message += ": \(underlying)" }
        return FleetError(.unavailable, "cannot reach PostgreSQL at \(location) to \(what): \(message)")
    }
}

// MARK: - Rows

extension PostgresRandomAccessRow {
    /// The value of `column`, decoded.
    func value<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }
}

/// UInt64 counters in bigint columns: clamped into Int64 on the way in, negative values read as 0.
extension UInt64 {
    var clampedToInt64: Int64 { Int64(clamping: self) }
    init(storedBigint value: Int64) { self = UInt64(clamping: value) }
}
