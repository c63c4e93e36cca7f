public import Logging
import MapSchema
public import ServiceLifecycle
import Synchronization

/// Watches the schema directory and asks for a reconcile after each change.
///
/// Changes come from inotify on the directory tree (``InotifyEventSource``) or, with
/// ``Configuration/pollInterval`` set or when inotify is unavailable, from comparing
/// snapshots of (path, mtime, size, content hash). Bursts are coalesced by a
/// ``Debouncer``: a reconcile starts within ``Configuration/maxDelay`` (100 ms) of any
/// change. A periodic resync reconciles even without events, as level-triggered
/// controllers do, which also repairs anything inotify could not see. Reconciles never
/// overlap: changes that arrive during one start the next right after it.
///
/// Each reconcile learns which paths changed since the last one (inotify names them; the poll
/// compares `stat` data), so that a directory of thousands of files is not read whole for a
/// one-file change. The first reconcile, the resync, an inotify overflow and a burst of more than
/// ``SchemaLoader/maxChangedPaths`` paths name none: the whole directory, then.
public struct DirectoryWatcher: Service {
    public struct Configuration: Sendable {
        /// The watched directory.
        public var directory: String
        /// Poll instead of inotify, at this interval (`--poll`).
        public var pollInterval: Duration?
        /// A burst is over after this long without events.
        public var quietPeriod: Duration
        /// The longest wait between a change and the reconcile it causes.
        public var maxDelay: Duration
        /// Reconcile this often even without events; nil never.
        public var resyncInterval: Duration?
        /// Reconcile once when the watch starts (after the watches are in place).
        public var reconcilesAtStart: Bool

        public init(
            directory: String,
            pollInterval: Duration? = nil,
            quietPeriod: Duration = .milliseconds(25),
            maxDelay: Duration = .milliseconds(100),
            resyncInterval: Duration? = .seconds(30),
            reconcilesAtStart: Bool = true
        ) {
            self.directory = directory
            self.pollInterval = pollInterval
            self.quietPeriod = quietPeriod
            self.maxDelay = maxDelay
            self.resyncInterval = resyncInterval
            self.reconcilesAtStart = reconcilesAtStart
        }
    }

    /// Why a reconcile was asked for.
    public enum Trigger: Sendable, Hashable {
        /// The first reconcile, once the watches are in place.
        case start
        /// A burst of this many file events.
        case changes(Int)
        /// The periodic resync.
        case resync
    }

    let configuration: Configuration
    let logger: Logger
    let reconcile: @Sendable (Trigger, Set<String>?) async -> Void

    /// - Parameters:
    ///   - configuration: what to watch and how.
    ///   - logger: where the watcher reports trouble (inotify unavailable, overflow).
    ///   - reconcile: called after each change; the daemon calls `Controller.reconcileDirectory`.
    public init(configuration: Configuration, logger: Logger, reconcile: @escaping @Sendable (Trigger) async -> Void) {
        self.init(configuration: configuration, logger: logger, reconcilingChanges: { trigger, _ in await reconcile(trigger) })
    }

    /// - Parameters:
    ///   - configuration: what to watch and how.
    ///   - logger: where the watcher reports trouble (inotify unavailable, overflow).
    ///   - reconcilingChanges: called after each change with the paths that changed since the last call
    ///     (nil: the whole directory may have); the daemon calls
    ///     `Controller.reconcileDirectory(_:prune:changedFiles:)`.
    public init(
        configuration: Configuration, logger: Logger, reconcilingChanges: @escaping @Sendable (Trigger, Set<String>?) async -> Void
    ) {
        self.configuration = configuration
        self.logger = logger
        self.reconcile = reconcilingChanges
    }

    public func run() async throws {
        let signal = ChangeSignal(quietPeriod: configuration.quietPeriod, maxDelay: configuration.maxDelay)
        var pollInterval = configuration.pollInterval
        #if canImport(Glibc)
            var inotify: InotifyEventSource?
            if pollInterval == nil {
                do {
                    inotify = try InotifyEventSource(root: configuration.directory, logger: logger) { path in
                        signal.notify(.changes(1), path: path)
                    }
                    logger.debug("watching with inotify", metadata: ["directory": "\(configuration.directory)"])
                } catch {
                    pollInterval = .seconds(1)
                    logger.warning(
                        "inotify unavailable, polling every second instead",
                        metadata: ["directory": "\(configuration.directory)", "error": "\(error)"]
                    )
                }
            }
        #else
            if pollInterval == nil { pollInterval = .seconds(1) }
        #endif

        let directory = configuration.directory
        let initialSnapshot = pollInterval.map { _ in DirectorySnapshot.take(of: directory) }
        if configuration.reconcilesAtStart {
            await reconcile(.start, nil)
        }

        let resyncInterval = configuration.resyncInterval
        let reconcile = self.reconcile
        let effectivePollInterval = pollInterval
        _ = await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                if let pollInterval = effectivePollInterval, let initialSnapshot {
                    group.addTask {
                        var previous = initialSnapshot
                        while !Task.isCancelled {
                            do { try await Task.sleep(for: pollInterval) } catch { return }
                            let current = DirectorySnapshot.take(of: directory)
                            let changed = current.changedPaths(since: previous)
                            if !changed.isEmpty {
                                previous = current
                                for path in changed { signal.notify(.changes(1), path: path) }
                            }
                        }
                    }
                }
                if let resyncInterval {
                    group.addTask {
                        while !Task.isCancelled {
                            do { try await Task.sleep(for: resyncInterval) } catch { return }
                            signal.notify(.resync)
                        }
                    }
                }
                group.addTask {
                    await signal.deliver(to: reconcile)
                }
            }
        }
        #if canImport(Glibc)
            await inotify?.stop()
        #endif
    }
}

/// Where the event sources meet the reconcile loop: a debouncer under a lock, and a
/// wake-up stream for the loop.
final class ChangeSignal: Sendable {
    private struct State {
        var debouncer: Debouncer<ContinuousClock.Instant>
        var changes = 0
        var resync = false
        /// The paths seen changing since the last reconcile; nil once the whole directory needs reading.
        var paths: Set<String>? = []
    }

    private let state: Mutex<State>
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(quietPeriod: Duration, maxDelay: Duration) {
        state = Mutex(State(debouncer: Debouncer(quietPeriod: quietPeriod, maxDelay: maxDelay)))
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Records an event: `path` is the file or directory that changed, nil when it is not known.
    func notify(_ trigger: DirectoryWatcher.Trigger, path: String? = nil) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.debouncer.record(at: now)
            switch trigger {
            case .changes(let count):
                state.changes += count
                if let path, state.paths != nil, state.paths!.count < SchemaLoader.maxChangedPaths {
                    state.paths!.insert(path)
                } else {
                    state.paths = nil
                }
            case .resync:
                state.resync = true
                state.paths = nil
            case .start: break
            }
        }
        wake.yield()
    }

    /// Runs until cancelled: waits for events, lets each burst settle, reconciles.
    func deliver(to reconcile: @Sendable (DirectoryWatcher.Trigger, Set<String>?) async -> Void) async {
        for await _ in wakeups {
            while !Task.isCancelled {
                let now = ContinuousClock.now
                let next: (trigger: DirectoryWatcher.Trigger?, paths: Set<String>?, sleepUntil: ContinuousClock.Instant?) =
                    state.withLock { state in
                        guard let deadline = state.debouncer.deadline else { return (nil, nil, nil) }
                        guard state.debouncer.takeIfDue(at: now) != nil else { return (nil, nil, deadline) }
                        defer {
                            state.changes = 0
                            state.resync = false
                            state.paths = []
                        }
                        let paths = state.paths?.isEmpty == false ? state.paths : nil
                        return (state.changes > 0 ? .changes(state.changes) : .resync, paths, nil)
                    }
                if let trigger = next.trigger {
                    await reconcile(trigger, next.paths)
                } else if let deadline = next.sleepUntil {
                    do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
                } else {
                    break
                }
            }
        }
    }
}
