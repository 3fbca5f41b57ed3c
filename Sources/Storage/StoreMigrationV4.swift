import CostModel
import Foundation
import GRDB

/// From v3 (amounts as decimal text, one `daily_costs` row per resource and day keyed by
/// strings, each resource's state as JSON) to v4:
/// - `cost_lines`: one row per resource × service × currency of a source;
/// - `resource_daily`: per source and day (`LocalDay.ordinal`), the day's cost lines and
///   micro-units packed (see `ResourceDay`);
/// - `scope_daily`: per-scope sums that the evaluation reads, summed again at the next start
///   (they need the allocation rules, which the database does not know);
/// - `resources` by column; `sync_snapshots.fingerprint`; `meta`.
/// Every stored daily cost and resource is carried over.
package enum StoreMigrationV4 {
    package static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE cost_lines (
                id INTEGER PRIMARY KEY,
                source TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                service TEXT NOT NULL,
                currency TEXT NOT NULL,
                provider TEXT NOT NULL,
                account TEXT NOT NULL,
                category TEXT NOT NULL,
                UNIQUE (source, resource_id, service, currency)
            );
            CREATE TABLE resource_daily (
                source TEXT NOT NULL,
                day INTEGER NOT NULL,
                lines BLOB NOT NULL,
                micros BLOB NOT NULL,
                PRIMARY KEY (source, day)
            ) WITHOUT ROWID;
            CREATE TABLE scope_daily (
                source TEXT NOT NULL,
                day INTEGER NOT NULL,
                provider TEXT NOT NULL,
                account TEXT NOT NULL,
                service TEXT NOT NULL,
                category TEXT NOT NULL,
                tenant TEXT NOT NULL,
                team TEXT NOT NULL,
                currency TEXT NOT NULL,
                micros INTEGER NOT NULL,
                PRIMARY KEY (source, day, provider, account, service, category, tenant, team, currency)
            ) WITHOUT ROWID;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            ALTER TABLE sync_snapshots ADD COLUMN fingerprint TEXT;
            """)
        try moveDailyCosts(db)
        try moveResources(db)
    }

    private static func moveDailyCosts(_ db: Database) throws {
        var lines: [String: Int64] = [:]
        let insertLine = try db.makeStatement(sql: """
            INSERT INTO cost_lines (source, resource_id, service, currency, provider, account, category) VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        let insertDay = try db.makeStatement(sql: "INSERT INTO resource_daily (source, day, lines, micros) VALUES (?, ?, ?, ?)")
        // One packed row per source and day, written when the next day starts.
        var pending: [String: [(line: Int64, micros: Int64)]] = [:]
        var pendingDay: LocalDay?
        func flush() throws {
            guard let day = pendingDay else { return }
            for (source, rows) in pending {
                let packed = ResourceDay(rows)
                try insertDay.execute(arguments: [source, day.ordinal, packed.lines, packed.micros])
            }
            pending = [:]
        }
        let rows = try Row.fetchCursor(db, sql: """
            SELECT source, day, provider, account, service, category, resource_id, currency, amount FROM daily_costs ORDER BY day
            """)
        while let row = try rows.next() {
            let source: String = row[0], resourceID: String = row[6], service: String = row[4], currency: String = row[7]
            guard let day = LocalDay(row[1] as String), let micros = Micros.parse(row[8] as String) else { continue }
            if day != pendingDay {
                try flush()
                pendingDay = day
            }
            let key = "\(source)\u{1F}\(ResourceColumns.lineKey(resourceID, service, currency))"
            let line: Int64
            if let known = lines[key] {
                line = known
            } else {
                try insertLine.execute(arguments: [source, resourceID, service, currency, row[2], row[3], row[5]])
                line = db.lastInsertedRowID
                lines[key] = line
            }
            pending[source, default: []].append((line, micros))
        }
        try flush()
        try db.execute(sql: "DROP TABLE daily_costs")
    }

    private static func moveResources(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE resources_v4 (
                source TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                name TEXT NOT NULL,
                resource_type TEXT NOT NULL,
                service TEXT NOT NULL,
                category TEXT NOT NULL,
                region TEXT NOT NULL,
                account TEXT NOT NULL,
                status TEXT NOT NULL,
                flavor TEXT NOT NULL,
                tags TEXT NOT NULL,
                rate_amount TEXT NOT NULL,
                rate_currency TEXT NOT NULL,
                rate_period_hours TEXT NOT NULL,
                zombie BOOLEAN NOT NULL,
                orphan BOOLEAN NOT NULL,
                folded TEXT NOT NULL,
                first_seen_snapshot INTEGER NOT NULL,
                last_seen_snapshot INTEGER NOT NULL,
                deleted_in_snapshot INTEGER,
                PRIMARY KEY (source, resource_id)
            )
            """)
        let insert = try db.makeStatement(sql: """
            INSERT INTO resources_v4 (source, resource_id, provider, name, resource_type, service, category, region, account, status,
                flavor, tags, rate_amount, rate_currency, rate_period_hours, zombie, orphan, folded, first_seen_snapshot, last_seen_snapshot,
                deleted_in_snapshot)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let decoder = JSONDecoder()
        let rows = try Row.fetchCursor(db, sql: """
            SELECT source, state, first_seen_snapshot, last_seen_snapshot, deleted_in_snapshot FROM resources WHERE state IS NOT NULL
            """)
        while let row = try rows.next() {
            guard let state = row[1] as String?, let resource = try? decoder.decode(Resource.self, from: Data(state.utf8)) else { continue }
            try insert.execute(arguments: [
                row[0], resource.id, resource.provider, resource.name, resource.resourceType, resource.service, resource.category.rawValue,
                resource.region, resource.account, resource.status.value, resource.flavor, ResourceColumns.tags(resource.tags),
                resource.rate.amount.plainString, resource.rate.currency.code, resource.rate.periodHours.plainString, resource.isZombie,
                resource.isOrphan, resource.folded.joined(separator: ResourceColumns.separator), row[2], row[3], row[4],
            ])
        }
        try db.execute(sql: "DROP TABLE resources; ALTER TABLE resources_v4 RENAME TO resources")
    }
}
