import Synchronization

/// Where the waiting writers of the `serialized` strategy publish their writes for the combining thread.
///
/// Sixteen slots, each on its own 128-byte line, picked by the thread's ``ThreadSlot``: a slot holds the
/// address of a request on the waiting thread's stack, or 0. A waiter claims its slot (0 → address), then
/// raises the slot's bit in `pending`; the combiner takes the pending bits, applies each request, and
/// clears the slot, which tells the waiter that its outcome is written. No allocation, no queue lock:
/// a published write costs one compare-and-swap, one atomic OR and the combiner's pass.
///
/// Two threads that land on one slot (more than 16 writers at once) take turns: the second waits until
/// the first request is served, and meanwhile combines if nobody else does.
@usableFromInline
struct CombiningSlots: ~Copyable, Sendable {
    @usableFromInline static let count = 16
    @usableFromInline static let spacing = 16  // 16 × 8 bytes = 128 bytes

    @usableFromInline let cells: InlineArray<256, Atomic<UInt>>
    /// Bit i: slot i holds a request that no combiner has taken yet.
    @usableFromInline let pending = Atomic<UInt>(0)

    @inlinable
    init() {
        cells = InlineArray { _ in Atomic<UInt>(0) }
    }

    /// The calling thread's slot.
    @inlinable
    static func current() -> Int { ThreadSlot.current() & (count - 1) }

    /// Publishes `request` in `slot` if the slot is free. Releasing: the combiner that reads the address
    /// sees the request written.
    @inlinable
    func claim(_ slot: Int, _ request: UInt) -> Bool {
        cells[slot &* Self.spacing].compareExchange(expected: 0, desired: request, ordering: .releasing).exchanged
    }

    /// Marks the claimed `slot` as waiting for a combiner.
    @inlinable
    func announce(_ slot: Int) {
        pending.bitwiseOr(UInt(1) << UInt(slot), ordering: .releasing)
    }

    /// Whether `slot` still holds `request`, i.e. it has not been served. Acquiring: once it returns
    /// false, the combiner's writes to the request (its outcome) are visible.
    @inlinable
    func holds(_ slot: Int, _ request: UInt) -> Bool {
        cells[slot &* Self.spacing].load(ordering: .acquiring) == request
    }

    /// Whether some request waits; a relaxed hint that lets an uncontended writer skip the exchange.
    @inlinable
    var hasPending: Bool { pending.load(ordering: .relaxed) != 0 }

    /// Takes the waiting slots' bits (the combiner's side).
    @inlinable
    func takePending() -> UInt { pending.exchange(0, ordering: .acquiring) }

    /// Gives back bits the combiner took but did not serve (past its batch size).
    @inlinable
    func restore(_ bits: UInt) { pending.bitwiseOr(bits, ordering: .relaxed) }

    /// The request address that `slot` holds; only for a combiner that took the slot's bit.
    @inlinable
    func request(_ slot: Int) -> UInt { cells[slot &* Self.spacing].load(ordering: .acquiring) }

    /// Frees `slot` once its request's outcome is written: releasing, so its waiter sees the outcome.
    @inlinable
    func serve(_ slot: Int) { cells[slot &* Self.spacing].store(0, ordering: .releasing) }
}
