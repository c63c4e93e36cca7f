import Foundation
import LiveMaps
import MapSchema
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `estimatedBytes` (what `mapctl_map_bytes` reports) against the memory a filled map really takes.
///
/// The real cost is read from the allocator (`mallinfo2`: bytes in use, in the heap and in mmapped
/// chunks), before and after filling one map with many values of one shape; the map is kept alive
/// until after the second reading. Other suites of this process allocate concurrently, so each shape
/// gets a few tries and the map is large (tens of MB) against that noise.
@Suite("Memory estimate", .serialized)
struct MemoryEstimateTests {
    enum Shape: String, CaseIterable, CustomTestStringConvertible {
        case smallArrays, longArrays, objects, longStrings, shortStrings, numbers, bigNumbers, nested

        var testDescription: String { rawValue }

        /// Enough values for 10–60 MB, well above what concurrent tests allocate meanwhile.
        var count: Int {
            switch self {
            case .smallArrays, .longStrings: 100_000
            case .longArrays, .nested: 25_000
            case .objects: 40_000
            case .shortStrings, .numbers: 300_000
            case .bigNumbers: 150_000
            }
        }

        /// A distinct JSON text per index, parsed like the daemon parses a request body, so that no two
        /// values share storage.
        func json(_ index: Int) -> String {
            switch self {
            case .smallArrays: "[\(index),\(index + 1),\(index + 2)]"
            case .longArrays: "[" + (0..<24).map { String(index &+ $0) }.joined(separator: ",") + "]"
            case .objects: #"{"name":"user \#(index)","age":\#(index % 90),"tags":["a","b"],"active":true}"#
            case .longStrings: "\"" + String(repeating: "x", count: 100) + "\(index)\""
            case .shortStrings: "\"v\(index)\""
            case .numbers: "\(index)"
            case .bigNumbers: "1234567890123456789012345678\(index)"
            case .nested: #"{"a":{"b":[{"c":"\#(index)-some longer text here"}]},"list":[[1],[2,3]]}"#
            }
        }
    }

    /// Resident bytes after giving free heap pages back (`malloc_trim`), so that freed temporaries
    /// (parsing, the tables a growing map left behind) do not count.
    static func bytesInUse() throws -> Int {
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
            // `malloc.h` is not part of Swift's Glibc module; the symbol is glibc's `int malloc_trim(size_t)`.
            let trim = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
            _ = trim(0)
        }
        let text = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let fields = text.split(separator: " ")
        let pages = try #require(fields.count > 1 ? Int(fields[1]) : nil)
        return pages * sysconf(Int32(_SC_PAGESIZE))
    }

    @Test("estimatedBytes is within 2× of the memory the values take", arguments: Shape.allCases)
    func withinTwice(shape: Shape) throws {
        let count = shape.count
        var ratios: [Double] = []
        // Bytes in use are the whole process's: tests running beside this one allocate too, and a try
        // they overlap reads high. Up to eight tries; one within the bounds is the measure.
        for _ in 0..<8 {
            let before = try Self.bytesInUse()
            let map = DynamicMap(schema: schema())
            for index in 0..<count { try map.put(.string("key-\(index)"), try JSONValue(parsing: shape.json(index))) }
            let real = try Self.bytesInUse() - before
            let ratio = Double(map.estimatedBytes) / Double(max(real, 1))
            ratios.append(ratio)
            withExtendedLifetime(map) {}
            if ratio >= 0.5 && ratio <= 2 { return }
        }
        Issue.record("\(shape.rawValue): estimatedBytes / real memory was \(ratios) (must be within 0.5…2)")
    }
}
