import Foundation
import SourceKit

/// Runs `body` with a deadline: on timeout the task is cancelled and `onTimeout` runs (to
/// interrupt what cancellation alone would not stop), then a `timeout` failure naming
/// `endpoint` is thrown. Source syncs and usage queries share it.
func withDeadline<T: Sendable>(_ timeout: Duration, endpoint: String, onTimeout: @Sendable () async -> Void = {},
                               _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        guard let first = try await group.next() else { throw CancellationError() }
        guard let value = first else {
            await onTimeout()
            group.cancelAll()
            throw SyncFailure(endpoint: endpoint, reason: "timeout", message: "no answer within \(timeout.prometheusText)")
        }
        group.cancelAll()
        return value
    }
}
