/// The options kubectl and argocd users expect to give anywhere: `--server`, `--token`,
/// `--state`, `-o/--output` and `--no-color`.
///
/// ArgumentParser reads an option only after the command that declares it, so
/// `mapctl --server URL status` would be a usage error. ``arranged(_:acceptedBy:)`` moves such
/// options, given before the command's name, to just after it, before ArgumentParser sees them.
enum GlobalOption: CaseIterable, Hashable, Sendable {
    case server, token, state, output, noColor

    var longName: String {
        switch self {
        case .server: "--server"
        case .token: "--token"
        case .state: "--state"
        case .output: "--output"
        case .noColor: "--no-color"
        }
    }

    var shortName: String? { self == .output ? "-o" : nil }

    var takesValue: Bool { self != .noColor }

    /// The global options each command accepts, by command name. A test checks this table
    /// against every command's `--help`, so that it cannot drift from the commands' options.
    static let acceptedByCommand: [String: Set<GlobalOption>] = {
        let client: Set<GlobalOption> = [.server, .token, .state]
        let output: Set<GlobalOption> = [.output, .noColor]
        return [
            "validate": output,
            "apply": client.union(output), "diff": client.union(output), "rollback": client.union(output),
            "status": client.union(output), "history": client.union(output),
            "get": client, "put": client, "delete": client,
            "watch": [.state],
        ]
    }()

    /// The option `argument` names, and whether it carries its value (`--server=URL`).
    static func named(by argument: String) -> (option: GlobalOption, hasInlineValue: Bool)? {
        for option in allCases {
            if argument == option.longName || argument == option.shortName { return (option, false) }
            if option.takesValue, argument.hasPrefix(option.longName + "=") { return (option, true) }
        }
        return nil
    }

    /// `arguments` (without the program name) with the global options that come before the
    /// command's name moved to just after it.
    ///
    /// Everything from the command's name on is left as it is (a `--` and what follows keep
    /// their meaning). Nothing moves unless the arguments start with global options, each with
    /// its value, followed by the name of a command that accepts every one of them; otherwise
    /// the arguments are returned unchanged, so that ArgumentParser reports the usual usage
    /// error (`mapctl --server URL validate` is one: validate talks to no server).
    ///
    /// - Parameters:
    ///   - arguments: the command line after the program name.
    ///   - acceptedBy: the global options a command accepts, nil for a name that is no command.
    static func arranged(_ arguments: [String], acceptedBy: (String) -> Set<GlobalOption>?) -> [String] {
        var leading: [String] = []
        var given: Set<GlobalOption> = []
        var index = 0
        while index < arguments.count, let match = named(by: arguments[index]) {
            leading.append(arguments[index])
            index += 1
            if match.option.takesValue && !match.hasInlineValue {
                guard index < arguments.count else { return arguments }
                leading.append(arguments[index])
                index += 1
            }
            given.insert(match.option)
        }
        guard !leading.isEmpty, index < arguments.count, let accepted = acceptedBy(arguments[index]),
            given.isSubset(of: accepted)
        else { return arguments }
        return [arguments[index]] + leading + arguments[(index + 1)...]
    }

    /// ``arranged(_:acceptedBy:)`` with mapctl's own commands.
    static func arranged(_ arguments: [String]) -> [String] {
        arranged(arguments) { acceptedByCommand[$0] }
    }
}
