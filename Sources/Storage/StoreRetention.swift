import CostModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// What retention is counted back from: today by the clock, but never a day past the newest
/// billed day in the database (the source's, or any source's when `source` is nil). Billed
/// days carry the provider's dates, so a clock that jumps ahead (a bad NTP server, a virtual
/// machine restored with a wrong time) cannot prune history that is still inside retention; a
/// billed day far in the future (a bad export row) cannot either, since the clock bounds it.
/// With no billed day at all, the clock alone.
package struct PruneReference {
    package var day: LocalDay
    /// The end of `day`, or the clock if earlier.
    package var now: Date

    package init(_ db: Database, source: String?, now clock: Date) throws {
        let today = LocalDay(clock, in: TimeZone(identifier: "UTC") ?? .current)
        let newest: Int?
        if let source {
            newest = try Int.fetchOne(db, sql: "SELECT MAX(day) FROM scope_daily WHERE source = ?", arguments: [source])
        } else {
            newest = try Int.fetchOne(db, sql: "SELECT MAX(day) FROM scope_daily")
        }
        guard let newest, newest < today.ordinal else {
            day = today
            now = clock
            return
        }
        day = LocalDay(ordinal: newest)
        now = min(clock, Date(timeIntervalSince1970: Double(newest + 1) * 86_400))
    }

    /// `days` before the reference, in seconds since 1970 (as `sync_snapshots` stores times).
    package func time(daysBefore days: Int) -> Double { now.timeIntervalSince1970 - Double(days) * 86_400 }
}

/// How long history is kept, by grain.
package struct Retention: Sendable {
    /// Per-scope daily costs and snapshots (`storage.retention_days`).
    package var days: Int
    /// Per-resource daily costs (`storage.resource_retention_days`): what scopes are summed
    /// again from when the allocation rules change.
    package var resourceDays: Int

    package init(days: Int, resourceDays: Int) {
        self.days = days
        self.resourceDays = resourceDays
    }
}
