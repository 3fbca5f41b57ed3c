import CostModel
import Foundation
import GRDB

/// From v6 to v7, for the commit of a large first sync (docs/benchmarks.md):
/// - `resource_sets`: each source's current resources packed in one row (`ResourceSet`),
///   instead of a `resources` row per resource. Resources that were deleted are not carried
///   over: what they were stays in `resource_states`.
/// - `cost_lines` without the unique index of (source, resource, service, currency): the
///   lines of a source are read whole at each sync (`Store.lineIDs`) and only that code adds
///   them, so it keeps them unique; the index cost a random B-tree insert per line. An index
///   by source, appended to in rowid order, finds them.
package enum StoreMigrationV7 {
    package static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE resource_sets (source TEXT PRIMARY KEY, resources BLOB NOT NULL);
            CREATE TABLE cost_lines_v7 (
                id INTEGER PRIMARY KEY,
                source TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                service TEXT NOT NULL,
                currency TEXT NOT NULL,
                provider TEXT NOT NULL,
                account TEXT NOT NULL,
                category TEXT NOT NULL
            );
            INSERT INTO cost_lines_v7 SELECT id, source, resource_id, service, currency, provider, account, category FROM cost_lines;
            DROP TABLE cost_lines;
            ALTER TABLE cost_lines_v7 RENAME TO cost_lines;
            CREATE INDEX cost_lines_by_source ON cost_lines (source);
            """)
        try packResources(db)
        try db.execute(sql: "DROP TABLE resources")
    }

    /// One source at a time (the rows come ordered by source): a large estate's resources are
    /// held once, not all sources' together.
    private static func packResources(_ db: Database) throws {
        var source: String?
        var resources: [Resource] = []
        func flush() throws {
            guard let source else { return }
            try db.execute(sql: "INSERT INTO resource_sets (source, resources) VALUES (?, ?)", arguments: [source, ResourceSet.pack(resources)])
            resources = []
        }
        let rows = try Row.fetchCursor(db, sql: """
            SELECT source, resource_id, provider, name, resource_type, service, category, region, account, status, flavor, tags,
                   rate_amount, rate_currency, rate_period_hours, zombie, orphan, folded, project
            FROM resources WHERE deleted_in_snapshot IS NULL ORDER BY source, resource_id
            """)
        while let row = try rows.next() {
            guard let amount = ResourceColumns.decimal(row[12]), let period = ResourceColumns.decimal(row[14]) else { continue }
            let folded: String = row[17], rowSource: String = row[0]
            if rowSource != source {
                try flush()
                source = rowSource
            }
            resources.append(Resource(
                provider: row[2], id: row[1], name: row[3], resourceType: row[4], service: row[5],
                category: CostCategory(rawValue: row[6]) ?? .other, region: row[7], account: row[8],
                status: ResourceStatus(provider: row[9]), flavor: row[10], tags: ResourceColumns.tags(row[11] as String),
                rate: Rate(amount: amount, currency: Currency(row[13] as String), periodHours: period),
                isZombie: row[15], isOrphan: row[16],
                folded: folded.isEmpty ? [] : folded.components(separatedBy: ResourceColumns.separator), project: row[18]))
        }
        try flush()
    }
}
