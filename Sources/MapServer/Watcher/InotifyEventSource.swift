#if canImport(Glibc)
    import Foundation
    import Glibc
    import Logging
    import Synchronization

    /// Watches a directory tree with inotify on a dedicated thread and reports every
    /// relevant change through `onChange`.
    ///
    /// The directories are watched, not the files: editors that save by writing a
    /// temporary file and renaming it over the original, and the kubelet's atomic
    /// `..data` symlink swap, both show as events in the directory. The thread sleeps in
    /// `poll(2)` on the inotify descriptor and an eventfd used to stop it; nothing spins.
    ///
    /// When the watched directory itself is deleted or moved away, its watch is gone for good
    /// (inotify watches inodes, not paths). The thread then looks for the path again every
    /// ``rootRetryInterval`` and, once a directory is there, watches it afresh and reports a
    /// change, so that the re-created directory is reconciled without waiting for the resync.
    final class InotifyEventSource: Sendable {
        /// How often a lost root is looked for again (a `poll(2)` timeout, only while it is lost).
        static let rootRetryInterval: Int32 = 50

        private static let directoryMask: UInt32 =
            UInt32(IN_CREATE) | UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_FROM) | UInt32(IN_MOVED_TO) | UInt32(IN_DELETE)
            | UInt32(IN_ATTRIB) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_ONLYDIR)

        private let inotifyDescriptor: Int32
        /// A pipe: `stop()` writes to the write end to wake the thread from `poll(2)`.
        private let wakeReadDescriptor: Int32
        private let wakeDescriptor: Int32
        private let exit = ThreadExit()
        private let stopState = LockedFlag()

        /// Starts watching `root` and every non-hidden directory below it.
        ///
        /// The initial watches are in place when this returns, so that a reconcile that
        /// starts afterwards misses no change.
        ///
        /// - Throws: ``WatcherError`` when inotify is unavailable (no descriptors, `max_user_watches`).
        init(root: String, logger: Logger, onChange: @escaping @Sendable (String) -> Void) throws(WatcherError) {
            let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            guard fd >= 0 else { throw WatcherError("inotify_init1: \(errnoDescription(errno))") }
            var pipeEnds: [Int32] = [-1, -1]
            guard pipe(&pipeEnds) == 0 else {
                close(fd)
                throw WatcherError("pipe: \(errnoDescription(errno))")
            }
            for end in pipeEnds {
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            }
            let wakeRead = pipeEnds[0]
            let wake = pipeEnds[1]
            var table = WatchTable(inotifyDescriptor: fd, mask: Self.directoryMask)
            do {
                try table.addRecursively(root, isRoot: true)
            } catch {
                close(fd)
                close(wakeRead)
                close(wake)
                throw error
            }
            self.inotifyDescriptor = fd
            self.wakeReadDescriptor = wakeRead
            self.wakeDescriptor = wake
            let exit = self.exit
            let initialTable = table
            let thread = Thread {
                var table = initialTable
                Self.eventLoop(inotifyDescriptor: fd, wakeDescriptor: wakeRead, table: &table, logger: logger, onChange: onChange)
                close(fd)
                exit.signal()
            }
            thread.name = "mapctl-inotify"
            thread.start()
        }

        /// Stops the thread and waits for it to close its descriptor.
        func stop() async {
            guard stopState.setOnce() else { return }
            var byte: UInt8 = 1
            _ = write(wakeDescriptor, &byte, 1)
            // Not cancellable on purpose: the pipe may be closed only once the thread is gone.
            await exit.wait()
            // The thread is gone: nothing uses the pipe any more.
            close(wakeReadDescriptor)
            close(wakeDescriptor)
        }

        deinit {
            // Reached only if stop() was never called: wake the thread so that it exits and
            // closes the inotify descriptor. The pipe stays open, since the thread may still
            // be polling it; leaking two descriptors is the lesser harm.
            if !stopState.isSet {
                var byte: UInt8 = 1
                _ = write(wakeDescriptor, &byte, 1)
            }
        }

        private static func eventLoop(
            inotifyDescriptor: Int32,
            wakeDescriptor: Int32,
            table: inout WatchTable,
            logger: Logger,
            onChange: @Sendable (String) -> Void
        ) {
            var descriptors = [
                pollfd(fd: inotifyDescriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            let bufferSize = 64 * 1024
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 8)
            defer { buffer.deallocate() }

            while true {
                descriptors[0].revents = 0
                descriptors[1].revents = 0
                let ready = poll(&descriptors, 2, table.isRootLost ? rootRetryInterval : -1)
                if ready < 0 {
                    if errno == EINTR { continue }
                    logger.error("inotify poll failed; the periodic resync remains", metadata: ["error": "\(errnoDescription(errno))"])
                    return
                }
                if descriptors[1].revents != 0 { return }
                if table.isRootLost, table.reestablishRoot() {
                    logger.notice("the watched directory is back; watching it again", metadata: ["directory": "\(table.rootPath)"])
                    onChange(table.rootPath)
                }
                guard descriptors[0].revents != 0 else { continue }
                while true {
                    let count = read(inotifyDescriptor, buffer, bufferSize)
                    if count < 0 {
                        if errno == EINTR { continue }
                        break  // EAGAIN: drained
                    }
                    if count == 0 { break }
                    var offset = 0
                    while offset + 16 <= count {
                        let wd = buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                        let mask = buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                        let nameLength = Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                        var name = ""
                        if nameLength > 0 {
                            let start = buffer.advanced(by: offset + 16).assumingMemoryBound(to: UInt8.self)
                            let bytes = UnsafeBufferPointer(start: start, count: min(nameLength, count - offset - 16))
                            name = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                        }
                        offset += 16 + nameLength
                        if let change = table.handle(wd: wd, mask: mask, name: name, logger: logger) {
                            onChange(change)
                        }
                    }
                }
            }
        }
    }

    /// The thread's map of watch descriptors to directories, and what an event means.
    private struct WatchTable {
        let inotifyDescriptor: Int32
        let mask: UInt32
        var directories: [Int32: String] = [:]
        var rootDescriptor: Int32 = -1
        var rootPath = ""
        /// The root's watch is gone (deleted, moved away): the event loop looks for the path again.
        var isRootLost = false

        init(inotifyDescriptor: Int32, mask: UInt32) {
            self.inotifyDescriptor = inotifyDescriptor
            self.mask = mask
        }

        mutating func addRecursively(_ path: String, isRoot: Bool = false) throws(WatcherError) {
            let wd = inotify_add_watch(inotifyDescriptor, path, mask)
            guard wd >= 0 else {
                let code = errno
                if isRoot { throw WatcherError("inotify_add_watch \(path): \(errnoDescription(code))") }
                // A directory removed in the meantime, or the watch limit: the resync covers it.
                return
            }
            directories[wd] = path
            if isRoot {
                rootDescriptor = wd
                rootPath = path
            }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
            for name in names where WatchFilter.isWatchedDirectoryName(name) {
                let child = path + "/" + name
                var info = stat()
                // lstat: a symlink to a directory is not descended into (a loop would be endless).
                if lstat(child, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                    try addRecursively(child)
                }
            }
        }

        /// Drops every watch: the tree they watched is not at the root path any more.
        mutating func loseRoot(logger: Logger) {
            guard !isRootLost else { return }
            isRootLost = true
            for descriptor in directories.keys { inotify_rm_watch(inotifyDescriptor, descriptor) }
            directories = [:]
            rootDescriptor = -1
            logger.warning("the watched directory is gone; watching for it to come back", metadata: ["directory": "\(rootPath)"])
        }

        /// Watches the root path again if a directory is there now.
        ///
        /// - Returns: True when the root is watched again.
        mutating func reestablishRoot() -> Bool {
            var info = stat()
            guard stat(rootPath, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return false }
            do {
                try addRecursively(rootPath, isRoot: true)
            } catch {
                return false
            }
            isRootLost = false
            return true
        }

        /// Updates the table for one event.
        ///
        /// - Returns: a description of the change when it matters to the loader, nil otherwise.
        mutating func handle(wd: Int32, mask: UInt32, name: String, logger: Logger) -> String? {
            if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                logger.warning("inotify queue overflow: reconciling the whole directory")
                return "(overflow)"
            }
            if mask & UInt32(IN_IGNORED) != 0 {
                directories[wd] = nil
                if wd == rootDescriptor && !isRootLost {
                    loseRoot(logger: logger)
                    return rootPath
                }
                return nil
            }
            guard let directory = directories[wd] else { return nil }
            if mask & (UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF)) != 0 {
                guard wd == rootDescriptor else { return nil }
                // Moved away, the watch would follow the old inode; deleted, it ends with IN_IGNORED.
                // Either way the path is what is watched: drop every watch and look for it again.
                loseRoot(logger: logger)
                return directory
            }
            guard !name.isEmpty else { return nil }
            let path = directory + "/" + name
            let isDirectory = mask & UInt32(IN_ISDIR) != 0
            guard WatchFilter.isRelevant(name, isDirectory: isDirectory) else { return nil }

            if isDirectory {
                if mask & (UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)) != 0 {
                    try? addRecursively(path)
                } else if mask & UInt32(IN_MOVED_FROM) != 0 {
                    // Its watches would go on reporting under the old path: drop them.
                    for (descriptor, watched) in directories where watched == path || watched.hasPrefix(path + "/") {
                        inotify_rm_watch(inotifyDescriptor, descriptor)
                        directories[descriptor] = nil
                    }
                }
                return path
            }
            if mask & UInt32(IN_CREATE) != 0 {
                // A regular file just created is still empty: its IN_CLOSE_WRITE follows. A symlink
                // (`..data_tmp`, `x.yaml -> ..data/x.yaml`) or a hard link is complete now.
                var info = stat()
                if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1 {
                    return nil
                }
            }
            return path
        }
    }

    /// The event thread's end, awaited by `stop()` whether or not its task is cancelled.
    final class ThreadExit: Sendable {
        private enum State {
            case running([CheckedContinuation<Void, Never>])
            case exited
        }

        private let state = Mutex(State.running([]))

        func signal() {
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                defer { state = .exited }
                if case .running(let waiters) = state { return waiters }
                return []
            }
            for waiter in waiters { waiter.resume() }
        }

        func wait() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let hasExited = state.withLock { state -> Bool in
                    switch state {
                    case .exited: return true
                    case .running(var waiters):
                        waiters.append(continuation)
                        state = .running(waiters)
                        return false
                    }
                }
                if hasExited { continuation.resume() }
            }
        }
    }

    /// A flag set once, safe across threads.
    final class LockedFlag: Sendable {
        private let state = Mutex(false)

        /// Sets the flag; true if this call set it.
        func setOnce() -> Bool {
            state.withLock { isSet in
                defer { isSet = true }
                return !isSet
            }
        }

        var isSet: Bool { state.withLock { $0 } }
    }
#endif

/// The watcher could not start.
public struct WatcherError: Error, Sendable, CustomStringConvertible {
    public var message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
