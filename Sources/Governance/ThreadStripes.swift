import LiveMaps
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Per-thread in-flight counts of readers and writers, one 128-byte line per stripe, and a closed flag.
///
/// The counts are how a ``GovernedMap`` learns, without any shared write on its hot path, that no
/// operation is still using what it is about to replace:
/// - a writer counts itself in its thread's stripe and then checks the flag; a switch sets the flag and
///   then waits for every stripe's writers to leave (Dekker's handshake, both sides sequentially
///   consistent), so while the flag is set and the counts are zero no writer is past the gate;
/// - a reader counts itself and then loads the routing; a switch publishes new routing and then waits
///   until each stripe's readers have been seen at zero once, after which no reader can still hold the
///   old routing (a reader that counted itself after the publication loads the new one).
///
/// Threads pick a stripe by their ``ThreadSlot`` (one load of a thread-local; a hash of `pthread_self()`
/// was a call into libc per operation, and put two threads on one stripe one time in 16), so up to 16
/// threads never share a line; when more do, the counts stay correct and only cost a shared cache line.
@usableFromInline
package final class ThreadStripes: @unchecked Sendable {
    // @unchecked Sendable is sound: `cells` is allocated once in init, never reallocated, and freed only
    // in deinit, when no thread can use the stripes; every access to a cell goes through `Atomic`.
    @usableFromInline package static let stripeCount = 16
    @usableFromInline static let cellsPerStripe = 16  // 16 × 8 bytes = 128 bytes: a stripe never shares a line
    @usableFromInline static let readerOffset = 1

    @usableFromInline let cells: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let closed = Atomic<Bool>(false)

    package init() {
        let count = Self.stripeCount * Self.cellsPerStripe
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Atomic<Int>>.stride, alignment: 128)
        cells = raw.bindMemory(to: Atomic<Int>.self, capacity: count)
        for index in 0..<count {
            (cells + index).initialize(to: Atomic<Int>(0))
        }
    }

    deinit {
        cells.deinitialize(count: Self.stripeCount * Self.cellsPerStripe)
        UnsafeMutableRawPointer(cells).deallocate()
    }

    /// The calling thread's stripe (an index into the cells).
    @inlinable
    package static func currentStripe() -> Int {
        (ThreadSlot.current() & (stripeCount - 1)) &* cellsPerStripe
    }

    // MARK: - Readers

    @inlinable
    package func arriveReader(_ stripe: Int) {
        cells[stripe + Self.readerOffset].wrappingAdd(1, ordering: .sequentiallyConsistent)
    }

    @inlinable
    package func departReader(_ stripe: Int) {
        cells[stripe + Self.readerOffset].wrappingSubtract(1, ordering: .releasing)
    }

    /// Returns once every stripe's reader count has been seen at zero after the call began.
    package func waitForReaders() {
        for stripe in 0..<Self.stripeCount {
            var attempts = 0
            while cells[stripe * Self.cellsPerStripe + Self.readerOffset].load(ordering: .sequentiallyConsistent) != 0 {
                attempts += 1
                Self.backOff(attempts)
            }
        }
    }

    // MARK: - Writers

    /// Counts a writer in, waiting while the gate is closed.
    @inlinable
    package func enterWriter(_ stripe: Int) {
        cells[stripe].wrappingAdd(1, ordering: .sequentiallyConsistent)
        if !closed.load(ordering: .sequentiallyConsistent) { return }
        enterWriterSlow(stripe)
    }

    @usableFromInline
    @inline(never)
    func enterWriterSlow(_ stripe: Int) {
        var attempts = 0
        while true {
            cells[stripe].wrappingSubtract(1, ordering: .releasing)
            while closed.load(ordering: .sequentiallyConsistent) {
                attempts += 1
                Self.backOff(attempts)
            }
            cells[stripe].wrappingAdd(1, ordering: .sequentiallyConsistent)
            if !closed.load(ordering: .sequentiallyConsistent) { return }
        }
    }

    @inlinable
    package func leaveWriter(_ stripe: Int) {
        cells[stripe].wrappingSubtract(1, ordering: .releasing)
    }

    /// Closes the gate and waits until no writer is past it.
    package func close() {
        let wasClosed = closed.exchange(true, ordering: .sequentiallyConsistent)
        precondition(!wasClosed, "the write gate is closed twice")
        for stripe in 0..<Self.stripeCount {
            var attempts = 0
            while cells[stripe * Self.cellsPerStripe].load(ordering: .sequentiallyConsistent) != 0 {
                attempts += 1
                Self.backOff(attempts)
            }
        }
    }

    package func open() {
        closed.store(false, ordering: .sequentiallyConsistent)
    }

    /// Spin a little (a switch lasts microseconds), then give the core away.
    private static func backOff(_ attempts: Int) {
        if attempts < 128 { return }
        if attempts < 4_096 {
            sched_yield()
        } else {
            usleep(50)
        }
    }
}
