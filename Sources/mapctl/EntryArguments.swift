import ArgumentParser

/// NAME and KEY of `get`, `put` and `delete`.
struct EntryArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("The map.", valueName: "NAME"))
    var name: String

    @Argument(help: ArgumentHelp("The key, as text.", valueName: "KEY"))
    var key: String

    func validate() throws {
        if key.isEmpty { throw ValidationError("KEY must not be empty") }
    }

    /// `/v1/maps/{name}/entries/{key}`, both percent-encoded path segments.
    var path: String {
        "/v1/maps/\(ControllerClient.pathSegment(name))/entries/\(ControllerClient.pathSegment(key))"
    }
}
