public import MapController
public import MapSchema

/// What the RESP listener needs of the maps: the controller's synchronous entry API (``EntryAccess``) and
/// the look-ups that translate values and walk keys, called on the event loop that read the command.
public protocol RESPBackend: EntryAccess {
    /// The entry's JSON (nil when absent) and the map's value type, from one look-up.
    func lookUpEntry(map: String, key: String) throws(ControlPlaneError) -> (json: [UInt8]?, valueType: ValueType)
    /// Writes the JSON `encode` makes for the map's value type.
    func writeEntry(map: String, key: String, encoding: (ValueType) throws(ControlPlaneError) -> [UInt8]) throws(ControlPlaneError)
    func entryValueType(map: String) throws(ControlPlaneError) -> ValueType
    func entryKeys(map: String) throws(ControlPlaneError) -> [String]
    func totalEntryCount() -> Int
}

extension Controller: RESPBackend {}
