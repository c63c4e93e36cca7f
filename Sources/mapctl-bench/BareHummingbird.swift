import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// `mapctl-bench bare-http`: the yardstick of the HTTP benchmark (scripts/bench-http.sh). A Hummingbird 2
/// app of the same package versions as the daemon, with nothing of mapctl: `GET /healthz` answers
/// `{"status":"ok"}`, and `GET|PUT|DELETE /v1/maps/{name}/entries/{key}` reads and writes the body bytes
/// in a dictionary under one lock. What mapctl adds per request (authorization, the Host check, the
/// governed map, metrics, JSON errors) is the difference between the two.
///
/// `--nio-executor` makes NIO's event loops the global executor first, as `mapctl watch` does.
enum BareHummingbird {
    static func run(_ arguments: [String]) async -> Int32 {
        var host = "127.0.0.1"
        var port = 0
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--listen":
                let text = iterator.next() ?? ""
                guard let colon = text.lastIndex(of: ":"), let value = Int(text[text.index(after: colon)...]) else { return usage() }
                host = text[..<colon].isEmpty ? host : String(text[..<colon])
                port = value
            case "--nio-executor":
                break  // handled in main.swift, before any task runs
            default:
                return usage()
            }
        }
        let entries = Entries()
        let router = Router()
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}\n")))
        }
        router.get("/v1/maps/:name/entries/:key") { _, context in
            let key = "\(context.parameters.get("name") ?? "")/\(context.parameters.get("key") ?? "")"
            guard let value = entries.values.withLock({ $0[key] }) else {
                throw HTTPError(.notFound, message: "no such key")
            }
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: value))
        }
        router.put("/v1/maps/:name/entries/:key") { request, context in
            let key = "\(context.parameters.get("name") ?? "")/\(context.parameters.get("key") ?? "")"
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            entries.values.withLock { $0[key] = body }
            return Response(status: .noContent)
        }
        router.delete("/v1/maps/:name/entries/:key") { _, context in
            let key = "\(context.parameters.get("name") ?? "")/\(context.parameters.get("key") ?? "")"
            _ = entries.values.withLock { $0.removeValue(forKey: key) }
            return Response(status: .noContent)
        }
        var logger = Logger(label: "bare-http")
        logger.logLevel = .warning
        let (boundHost, askedPort) = (host, port)
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(boundHost, port: askedPort), serverName: "bare"),
            onServerRunning: { channel in
                print("listening on http://\(boundHost):\(channel.localAddress?.port ?? askedPort)")
                fflush(nil)
            },
            logger: logger
        )
        do {
            try await app.runService()
            return 0
        } catch {
            FileHandle.standardError.write(Data("bare-http: \(error)\n".utf8))
            return 1
        }
    }

    /// The values, behind one lock (a class: a `Mutex` cannot be captured by the handlers).
    final class Entries: Sendable {
        let values = Mutex<[String: ByteBuffer]>([:])
    }

    static func usage() -> Int32 {
        FileHandle.standardError.write(Data("usage: mapctl-bench bare-http [--listen HOST:PORT] [--nio-executor]\n".utf8))
        return 64
    }
}
