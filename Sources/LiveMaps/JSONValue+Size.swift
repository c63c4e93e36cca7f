extension JSONValue {
    /// The bytes this value holds on the heap, outside its own inline representation (which a map
    /// counts with its slot): array and dictionary buffers at their capacity, strings too long to
    /// be stored inline, and everything nested, each allocation rounded as the allocator rounds it.
    ///
    /// Why not ``serializedCount``: `[1,2,3]` is 7 bytes of JSON but a 32-byte buffer header plus
    /// three 24-byte elements in memory, so a map counted by its JSON under-reported its memory
    /// about twelvefold for arrays. Limits (`max_value_bytes`) stay in serialized bytes, which is
    /// what a client can see and control; this estimate is for memory accounting only.
    public var estimatedHeapBytes: Int {
        switch self {
        case .null, .bool, .int, .uint, .double: 0
        case .number(let text): JSONValue.heapBytes(of: text)
        case .string(let text): JSONValue.heapBytes(of: text)
        case .array(let items):
            items.reduce(JSONValue.arrayBufferBytes(capacity: items.capacity)) { $0 + $1.estimatedHeapBytes }
        case .object(let members):
            members.reduce(JSONValue.dictionaryBufferBytes(capacity: members.capacity)) {
                $0 + JSONValue.heapBytes(of: $1.key.text) + $1.value.estimatedHeapBytes
            }
        }
    }

    /// A native string of at most 15 UTF-8 bytes lives inside the `String` itself; a longer one in a
    /// heap object: a 16-byte object header, 16 bytes of count and capacity, the bytes and a NUL.
    static func heapBytes(of text: String) -> Int {
        let count = text.utf8.count
        return count <= 15 ? 0 : allocationBytes(32 + count + 1)
    }

    /// An array buffer: object header (16) and count with capacity (16), then the elements.
    static func arrayBufferBytes(capacity: Int) -> Int {
        capacity == 0 ? 0 : allocationBytes(32 + capacity * MemoryLayout<JSONValue>.stride)
    }

    /// A dictionary's storage object: its header (about 64 bytes), an occupancy bitmap with one bit
    /// per bucket, and key and value arrays of one element per bucket. Buckets are a power of two,
    /// filled to at most three quarters (so `capacity` is about 3/4 of the buckets).
    static func dictionaryBufferBytes(capacity: Int) -> Int {
        guard capacity > 0 else { return 0 }
        var buckets = 1
        while buckets * 3 / 4 < capacity { buckets *= 2 }
        let bitmapWords = (buckets + 63) / 64
        let bytes =
            64 + bitmapWords * 8 + buckets * (MemoryLayout<JSONKey>.stride + MemoryLayout<JSONValue>.stride)
        return allocationBytes(bytes)
    }

    /// What `malloc(requested)` takes: an 8-byte chunk header, rounded up to 16, at least 32 bytes.
    static func allocationBytes(_ requested: Int) -> Int {
        max(32, (requested + 8 + 15) & ~15)
    }
}
