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
