public import MapController

/// The controller's synchronous entry API: what a protocol handler calls on the event loop that read a
/// request, with no hop to the concurrency pool (the HTTP entry fast path, the RESP listener).
///
/// Writes take the same path as the async ``ControlPlane`` calls: the schema check, the breaker, the
/// write gate of a rebuild, the counters of `mapctl_map_ops_total`.
public protocol EntryAccess: Sendable {
    /// The value of `key` in map `name` as JSON; `key_not_found` when it is absent.
    func readEntry(map: String, key: String) throws(ControlPlaneError) -> [UInt8]
    func writeEntry(map: String, key: String, json: [UInt8]) throws(ControlPlaneError)
    /// Removes `key`; `key_not_found` when it was absent.
    func removeEntry(map: String, key: String) throws(ControlPlaneError)
}

extension Controller: EntryAccess {}
