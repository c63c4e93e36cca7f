import NIOCore

extension Daemon {
    /// What makes each HTTP connection's ``EntryFastPathHandler``; nil for a controller with no
    /// synchronous entry API (the router then answers entries, as it answers everything else).
    static func entryFastPath(
        for controller: some DaemonController, authorization: APIAuthorization, maxBodyBytes: Int, counters: HTTPRequestCounters
    ) -> (@Sendable () -> any ChannelHandler)? {
        guard let entries = controller as? any EntryAccess else { return nil }
        return fastPath(entries, authorization: authorization, maxBodyBytes: maxBodyBytes, counters: counters)
    }

    /// Specialized for the controller's type: the entry calls are direct, not through an existential.
    private static func fastPath<Entries: EntryAccess>(
        _ entries: Entries, authorization: APIAuthorization, maxBodyBytes: Int, counters: HTTPRequestCounters
    ) -> @Sendable () -> any ChannelHandler {
        let settings = EntryFastPathHandler<Entries>.Settings(
            entries: entries, authorization: authorization, maxBodyBytes: maxBodyBytes, counters: counters, serverName: "mapctl")
        return { EntryFastPathHandler(settings: settings) }
    }
}
