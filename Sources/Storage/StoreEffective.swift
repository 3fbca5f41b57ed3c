import CostModel
import Foundation
import GRDB
import GRDBSQLite

/// The amortised (FOCUS EffectiveCost) spend of each source that reports it, per scope
/// (provider × account × service × category × currency) and day: what
/// `infrazen_effective_cost_month_to_date` sums beside the billed month to date. Written in the
/// sync's transaction (`commit`), replacing the days the snapshot covers.
extension Store {
    static func replaceEffectiveDaily(_ db: Database, source: String, rows: [DailyCost], from first: LocalDay, through last: LocalDay) throws {
        try db.execute(sql: "DELETE FROM effective_daily WHERE source = ? AND day BETWEEN ? AND ?", arguments: [source, first.ordinal, last.ordinal])
        let insert = try db.makeStatement(sql: """
            INSERT INTO effective_daily (source, day, provider, account, service, category, currency, micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (source, day, provider, account, service, category, currency) DO UPDATE SET micros = micros + excluded.micros
            """)
        for row in rows where row.day >= first && row.day <= last {
            try FastStatement.run(insert, db) { sqlite in
                FastStatement.bind(sqlite, 1, source)
                sqlite3_bind_int64(sqlite, 2, Int64(row.day.ordinal))
                FastStatement.bind(sqlite, 3, row.provider)
                FastStatement.bind(sqlite, 4, row.account)
                FastStatement.bind(sqlite, 5, row.service)
                FastStatement.bind(sqlite, 6, row.category.rawValue)
                FastStatement.bind(sqlite, 7, row.currency.code)
                sqlite3_bind_int64(sqlite, 8, row.micros)
            }
        }
    }

    /// A source's effective spend per scope and day from `first` on.
    package func effectiveDays(source: String, from first: LocalDay) async throws -> [DailyCost] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT day, provider, account, service, category, currency, micros FROM effective_daily WHERE source = ? AND day >= ?
                ORDER BY day
                """, arguments: [source, first.ordinal]).compactMap { row in
                // Read leniently, as the usage tables are: a row another version left mistyped is skipped.
                guard let day = Int.fromDatabaseValue(row[0] as DatabaseValue), let provider = String.fromDatabaseValue(row[1] as DatabaseValue),
                      let account = String.fromDatabaseValue(row[2] as DatabaseValue), let service = String.fromDatabaseValue(row[3] as DatabaseValue),
                      let category = String.fromDatabaseValue(row[4] as DatabaseValue).flatMap(CostCategory.init(rawValue:)),
                      let currency = String.fromDatabaseValue(row[5] as DatabaseValue), let micros = Int64.fromDatabaseValue(row[6] as DatabaseValue)
                else { return nil }
                return DailyCost(day: LocalDay(ordinal: day), provider: provider, resourceID: "", service: service, category: category,
                                 account: account, micros: micros, currency: Currency(currency))
            }
        }
    }
}
