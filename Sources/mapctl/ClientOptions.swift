import ArgumentParser
import Foundation

/// How a client command finds the controller and proves it may change things.
struct ClientOptions: ParsableArguments {
    static let defaultServer = "http://127.0.0.1:7468"

    @Option(
        help: ArgumentHelp(
            "The controller's URL. Default: $MAPCTL_SERVER, else \(ClientOptions.defaultServer).",
            valueName: "URL"
        )
    )
    var server: String?

    @Option(
        help: ArgumentHelp(
            "The API token. Default: $MAPCTL_TOKEN, else the file token in the state directory.",
            valueName: "TOKEN"
        )
    )
    var token: String?

    @Option(
        help: ArgumentHelp("The controller's state directory, where its token is read from.", valueName: "DIR")
    )
    var state: String = ".mapctl"

    /// The server URL from the flag, the environment or the default.
    var serverURLString: String {
        if let server { return server }
        if let env = ProcessInfo.processInfo.environment["MAPCTL_SERVER"], !env.isEmpty { return env }
        return Self.defaultServer
    }

    func validate() throws {
        let source = server != nil ? "--server" : "MAPCTL_SERVER"
        let text = serverURLString
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil
        else {
            throw ValidationError("\(source) must be an http URL such as http://127.0.0.1:7468, not '\(text)'")
        }
    }

    /// The token from the flag, the environment or `STATE/token`; nil when none is found.
    func resolvedToken() -> String? {
        if let token, !token.isEmpty { return token }
        if let env = ProcessInfo.processInfo.environment["MAPCTL_TOKEN"], !env.isEmpty { return env }
        let path = URL(fileURLWithPath: state).appendingPathComponent("token").path
        guard let data = FileManager.default.contents(atPath: path),
            let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
            !text.isEmpty
        else { return nil }
        return text
    }

    func makeClient() -> ControllerClient {
        ControllerClient(baseURL: serverURLString, token: resolvedToken())
    }
}
