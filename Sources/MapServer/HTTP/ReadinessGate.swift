import Synchronization

/// A condition `/readyz` waits for besides ``ControlPlane/isReady``.
///
/// The daemon opens it when the watcher's first reconcile of the directory is done, so
/// that `/readyz` cannot answer 200 in the moment between the server starting and that
/// reconcile beginning.
public final class ReadinessGate: Sendable {
    private let state = Mutex(false)

    public init(isOpen: Bool = false) {
        state.withLock { $0 = isOpen }
    }

    public var isOpen: Bool { state.withLock { $0 } }

    public func open() {
        state.withLock { $0 = true }
    }
}
