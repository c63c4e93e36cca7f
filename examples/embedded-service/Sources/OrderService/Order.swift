import Governance

/// The service's own type. Its shape is the `Order` record of `schemas/orders.yaml`:
/// the map checks every value against the schema, so a field the schema does not
/// know is refused there.
struct Order: Codable, Sendable, Equatable {
    var id: String
    var customer: String
    var totalCents: Int64
    var note: String?

    enum CodingKeys: String, CodingKey {
        case id, customer
        case totalCents = "total_cents"
        case note
    }
}

extension Order: MapValueSize {
    /// What the schema's `max_value_bytes` limits, counted without serializing: the UTF-8 bytes of
    /// the strings and the total's eight. (A type that does not say is counted at its inline size,
    /// which would let a 5 KB note through.)
    var mapValueByteCount: Int {
        id.utf8.count + customer.utf8.count + MemoryLayout<Int64>.size + (note?.utf8.count ?? 0)
    }
}

extension Order {
    /// What `PUT /orders/ID` carries: an order whose `id` may be left out, since the path names it.
    struct Body: Decodable, Sendable {
        var id: String?
        var customer: String
        var totalCents: Int64
        var note: String?

        typealias CodingKeys = Order.CodingKeys

        /// The order stored under `id`.
        ///
        /// - Throws: ``OrderIDMismatch`` when the body names another order than the path.
        func order(id: String) throws(OrderIDMismatch) -> Order {
            if let bodyID = self.id, bodyID != id { throw OrderIDMismatch(path: id, body: bodyID) }
            return Order(id: id, customer: customer, totalCents: totalCents, note: note)
        }
    }
}

/// A PUT whose body names another order than its path: most likely a client bug, so it is
/// refused rather than silently stored under either id.
struct OrderIDMismatch: Error, Sendable, CustomStringConvertible {
    var path: String
    var body: String
    var description: String { "the body's id '\(body)' is not the path's id '\(path)'" }
}
