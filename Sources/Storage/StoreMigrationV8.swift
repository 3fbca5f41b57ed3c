import CostModel
import Foundation
import GRDB

/// From v7 to v8, for the store thread of a large first sync (docs/benchmarks.md):
/// `cost_line_sets`, each source's cost lines packed in one row (`CostLineSet`), instead of a
/// `cost_lines` row per line. Lines keep their IDs, which the per-resource days refer to.
package enum StoreMigrationV8 {
    package static func migrate(_ db: Database) throws {
        try db.execute(sql: "CREATE TABLE cost_line_sets (source TEXT PRIMARY KEY, lines BLOB NOT NULL)")
        // One source at a time (the rows come ordered by source): a large estate's lines are
        // held once, not all sources' together.
        var source: String?
        var entries: [CostLineSet.Entry] = []
        func flush() throws {
            guard let source else { return }
            try db.execute(sql: "INSERT INTO cost_line_sets (source, lines) VALUES (?, ?)", arguments: [source, CostLineSet.pack(entries)])
            entries = []
        }
        let rows = try Row.fetchCursor(db, sql: """
            SELECT source, id, resource_id, service, currency, provider, account, category FROM cost_lines ORDER BY source, id
            """)
        while let row = try rows.next() {
            let rowSource: String = row[0]
            if rowSource != source {
                try flush()
                source = rowSource
            }
            entries.append(CostLineSet.Entry(id: row[1], line: DailyCostTable.Line(
                resourceID: row[2], service: row[3], currency: Currency(row[4] as String), provider: row[5], account: row[6],
                category: CostCategory(rawValue: row[7]) ?? .other)))
        }
        try flush()
        try db.execute(sql: "DROP TABLE cost_lines")
    }
}
