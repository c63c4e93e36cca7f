import LiveMaps
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The daemon's memory limit (`--max-memory`): writes are refused with 503 `memory_limit` while the
/// process's resident memory is over it, so that an operator gets a clear answer instead of the
/// kernel's OOM killer ending the daemon (and, with it, every map's contents).
///
/// Reading `/proc/self/statm` costs a few microseconds; entry writes cost about as much. So the
/// verdict is cached in an atomic and refreshed at most every 10 ms, by whichever writer finds it
/// stale first; the others use the cached one. Reads and deletes are never refused: they do not grow
/// memory, and deleting is how a client gets back under the limit.
package final class MemoryLimit: Sendable {
    /// The limit in bytes of resident memory.
    package let bytes: Int
    /// How old a verdict may be before a write refreshes it.
    let refreshNanoseconds: UInt64
    /// Monotonic time of the last refresh (0: never).
    let checkedAt = Atomic<UInt64>(0)
    /// Whether resident memory was over the limit at the last refresh.
    let isOver = Atomic<Bool>(false)
    /// The resident bytes measured at the last refresh, for the error message.
    let lastResident = Atomic<Int>(0)

    package init(bytes: Int, refresh: Duration = .milliseconds(10)) {
        self.bytes = bytes
        let (seconds, attoseconds) = refresh.components
        self.refreshNanoseconds = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// Throws 503 `memory_limit` when resident memory is over the limit.
    package func checkWrite() throws(ControlPlaneError) {
        let now = monotonicNanoseconds()
        let last = checkedAt.load(ordering: .relaxed)
        if last == 0 || now &- last >= refreshNanoseconds,
            checkedAt.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        {
            refresh()
        }
        guard isOver.load(ordering: .relaxed) else { return }
        let resident = lastResident.load(ordering: .relaxed)
        throw ControlPlaneError(
            .unavailable, code: "memory_limit",
            message:
                "the daemon uses \(Self.format(resident)) of memory, over --max-memory \(Self.format(bytes)): "
                + "writes are refused until entries are deleted; reads go on",
            retryAfter: .seconds(1)
        )
    }

    /// Measures resident memory now and stores the verdict.
    package func refresh() {
        guard let resident = Self.residentBytes() else { return }
        lastResident.store(resident, ordering: .relaxed)
        isOver.store(resident > bytes, ordering: .relaxed)
    }

    /// Resident bytes of this process, from `/proc/self/statm` (its second field, in pages); nil where
    /// that file cannot be read (then nothing is refused).
    package static func residentBytes() -> Int? {
        let descriptor = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { buffer -> Int? in
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            guard count > 0 else { return nil }
            var field = 0
            var pages = 0
            var digits = 0
            for byte in buffer.prefix(count) {
                if byte == UInt8(ascii: " ") {
                    if field == 1 { break }
                    field += 1
                } else if field == 1, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                    pages = pages * 10 + Int(byte - UInt8(ascii: "0"))
                    digits += 1
                }
            }
            guard digits > 0 else { return nil }
            return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        }
    }

    static func format(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }

    /// Parses `512MiB`, `2GiB`, `64KiB`, `1000000` (bytes); also `KB`/`MB`/`GB` (powers of 1000),
    /// `K`/`M`/`G` (powers of 1024). Nil for anything else, zero, or an overflow.
    package static func parseBytes(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces
        guard let split = trimmed.firstIndex(where: { !$0.isASCII || !$0.isNumber }) ?? Optional(trimmed.endIndex),
            split > trimmed.startIndex, let number = Int(trimmed[..<split])
        else { return nil }
        let units: [String: Int] = [
            "": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1000, "m": 1 << 20, "mib": 1 << 20, "mb": 1_000_000,
            "g": 1 << 30, "gib": 1 << 30, "gb": 1_000_000_000, "t": 1 << 40, "tib": 1 << 40, "tb": 1_000_000_000_000,
        ]
        guard let unit = units[trimmed[split...].lowercased()] else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: unit)
        return overflow || bytes <= 0 ? nil : bytes
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        var text = self[...]
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
