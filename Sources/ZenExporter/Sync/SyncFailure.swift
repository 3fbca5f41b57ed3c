import Foundation

/// Why a sync attempt failed, in the terms of `infrazen_sync_errors_total`.
struct SyncFailure: Error, CustomStringConvertible {
    var endpoint: String
    var reason: String
    var message: String
    /// Fails the whole collection even where its endpoint may fail alone: an amount that cannot
    /// be, or costs in a currency the account does not report. Leaving the endpoint out would
    /// drop its last good data (a balance, a day's costs) from the snapshot, where a failed sync
    /// keeps all of it.
    var failsTheSync = false
    var description: String { "\(endpoint): \(reason): \(message)" }
}
