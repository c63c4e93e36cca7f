#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A value behind a pthread mutex.
///
/// Why not `Synchronization.Mutex`: on Linux its lock and unlock run in the
/// prebuilt Synchronization library, which ThreadSanitizer does not
/// instrument, so every value it protects shows up as a data race in the
/// stress tests' `--sanitize=thread` run. `pthread_mutex_lock` is intercepted
/// by ThreadSanitizer, so races it reports here are real ones.
package final class Locked<Value: Sendable>: @unchecked Sendable {
    // @unchecked Sendable is sound: `value` is read and written only inside `withLock`, between
    // pthread_mutex_lock and pthread_mutex_unlock on `mutex`, which orders every access across threads;
    // `mutex` is allocated once, never moved, and destroyed only in deinit, when no thread can hold it.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    package func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

/// A pthread mutex with no value: the stripe locks that order a key's writes to two instances.
///
/// (A `Locked<Void>` would do, but ThreadSanitizer takes the access to its zero-sized value for an
/// access to the neighbouring field and reports a race that is not there.)
package final class PthreadMutex: @unchecked Sendable {
    // @unchecked Sendable is sound: the only state is the pthread mutex, which is made for sharing between
    // threads; it is allocated once, never moved, and destroyed only in deinit.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    package func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
