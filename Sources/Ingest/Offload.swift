import Foundation
import Synchronization

/// Runs CPU-heavy synchronous work (parsing a billing export) on a thread of its own, not on
/// Swift's cooperative pool: on a 2-core machine that pool has two threads, and a parse that
/// holds one for seconds would stall every other task behind it. Cancelling the calling task
/// raises the flag that `body` polls; the result is then a `CancellationError`.
package func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable (_ isCancelled: @escaping @Sendable () -> Bool) throws -> T) async throws -> T {
    let cancelled = CancellationFlag()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                do {
                    continuation.resume(returning: try body { cancelled.isSet })
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = "zen-exporter.parse"
            thread.stackSize = 8 << 20
            thread.start()
        }
    } onCancel: {
        cancelled.set()
    }
}

/// Synchronous work started on a thread of its own, for a caller that does the other half of
/// a job meanwhile and then waits for this half (`result()`, once). For CPU-bound parts of
/// one sync on a 2-core machine, where the cooperative pool must not be held.
package final class SecondThread<Value: Sendable>: @unchecked Sendable {
    // Written by the thread before `done` is signalled, read after `result()` waited on it.
    private var value: Value?
    private let done = DispatchSemaphore(value: 0)

    package init(name: String = "zen-exporter.second-half", _ body: @escaping @Sendable () -> Value) {
        let thread = Thread { [self] in
            value = body()
            done.signal()
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    package func result() -> Value {
        done.wait()
        guard let value else { preconditionFailure("SecondThread: the body returned no value") }
        return value
    }
}

package final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    package func set() { flag.store(true, ordering: .relaxed) }
    package var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// Hands memory freed after a sync back to the system. A large sync frees hundreds of
/// megabytes (the parse's hash tables, the previous resources); glibc keeps freed memory in
/// its per-thread arenas, so without this the resident size stays at the sync's peak until
/// the next one (measured: steady RSS in docs/benchmarks.md).
package enum ReleaseFreedMemory {
    package static func now() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }

    /// Blocks of 8 MiB and more get their own mapping, returned to the system when freed.
    /// glibc's default threshold grows with the largest block freed (up to 32 MiB), after which
    /// a sync's large transient arrays come from the heap and leave it fragmented: at 100,000
    /// resources a fixed 1 MiB took steady RSS from 246–275 MB to 151–153 MB and the peak from
    /// 459–473 MB to 364–367 MB (docs/benchmarks.md). But below 8 MiB every growth of a
    /// mid-sized array mapped fresh pages: a fifth more page faults, and 8 MiB took the
    /// 100k × 7 first sync from 0.86–0.88 s to 0.80–0.83 s (100k × 30: 1.88 → 1.73 s) for
    /// 0–20 MB more peak and steady RSS within 5 MB. Called once at start, before the first
    /// large allocation.
    package static func mapLargeBlocks() {
        #if os(Linux)
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 8 << 20)
        #endif
    }
}

#if os(Linux)
/// glibc's `int mallopt(int param, int value)` (malloc.h, not exported by the Glibc module).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// glibc's `int malloc_trim(size_t pad)`, which the Glibc module does not export (malloc.h).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
