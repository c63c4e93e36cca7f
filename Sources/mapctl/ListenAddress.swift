import ArgumentParser

/// `watch --listen`: `HOST:PORT`, `:PORT` or `PORT`; the host defaults to 127.0.0.1 (SPEC §5).
struct ListenAddress: ExpressibleByArgument, Equatable, CustomStringConvertible {
    static let defaultHost = "127.0.0.1"
    static let defaultPort = 7468

    var host: String
    /// 0 asks the system for a free port.
    var port: Int

    init(host: String = ListenAddress.defaultHost, port: Int = ListenAddress.defaultPort) {
        self.host = host
        self.port = port
    }

    init?(argument: String) {
        let hostPart: Substring
        let portPart: Substring
        if argument.hasPrefix("[") {
            // [::1]:7468
            guard let close = argument.firstIndex(of: "]") else { return nil }
            hostPart = argument[argument.index(after: argument.startIndex)..<close]
            let rest = argument[argument.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portPart = rest.dropFirst()
        } else if let colon = argument.lastIndex(of: ":") {
            hostPart = argument[..<colon]
            portPart = argument[argument.index(after: colon)...]
            if hostPart.contains(":") { return nil }  // a bare IPv6 address needs brackets
        } else {
            hostPart = ""
            portPart = Substring(argument)
        }
        guard !portPart.isEmpty, portPart.allSatisfy(\.isASCII), portPart.allSatisfy(\.isNumber), portPart.count <= 5,
            let port = Int(portPart), (0...65535).contains(port)
        else { return nil }
        let host = hostPart.isEmpty ? Self.defaultHost : String(hostPart)
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" }) else { return nil }
        self.host = host
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static var defaultValueDescription: String { "127.0.0.1:7468" }
}
