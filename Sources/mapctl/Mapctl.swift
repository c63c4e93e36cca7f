import ArgumentParser

@main
struct Mapctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mapctl", abstract: "A GitOps controller for concurrent in-memory maps.")
}
