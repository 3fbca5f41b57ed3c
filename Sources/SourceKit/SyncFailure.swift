import Foundation

/// Why a sync attempt failed, in the terms of `infrazen_sync_errors_total`.
package struct SyncFailure: Error, CustomStringConvertible {
    package var endpoint: String
    package var reason: String
    package var message: String
    /// Fails the whole collection even where its endpoint may fail alone: an amount that cannot
    /// be, or costs in a currency the account does not report. Leaving the endpoint out would
    /// drop its last good data (a balance, a day's costs) from the snapshot, where a failed sync
    /// keeps all of it.
    package var failsTheSync = false

    package init(endpoint: String, reason: String, message: String, failsTheSync: Bool = false) {
        self.endpoint = endpoint
        self.reason = reason
        self.message = message
        self.failsTheSync = failsTheSync
    }

    package var description: String { "\(endpoint): \(reason): \(message)" }
}
