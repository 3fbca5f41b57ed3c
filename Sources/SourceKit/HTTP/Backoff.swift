import Foundation

/// How long to wait before a retry: exponential from `base` (attempt 1 waits about `base`,
/// each further attempt twice as long), with "equal jitter" (between half and all of it) so
/// that sources failing together do not retry in step.
package enum Backoff {
    package static func delay(attempt: Int, base: Duration) -> Duration {
        base * (pow(2, Double(max(0, attempt - 1))) * Double.random(in: 0.5...1.0))
    }
}
