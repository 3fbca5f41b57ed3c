import CostModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// Usage queries' values: the last good run per tenant, the daily totals capacity fits, and
/// each tenant's value per day that allocates that day's billed cost.
extension Store {
    /// Replaces one usage query's values with a successful poll's and records the day's
    /// total (the history capacity forecasts fit), pruning days past the retention (counted
    /// like billing's, `PruneReference`).
    package func saveUsage(_ values: [String: Double], source: String, dimension: String, fetchedAt: Date, day: LocalDay, retentionDays: Int) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM usage_values WHERE source = ? AND dimension = ?", arguments: [source, dimension])
            for (tenant, value) in values {
                try db.execute(sql: "INSERT INTO usage_values (source, dimension, tenant, value, fetched_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [source, dimension, tenant, value, fetchedAt.timeIntervalSince1970])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO usage_daily (source, dimension, day, value) VALUES (?, ?, ?, ?)",
                           arguments: [source, dimension, day.description, values.values.reduce(0, +)])
            // The day's per-tenant values, the last poll of the day winning: the weights that
            // allocate that day's billed cost (`BilledSpend`).
            try db.execute(sql: "DELETE FROM usage_tenant_daily WHERE source = ? AND dimension = ? AND day = ?",
                           arguments: [source, dimension, day.ordinal])
            for (tenant, value) in values where tenant != UsageValue.total {
                try db.execute(sql: "INSERT INTO usage_tenant_daily (source, dimension, day, tenant, value) VALUES (?, ?, ?, ?, ?)",
                               arguments: [source, dimension, day.ordinal, tenant, value])
            }
            // Counted back from the newest billed day when the clock is past it (a clock that
            // jumped ahead must not prune the history forecasts still fit), as billing is.
            let newest = min(day, try PruneReference(db, source: nil, now: fetchedAt).day)
            try db.execute(sql: "DELETE FROM usage_daily WHERE source = ? AND dimension = ? AND day < ?",
                           arguments: [source, dimension, newest.adding(days: -retentionDays).description])
            try db.execute(sql: "DELETE FROM usage_tenant_daily WHERE source = ? AND dimension = ? AND day < ?",
                           arguments: [source, dimension, newest.adding(days: -retentionDays).ordinal])
        }
    }

    /// Deletes the values and daily totals of usage queries no longer in the config once their
    /// last poll is `graceDays` old (counted as `pruneRemovedSources` counts; 0: at once).
    /// Returns the rows deleted per query.
    package func pruneRemovedUsage(keeping configured: Set<UsageReference>, now: Date, graceDays: Int) async throws -> [UsageReference: Int] {
        try await writer.write { db in
            var lastPoll: [UsageReference: Double] = [:]
            for table in ["usage_values", "usage_daily", "usage_tenant_daily"] {
                for row in try Row.fetchAll(db, sql: "SELECT DISTINCT source, dimension FROM \(table)") {
                    guard let usage = String.fromDatabaseValue(row[0] as DatabaseValue),
                          let dimension = String.fromDatabaseValue(row[1] as DatabaseValue) else { continue }
                    let reference = UsageReference(usage: usage, dimension: dimension)
                    if !configured.contains(reference) { lastPoll[reference] = -.infinity }
                }
            }
            guard !lastPoll.isEmpty else { return [:] }
            for row in try Row.fetchAll(db, sql: "SELECT source, dimension, MAX(fetched_at) FROM usage_values GROUP BY source, dimension") {
                guard let usage = String.fromDatabaseValue(row[0] as DatabaseValue), let dimension = String.fromDatabaseValue(row[1] as DatabaseValue),
                      let fetched = Double.fromDatabaseValue(row[2] as DatabaseValue) else { continue }
                let reference = UsageReference(usage: usage, dimension: dimension)
                if lastPoll[reference] != nil { lastPoll[reference] = fetched }
            }
            let cutoff = try PruneReference(db, source: nil, now: now).time(daysBefore: graceDays)
            var deleted: [UsageReference: Int] = [:]
            for (reference, fetched) in lastPoll where graceDays == 0 || fetched < cutoff {
                var rows = 0
                for table in ["usage_values", "usage_daily", "usage_tenant_daily"] {
                    try db.execute(sql: "DELETE FROM \(table) WHERE source = ? AND dimension = ?", arguments: [reference.usage, reference.dimension])
                    rows += db.changesCount
                }
                deleted[reference] = rows
            }
            return deleted
        }
    }

    /// Each usage query's last good values and when they were fetched.
    package func usageValues() async throws -> [UsageReference: (values: [String: Double], fetchedAt: Date)] {
        try await writer.read { db in
            var result: [UsageReference: (values: [String: Double], fetchedAt: Date)] = [:]
            // Read leniently: a row another version or a hand edit left NULL or mistyped is skipped,
            // never a trap at start (the caller drops values that are not finite).
            for row in try Row.fetchAll(db, sql: "SELECT source, dimension, tenant, value, fetched_at FROM usage_values") {
                guard let source = String.fromDatabaseValue(row[0] as DatabaseValue), let dimension = String.fromDatabaseValue(row[1] as DatabaseValue),
                      let tenant = String.fromDatabaseValue(row[2] as DatabaseValue), let value = Double.fromDatabaseValue(row[3] as DatabaseValue),
                      let fetchedAt = Double.fromDatabaseValue(row[4] as DatabaseValue), fetchedAt.isFinite else { continue }
                let key = UsageReference(usage: source, dimension: dimension)
                var entry = result[key] ?? ([:], Date(timeIntervalSince1970: fetchedAt))
                entry.values[tenant] = value
                result[key] = entry
            }
            return result
        }
    }

    /// One usage query's daily totals from `first` on, oldest first.
    package func usageHistory(_ reference: UsageReference, from first: LocalDay) async throws -> [(day: LocalDay, value: Double)] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT day, value FROM usage_daily WHERE source = ? AND dimension = ? AND day >= ? ORDER BY day",
                             arguments: [reference.usage, reference.dimension, first.description]).compactMap { row in
                guard let text = String.fromDatabaseValue(row[0] as DatabaseValue), let day = LocalDay(text),
                      let value = Double.fromDatabaseValue(row[1] as DatabaseValue), UsageValue.isSane(value) else { return nil }
                return (day, value)
            }
        }
    }

    /// Each usage query's per-tenant values by day, from `first` through `last`, and its last
    /// stored day before `first` (the values in force on `first` until a poll that day); the
    /// day's total under `UsageValue.total`.
    package func usageTenantDays(from first: LocalDay, through last: LocalDay) async throws -> [UsageReference: [LocalDay: [String: Double]]] {
        try await writer.read { db in
            var result: [UsageReference: [LocalDay: [String: Double]]] = [:]
            // Read leniently, as `usageValues` is: a row another version left mistyped is skipped.
            for row in try Row.fetchAll(db, sql: """
                SELECT source, dimension, day, tenant, value FROM usage_tenant_daily AS u
                WHERE day BETWEEN ? AND ?
                   OR day = (SELECT MAX(day) FROM usage_tenant_daily AS v WHERE v.source = u.source AND v.dimension = u.dimension AND v.day < ?)
                """, arguments: [first.ordinal, last.ordinal, first.ordinal]) {
                guard let source = String.fromDatabaseValue(row[0] as DatabaseValue), let dimension = String.fromDatabaseValue(row[1] as DatabaseValue),
                      let ordinal = Int.fromDatabaseValue(row[2] as DatabaseValue), let tenant = String.fromDatabaseValue(row[3] as DatabaseValue),
                      let value = Double.fromDatabaseValue(row[4] as DatabaseValue), UsageValue.isSane(value) else { continue }
                result[UsageReference(usage: source, dimension: dimension), default: [:]][LocalDay(ordinal: ordinal), default: [:]][tenant] = value
            }
            // Each day's total (every value of the day's last poll summed, a row naming no
            // tenant included) under `UsageValue.total`: what a pool's capacity reads.
            for row in try Row.fetchAll(db, sql: """
                SELECT source, dimension, day, value FROM usage_daily AS u
                WHERE day BETWEEN ? AND ?
                   OR day = (SELECT MAX(day) FROM usage_daily AS v WHERE v.source = u.source AND v.dimension = u.dimension AND v.day < ?)
                """, arguments: [first.description, last.description, first.description]) {
                guard let source = String.fromDatabaseValue(row[0] as DatabaseValue), let dimension = String.fromDatabaseValue(row[1] as DatabaseValue),
                      let text = String.fromDatabaseValue(row[2] as DatabaseValue), let day = LocalDay(text),
                      let value = Double.fromDatabaseValue(row[3] as DatabaseValue), UsageValue.isSane(value) else { continue }
                result[UsageReference(usage: source, dimension: dimension), default: [:]][day, default: [:]][UsageValue.total] = value
            }
            return result
        }
    }
}
