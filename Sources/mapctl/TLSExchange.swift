import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One exchange with an `https://` controller (behind a TLS proxy) through URLSession, with the
/// guarantees of ``PlainHTTPClient``: no redirect followed by URLSession itself (the caller decides
/// what a redirect may carry), a deadline for the whole exchange, and a size limit applied while
/// the answer arrives rather than after it was kept whole.
enum TLSExchange {
    static func run(
        _ method: String, _ url: URL, headers: [(name: String, value: String)], body: Data?,
        deadline: ContinuousClock.Instant, maxBytes: Int
    ) async throws -> (status: Int, location: String?, body: Data) {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { throw CommandFailure.unreachable(server: origin(of: url), reason: "timed out") }
        var request = URLRequest(url: url, timeoutInterval: left.seconds)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = left.seconds
        configuration.timeoutIntervalForResource = left.seconds
        configuration.httpShouldSetCookies = false
        let collector = Collector(maxBytes: maxBytes)
        let session = URLSession(configuration: configuration, delegate: collector, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let outcome = await withCheckedContinuation { continuation in
            collector.start(session.dataTask(with: request), continuation: continuation)
        }
        switch outcome {
        case .success(let status, let location, let data):
            return (status, location, data)
        case .tooLarge:
            throw CommandFailure("the controller at \(origin(of: url)) sent an answer over \(maxBytes >> 20) MiB; not read")
        case .failed(let error):
            if let error = error as? URLError, error.code == .timedOut {
                throw CommandFailure.unreachable(
                    server: origin(of: url), reason: "no complete answer in time; MAPCTL_TIMEOUT sets the limit")
            }
            throw CommandFailure.unreachable(server: origin(of: url), reason: error.localizedDescription)
        }
    }

    private static func origin(of url: URL) -> String {
        "\(url.scheme ?? "https")://\(url.host ?? "")\(url.port.map { ":\($0)" } ?? "")"
    }

    enum Outcome: Sendable {
        case success(status: Int, location: String?, data: Data)
        case tooLarge
        case failed(any Error)
    }

    /// Collects one task's answer; its state is behind a mutex, so delegate calls on URLSession's
    /// queue and the start on the caller's task never race.
    final class Collector: NSObject, URLSessionDataDelegate, Sendable {
        private struct State {
            var continuation: CheckedContinuation<Outcome, Never>?
            var response: HTTPURLResponse?
            var data = Data()
            var isTooLarge = false
        }

        private let maxBytes: Int
        private let state = Mutex(State())

        init(maxBytes: Int) {
            self.maxBytes = maxBytes
        }

        func start(_ task: URLSessionDataTask, continuation: CheckedContinuation<Outcome, Never>) {
            state.withLock { $0.continuation = continuation }
            task.resume()
        }

        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
        ) {
            // Not followed here: the 3xx comes back to ControllerClient, which strips the token off-origin.
            completionHandler(nil)
        }

        func urlSession(
            _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
            completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
        ) {
            let tooLarge = response.expectedContentLength > Int64(maxBytes)
            state.withLock {
                $0.response = response as? HTTPURLResponse
                $0.isTooLarge = tooLarge
            }
            completionHandler(tooLarge ? .cancel : .allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            let over = state.withLock { state -> Bool in
                guard !state.isTooLarge else { return false }
                state.data.append(data)
                if state.data.count > maxBytes {
                    state.isTooLarge = true
                    state.data = Data()
                    return true
                }
                return false
            }
            if over { dataTask.cancel() }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
            let (continuation, outcome) = state.withLock { state -> (CheckedContinuation<Outcome, Never>?, Outcome) in
                let continuation = state.continuation
                state.continuation = nil
                if state.isTooLarge { return (continuation, .tooLarge) }
                if let response = state.response, error == nil || (300..<400).contains(response.statusCode) {
                    let location = response.value(forHTTPHeaderField: "Location")
                    return (continuation, .success(status: response.statusCode, location: location, data: state.data))
                }
                return (continuation, .failed(error ?? URLError(.badServerResponse)))
            }
            continuation?.resume(returning: outcome)
        }
    }
}
