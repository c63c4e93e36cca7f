import Foundation
import Logging
import Synchronization
import Testing

@testable import MapServer

final class LineSink: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

@Suite struct JSONLogHandlerTests {
    @Test func eachLogIsOneJSONObjectPerLine() throws {
        let sink = LineSink()
        var logger = Logger(label: "mapctl.test") { label in
            JSONLogHandler(label: label, output: .custom { sink.append($0) })
        }
        logger[metadataKey: "daemon"] = "1"
        logger.info("reconciled \"users\"\nnext line", metadata: ["map": "users", "versions": ["1.0.0", "1.1.0"], "level": "meta"])
        logger.debug("below the level")

        let lines = sink.all
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().contains("\n") == false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "info")
        #expect(object["label"] as? String == "mapctl.test")
        #expect(object["message"] as? String == "reconciled \"users\"\nnext line")
        #expect(object["map"] as? String == "users")
        #expect(object["daemon"] as? String == "1")
        #expect(object["versions"] as? [String] == ["1.0.0", "1.1.0"])
        #expect(object["meta.level"] as? String == "meta")
        let time = try #require(object["time"] as? String)
        #expect(time.count == 24 && time.hasSuffix("Z"), "\(time)")
    }

    @Test func theLogFormatMakesTheMatchingHandler() {
        #expect(LogFormat.json.makeHandler(label: "x") is JSONLogHandler)
        #expect(LogFormat.text.makeHandler(label: "x") is StreamLogHandler)
    }

    @Test(arguments: [
        ("127.0.0.1:7468", "127.0.0.1", 7468), ("0.0.0.0:0", "0.0.0.0", 0), (":9000", "127.0.0.1", 9000),
        ("8080", "127.0.0.1", 8080), ("[::1]:7468", "::1", 7468), ("localhost:1", "localhost", 1),
    ])
    func listenAddressesParse(text: String, host: String, port: Int) throws {
        let parsed = try DaemonConfiguration.parseListenAddress(text)
        #expect(parsed.host == host && parsed.port == port)
    }

    @Test(arguments: ["", "host:", "host:70000", "::1:80", "[::1]", "a:b"])
    func badListenAddressesAreRefused(text: String) {
        #expect(throws: ListenAddressError.self) { try DaemonConfiguration.parseListenAddress(text) }
    }
}
