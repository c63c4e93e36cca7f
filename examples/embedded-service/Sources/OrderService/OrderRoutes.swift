import Foundation
import Hummingbird
import MapController

/// The service's own API over its typed, governed map of orders.
///
/// The map's errors become HTTP answers here: the schema refusing a value is the caller's
/// error (400); an open circuit breaker, or the map not loaded yet, is a wait (503 with
/// `Retry-After`).
struct OrderRoutes: Sendable {
    let orders: TypedMapHandle<Order>

    func add(to router: Router<some RequestContext>) {
        let orders = self.orders
        router.get("/orders/count") { _, _ -> Response in
            Self.json(["count": orders.count])
        }
        router.get("/orders/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            do throws(TypedMapError) {
                guard let order = try orders.get(id) else { return Self.json(["error": "no order \(id)"], status: .notFound) }
                return Self.json(order)
            } catch {
                return Self.answer(error)
            }
        }
        router.put("/orders/:id") { request, context -> Response in
            let id = try context.parameters.require("id")
            let body = try await request.decode(as: Order.Body.self, context: context)
            let order: Order
            do throws(OrderIDMismatch) {
                order = try body.order(id: id)
            } catch {
                return Self.json(["error": error.description], status: .badRequest)
            }
            do throws(TypedMapError) {
                try orders.put(id, order)
                return Self.json(order, status: .created)
            } catch {
                return Self.answer(error)
            }
        }
    }

    static func answer(_ error: TypedMapError) -> Response {
        switch error {
        case .breakerOpen(let retryAfter):
            var response = json(["error": "writes paused by the circuit breaker"], status: .serviceUnavailable)
            response.headers[.retryAfter] = "\(max(1, retryAfter.components.seconds))"
            return response
        case .mapNotFound:
            // The first reconcile of the schema directory has not made the map yet.
            var response = json(["error": error.description], status: .serviceUnavailable)
            response.headers[.retryAfter] = "1"
            return response
        case .map:
            // The schema refused the key or value (e.g. a note over max_value_bytes): the caller's error.
            return json(["error": error.description], status: .badRequest)
        default:
            // `Order` does not fit the schema: the service's bug, not the caller's.
            return json(["error": error.description], status: .internalServerError)
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let body = try? encoder.encode(value) else { return Response(status: .internalServerError) }
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}
