import Foundation
import TestServers
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A large apply does not stall the control plane: the real daemon decodes it off the controller's actor
/// and takes its documents in bounded batches, so status, readiness and other applies answer meanwhile.
@Suite("Daemon: a 10,000-document apply does not stall the control plane", .serialized, .heavy)
struct LargeApplyTests {
    /// Requests with the daemon's token, timed.
    struct Probe: Sendable {
        let base: String
        let token: String
        let session: URLSession

        init(base: String, token: String) {
            self.base = base
            self.token = token
            let configuration = URLSessionConfiguration.ephemeral
            configuration.timeoutIntervalForRequest = 300
            session = URLSession(configuration: configuration)
        }

        func send(_ method: String, _ path: String, body: String? = nil) async throws -> (status: Int, body: Data, took: Duration) {
            var request = URLRequest(url: URL(string: base + path)!)
            request.httpMethod = method
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            if let body {
                request.httpBody = Data(body.utf8)
                request.setValue("application/yaml", forHTTPHeaderField: "Content-Type")
            }
            let start = ContinuousClock.now
            let (data, response) = try await session.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, data, ContinuousClock.now - start)
        }
    }

    static func documents(_ count: Int, prefix: String) -> String {
        (0..<count).map { "name: \(prefix)_\($0)\nversion: 1.0.0\nkey_type: string\nvalue_type: string\n" }.joined(separator: "---\n")
    }

    @Test(
        "While 10,000 documents are applied, status answers within 500 ms (p99; every one within 1 s), readyz and a small apply within 1 s")
    func controlPlaneAnswersDuringALargeApply() async throws {
        // At high priority, so that the times are the daemon's. Each answer resumes this task in the test
        // process, whose default-priority queue the suite's synchronous tests can hold for seconds (a probe
        // there woke up 10 s late in mid-run). Likely why two full-suite runs failed here (worst readyz
        // 1.77 s; worst status 5.0 s) where this test alone saw 37 ms.
        try await Task(priority: .high) { try await Self.probeDuringALargeApply() }.value
    }

    static func probeDuringALargeApply() async throws {
        let session = try await Session.start()
        defer { session.layout.remove() }
        let probe = Probe(base: session.daemon.url, token: try session.layout.token())
        #expect(try await probe.send("POST", "/v1/apply", body: documents(1, prefix: "probe")).status == 200)

        let body = documents(10_000, prefix: "bulk")
        #expect(body.utf8.count < 1 << 20, "the body fits the daemon's apply limit")
        let applyStarted = ContinuousClock.now
        let done = StopFlag()
        let large = Task {
            defer { done.set() }
            return try await probe.send("POST", "/v1/apply", body: body)
        }
        var statusTimes: [Duration] = []
        var worstReady: Duration = .zero
        var worstApply: Duration = .zero
        var rounds = 0
        // Until the large apply answers: status of one map, readiness, and now and then a one-document apply.
        while true {
            let status = try await probe.send("GET", "/v1/maps/probe_0")
            #expect(status.status == 200)
            statusTimes.append(status.took)
            let ready = try await probe.send("GET", "/readyz")
            // Ready, or (on a slow machine, once the apply has run past --max-reconcile) 503 reconcile_stalled:
            // either way an answer, which is what is timed here.
            #expect(
                ready.status == 200 || String(decoding: ready.body, as: UTF8.self).contains("reconcile_stalled"),
                "\(ready.status) \(String(decoding: ready.body, as: UTF8.self))")
            worstReady = max(worstReady, ready.took)
            if rounds % 10 == 0 {
                let small = try await probe.send("POST", "/v1/apply", body: documents(1, prefix: "small_\(rounds)"))
                #expect(small.status == 200)
                worstApply = max(worstApply, small.took)
            }
            rounds += 1
            if done.isSet { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let answer = try await large.value
        let applyTook = ContinuousClock.now - applyStarted
        let sorted = statusTimes.sorted()
        let worstStatus = sorted.last ?? .zero
        let p99Status = sorted.isEmpty ? .zero : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self).prefix(500))")
        let report = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any]
        #expect((report?["plan"] as? [Any])?.count == 10_000)
        print(
            "large apply: 10000 documents in \(applyTook); \(rounds) probe rounds meanwhile; status p99 \(p99Status), worst \(worstStatus), "
                + "worst readyz \(worstReady), worst small apply \(worstApply)")
        #expect(rounds >= 5, "the apply ended before the control plane was asked much (\(applyTook))")
        // Before, the first status asked waited for the whole apply (7-22 s). The bounds leave room for a
        // loaded machine, where a thread can wait a few hundred milliseconds for a core.
        #expect(p99Status < .milliseconds(500))
        #expect(worstStatus < .seconds(1))
        #expect(worstReady < .seconds(1))
        #expect(worstApply < .seconds(1))
        // Not a test of the shutdown (saving 10,000 maps' contents is another matter): SIGKILL.
        _ = try await session.daemon.stop(signal: SIGKILL)
    }
}
