#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Memory for a table's arrays: large ones straight from the kernel (`mmap`), given back at once when
/// freed (`munmap`); small ones from `malloc`.
///
/// Why: a table grows by rehashing into arrays 1.5× larger and freeing the old ones. With `malloc`,
/// a freed array of a few hundred KiB stays in the heap (glibc raises its mmap threshold to the size of
/// the first large block freed, so later ones come from the heap, and holes in the middle of the heap
/// are not returned), and it stays in the process's resident memory: measured at 1M entries, 4 bytes
/// per entry of `sharded` (64 shards) and 2.5 of `mutex` were arrays already freed. Anonymous
/// mappings also arrive zero-filled, so a table of plain-bytes slots needs no clearing pass.
@usableFromInline
enum TableMemory {
    /// Arrays of at least this many bytes are mapped; a mapping wastes less than a page.
    @usableFromInline static let mappedThreshold = 64 * 1024

    /// `byteCount` bytes aligned to 16, zero-filled.
    @usableFromInline
    static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = max(byteCount, 16)
        if size >= mappedThreshold {
            let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let mapped, mapped != MAP_FAILED else { fatalError("out of memory: mmap of \(size) bytes for a table") }
            return mapped
        }
        guard let memory = calloc(1, size) else { fatalError("out of memory: \(size) bytes for a table") }
        return memory
    }

    /// Frees what ``allocate(byteCount:)`` returned for the same `byteCount`.
    @usableFromInline
    static func release(_ memory: UnsafeMutableRawPointer, byteCount: Int) {
        let size = max(byteCount, 16)
        if size >= mappedThreshold {
            munmap(memory, size)
        } else {
            free(memory)
        }
    }

    @inlinable
    static func allocate<T: ~Copyable>(_ type: T.Type, capacity: Int) -> UnsafeMutablePointer<T> {
        allocate(byteCount: capacity * MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: capacity)
    }

    /// Frees an array from ``allocate(_:capacity:)``; its elements must be deinitialized (or trivial).
    @inlinable
    static func release<T: ~Copyable>(_ pointer: UnsafeMutablePointer<T>, capacity: Int) {
        release(UnsafeMutableRawPointer(pointer), byteCount: capacity * MemoryLayout<T>.stride)
    }
}
