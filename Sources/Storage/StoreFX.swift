import CostModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// The bank's exchange rate publications, per day they are published for.
extension Store {
    /// Records the bank's rates published for `day` (replacing that day's) and when they were
    /// fetched; publications before `keepFrom` go, except each currency's last one before it,
    /// which is still in force on `keepFrom`.
    package func saveFXRates(_ rates: [Currency: Decimal], day: LocalDay, fetchedAt: Date, keepFrom: LocalDay) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM fx_rates")
            try db.execute(sql: "DELETE FROM fx_daily WHERE day = ?", arguments: [day.ordinal])
            for (currency, rate) in rates {
                try db.execute(sql: "INSERT INTO fx_rates (currency, rate, fetched_at) VALUES (?, ?, ?)",
                               arguments: [currency.code, rate.plainString, fetchedAt.timeIntervalSince1970])
                try db.execute(sql: "INSERT INTO fx_daily (day, currency, rate) VALUES (?, ?, ?)",
                               arguments: [day.ordinal, currency.code, rate.plainString])
            }
            try db.execute(sql: """
                DELETE FROM fx_daily WHERE day < ?
                  AND day < (SELECT MAX(older.day) FROM fx_daily AS older WHERE older.currency = fx_daily.currency AND older.day < ?)
                """, arguments: [keepFrom.ordinal, keepFrom.ordinal])
        }
    }

    /// The latest fetched rates and when they were fetched.
    package func fxRates() async throws -> (rates: [Currency: Decimal], fetchedAt: Date)? {
        try await writer.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT currency, rate, fetched_at FROM fx_rates")
            guard let first = rows.first else { return nil }
            var rates: [Currency: Decimal] = [:]
            for row in rows { if let rate = Decimal.exact(row[1] as String) { rates[Currency(row[0] as String)] = rate } }
            return (rates, Date(timeIntervalSince1970: first[2]))
        }
    }

    /// Every stored publication: the rates the bank set for each day.
    package func fxPublications() async throws -> [LocalDay: [Currency: Decimal]] {
        try await writer.read { db in
            var result: [LocalDay: [Currency: Decimal]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT day, currency, rate FROM fx_daily") {
                guard let ordinal = row[0] as Int?, let code = row[1] as String?, let text = row[2] as String?,
                      let rate = Decimal.exact(text), rate > 0 else { continue }
                result[LocalDay(ordinal: ordinal), default: [:]][Currency(code)] = rate
            }
            return result
        }
    }
}
