import HTTPTypes
import MapController
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Prometheus
import Synchronization
import Testing

@testable import MapServer

/// The handler itself, on an embedded channel: what it answers at once, what it hands on, and that it
/// never answers ahead of a request it handed on.
@Suite struct EntryFastPathHandlerTests {
    final class MemoryEntries: EntryAccess {
        let values = Mutex<[String: [UInt8]]>([:])

        func readEntry(map: String, key: String) throws(ControlPlaneError) -> [UInt8] {
            guard let value = values.withLock({ $0["\(map)/\(key)"] }) else {
                throw ControlPlaneError(.notFound, code: "key_not_found", message: "no key '\(key)' in \(map)")
            }
            return value
        }

        func writeEntry(map: String, key: String, json: [UInt8]) throws(ControlPlaneError) {
            values.withLock { $0["\(map)/\(key)"] = json }
        }

        func removeEntry(map: String, key: String) throws(ControlPlaneError) {
            guard values.withLock({ $0.removeValue(forKey: "\(map)/\(key)") }) != nil else {
                throw ControlPlaneError(.notFound, code: "key_not_found", message: "no key '\(key)' in \(map)")
            }
        }
    }

    static func channel(_ entries: MemoryEntries, maxBodyBytes: Int = 64) throws -> EmbeddedChannel {
        let settings = EntryFastPathHandler<MemoryEntries>.Settings(
            entries: entries, authorization: APIAuthorization(token: nil, requiresTokenForAll: false), maxBodyBytes: maxBodyBytes,
            counters: HTTPRequestCounters(registry: PrometheusCollectorRegistry()), serverName: "mapctl")
        return EmbeddedChannel(handler: EntryFastPathHandler(settings: settings))
    }

    static func request(_ channel: EmbeddedChannel, _ method: HTTPRequest.Method, _ path: String, body: String? = nil) throws {
        try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: method, scheme: nil, authority: "127.0.0.1", path: path)))
        if let body { try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: body))) }
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.pipeline.fireChannelReadComplete()
    }

    /// The answers written so far: status and body of each.
    static func answers(_ channel: EmbeddedChannel) throws -> [(status: Int, body: String)] {
        var answers: [(Int, String)] = []
        var status = 0
        var body = ""
        while let part = try channel.readOutbound(as: HTTPResponsePart.self) {
            switch part {
            case .head(let head): status = head.status.code
            case .body(let buffer): body += String(buffer: buffer)
            case .end:
                answers.append((status, body))
                body = ""
            }
        }
        return answers
    }

    @Test func entryRequestsAreAnsweredAtOnceAndNotHandedOn() throws {
        let entries = MemoryEntries()
        let channel = try Self.channel(entries)
        try Self.request(channel, .put, "/v1/maps/m/entries/a%2Fb", body: "42")
        try Self.request(channel, .get, "/v1/maps/m/entries/a%2Fb")
        try Self.request(channel, .get, "/v1/maps/m/entries/c")
        try Self.request(channel, .delete, "/v1/maps/m/entries/a%2Fb")
        try Self.request(channel, .put, "/v1/maps/m/entries/big", body: String(repeating: "1", count: 65))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == nil, "nothing reaches the router")
        let answers = try Self.answers(channel)
        #expect(answers.map(\.status) == [204, 200, 404, 204, 413])
        #expect(answers[1].body == "42")
        #expect(entries.values.withLock { $0 } == [:])
        _ = try channel.finish()
    }

    @Test func otherRequestsAreHandedOnAndEntriesWaitBehindThem() throws {
        let channel = try Self.channel(MemoryEntries())
        for path in ["/v1/maps", "/v1/maps/m/entries/", "/v1/maps//entries/k", "/v1/maps/m/entries/k/", "/v1/maps/m/history"] {
            try Self.request(channel, .get, path)
            #expect(try channel.readInbound(as: HTTPRequestPart.self).map { if case .head = $0 { true } else { false } } == true, "\(path)")
            #expect(try channel.readInbound(as: HTTPRequestPart.self) == .end(nil))
            try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
            try channel.writeOutbound(HTTPResponsePart.end(nil))
        }
        try Self.request(channel, .head, "/v1/maps/m/entries/k")
        #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil, "HEAD is the router's")
        _ = try channel.readInbound(as: HTTPRequestPart.self)
        // Its answer is not written yet: an entry GET behind it goes on to the router too, in order.
        try Self.request(channel, .get, "/v1/maps/m/entries/k")
        #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil, "handed on behind an unanswered request")
        _ = try channel.readInbound(as: HTTPRequestPart.self)
        #expect(try Self.answers(channel).count == 5, "no answer of its own was written")
        for _ in 0..<2 {
            try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
            try channel.writeOutbound(HTTPResponsePart.end(nil))
        }
        _ = try Self.answers(channel)
        // Everything answered: the next entry request is answered here again.
        try Self.request(channel, .get, "/v1/maps/m/entries/k")
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == nil)
        #expect(try Self.answers(channel).map(\.status) == [404])
        _ = try channel.finish()
    }
}
