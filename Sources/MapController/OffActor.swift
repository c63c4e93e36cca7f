import Foundation

/// Runs `work` on a thread of its own and resumes the caller with its result.
///
/// The controller's heavy steps (a million-entry rebuild or cold rollback takes hundreds of
/// milliseconds) run here, not on the actor's executor and not on the cooperative pool, whose few
/// threads would be blocked meanwhile: status, apply, the checks of other maps and the entry API go on.
func offActor<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.name = "mapctl-rebuild"
        thread.start()
    }
}
