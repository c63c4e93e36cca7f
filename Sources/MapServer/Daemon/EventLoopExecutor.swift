import NIOCore
import NIOPosix

/// NIO's event loops as the global executor of Swift concurrency: a handler's task then runs on the event
/// loop that read its request, with no hop to the cooperative pool and back.
public enum EventLoopExecutor {
    /// Installs it, once, before the first task runs; false when it could not be.
    @discardableResult
    public static func install() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
