import Dispatch
import Logging
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The daemon's answer to the signals that are not a shutdown.
///
/// Left to their default action, SIGHUP, SIGUSR1, SIGUSR2 and SIGALRM end the process, and the
/// next start counts the unclean exit as a fault of every version in its rollback window: a
/// stray `kill -HUP` (a log rotator, a terminal closing) would roll back a healthy version.
/// SIGHUP asks for a resync of the watched directory, as daemons do; the others are logged and
/// ignored. (SIGTERM and SIGINT belong to the service group's graceful shutdown.)
struct SignalService: Service {
    static let resyncSignal = SIGHUP
    static let ignoredSignals: [Int32] = [SIGUSR1, SIGUSR2, SIGALRM]

    let logger: Logger
    let resync: @Sendable () async -> Void

    /// Ignores the signals at once, from the very start of the daemon, so that none arriving
    /// before ``run()`` listens can end the process.
    static func ignoreUntilHandled() {
        for number in [resyncSignal] + ignoredSignals { signal(number, SIG_IGN) }
    }

    func run() async throws {
        let (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
        let queue = DispatchQueue(label: "mapctl.signals")
        let sources = ([Self.resyncSignal] + Self.ignoredSignals).map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        defer { for source in sources { source.cancel() } }
        await withGracefulShutdownHandler {
            for await number in signals {
                if number == Self.resyncSignal {
                    logger.info("SIGHUP: resyncing the watched directory")
                    await resync()
                } else {
                    logger.notice("signal ignored", metadata: ["signal": .string(Self.name(of: number))])
                }
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
    }

    static func name(of number: Int32) -> String {
        switch number {
        case SIGHUP: "SIGHUP"
        case SIGUSR1: "SIGUSR1"
        case SIGUSR2: "SIGUSR2"
        case SIGALRM: "SIGALRM"
        default: "signal \(number)"
        }
    }
}
