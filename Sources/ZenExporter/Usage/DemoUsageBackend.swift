import CostModel
import Foundation
import GRDB
import SourceKit

/// The demo's usage source: a CHOM-like hosting application's database (tenants, sites, VPS,
/// databases), written as an SQLite file at `path` and rewritten once a day with that day's
/// figures (storage and databases grow by 0.2 % of their base a day), then queried by the configured SQL like any `sqlite`
/// source. Its `tenants` table holds e-mails and company names on purpose: the shipped
/// queries select IDs, and a query that selected e-mails would see them counted as "other".
struct DemoUsageBackend: UsageBackend {
    var path: String

    /// Twelve tenants: ID, sites' storage in GiB and monthly bandwidth in GiB, VPS, DB size in GiB, e-mails a month.
    static let tenants: [(id: String, storageGiB: Double, bandwidthGiB: Double, vps: Int, databaseGiB: Double, emails: Int)] = [
        ("t-1001", 120, 900, 3, 14, 42_000), ("t-1002", 64, 310, 2, 6, 9_500), ("t-1003", 18, 75, 1, 1.5, 1_200),
        ("t-1004", 240, 2_400, 4, 30, 120_000), ("t-1005", 9, 20, 1, 0.5, 300), ("t-1006", 45, 160, 1, 4, 6_100),
        ("t-1007", 33, 140, 1, 2, 2_500), ("t-1008", 150, 1_100, 2, 12, 18_000), ("t-1009", 6, 12, 0, 0.25, 90),
        ("t-1010", 72, 500, 2, 8, 15_500), ("t-1011", 27, 95, 1, 2.5, 3_300), ("t-1012", 12, 40, 0, 1, 700),
    ]

    /// Plans and their monthly prices in roubles: what each tenant pays (`revenue:` reads them).
    /// A tenant's plan follows its VPS: starter up to one, pro two, business more. Priced so
    /// that most tenants make money and the two heaviest on shared storage for their plan
    /// (t-1004, t-1008) cost more than they pay.
    static let plans: [(name: String, price: Decimal)] = [("starter", 4_900), ("pro", 8_900), ("business", 14_900)]

    static func plan(vps: Int) -> String { vps <= 1 ? "starter" : vps == 2 ? "pro" : "business" }
    /// Bumped when the tables change, so that a file written by an older version is rewritten.
    static let schema = 2

    /// The growth reference day: storage is the base on it and 0.2 % of the base more each day since.
    static let baseDay = LocalDay(year: 2026, month: 1, day: 1)

    func run(_ query: UsageSourceConfig.Query, timeout: Duration) async throws -> [UsageRow] {
        let today = LocalDay(Date(), in: TimeZone(identifier: "UTC") ?? .current)
        do {
            try Self.writeIfStale(path: path, day: today)
        } catch {
            throw SyncFailure(endpoint: query.dimension, reason: "connect", message: "cannot write the demo database \(path): \(error)")
        }
        return try await SQLiteUsageBackend(path: path).run(query, timeout: timeout)
    }

    /// Writes the database for `day` unless the file already holds it; a new file replaces
    /// the old one atomically, so a reader never sees half of it.
    static func writeIfStale(path: String, day: LocalDay) throws {
        if FileManager.default.fileExists(atPath: path), let existing = try? DatabaseQueue(path: path, configuration: readOnly),
           let written = try? existing.read({ try String.fetchOne($0, sql: "SELECT day FROM demo_meta WHERE schema = ?", arguments: [schema]) }), written == day.description {
            try? existing.close()
            return
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(".demo-app-\(UUID().uuidString).db").path
        let database = try DatabaseQueue(path: temporary)
        let growth = 1 + 0.002 * Double(max(0, baseDay.days(until: day)))
        try database.write { db in
            try db.execute(sql: """
                CREATE TABLE demo_meta (day TEXT NOT NULL, schema INTEGER NOT NULL);
                CREATE TABLE plans (name TEXT PRIMARY KEY, price_monthly NUMERIC NOT NULL);
                CREATE TABLE tenants (id TEXT PRIMARY KEY, company TEXT NOT NULL, contact_email TEXT NOT NULL, plan TEXT NOT NULL REFERENCES plans(name));
                CREATE TABLE sites (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), domain TEXT NOT NULL,
                                    storage_used_bytes INTEGER NOT NULL, bandwidth_bytes_30d INTEGER NOT NULL, emails_sent_30d INTEGER NOT NULL);
                CREATE TABLE vps (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), vcpus INTEGER NOT NULL, memory_mb INTEGER NOT NULL);
                CREATE TABLE databases (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), size_bytes INTEGER NOT NULL);
                """)
            try db.execute(sql: "INSERT INTO demo_meta (day, schema) VALUES (?, ?)", arguments: [day.description, schema])
            for plan in plans {
                try db.execute(sql: "INSERT INTO plans VALUES (?, ?)", arguments: [plan.name, plan.price.plainString])
            }
            let gib = 1_073_741_824.0
            for (index, tenant) in tenants.enumerated() {
                try db.execute(sql: "INSERT INTO tenants VALUES (?, ?, ?, ?)",
                               arguments: [tenant.id, "Customer \(index + 1) LLC", "owner\(index + 1)@customer\(index + 1).example", plan(vps: tenant.vps)])
                // Two sites each, split 3:1 (the second takes the remainder), so the query's SUM has
                // something to add and the tenant's totals are whole numbers.
                let totals = [Int64((tenant.storageGiB * growth * gib).rounded()), Int64((tenant.bandwidthGiB * gib).rounded()), Int64(tenant.emails)]
                let first = totals.map { $0 * 3 / 4 }
                for (site, values) in [(1, first), (2, zip(totals, first).map { $0 - $1 })] {
                    try db.execute(sql: "INSERT INTO sites (tenant_id, domain, storage_used_bytes, bandwidth_bytes_30d, emails_sent_30d) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [tenant.id, "site\(site).\(tenant.id).example", values[0], values[1], values[2]])
                }
                for _ in 0..<tenant.vps {
                    try db.execute(sql: "INSERT INTO vps (tenant_id, vcpus, memory_mb) VALUES (?, 2, 4096)", arguments: [tenant.id])
                }
                try db.execute(sql: "INSERT INTO databases (tenant_id, size_bytes) VALUES (?, ?)",
                               arguments: [tenant.id, Int64((tenant.databaseGiB * growth * gib).rounded())])
            }
        }
        try database.close()
        if rename(temporary, path) != 0 {
            try? FileManager.default.removeItem(atPath: temporary)
            throw CocoaError(.fileWriteUnknown)
        }
    }

    private static var readOnly: Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        return configuration
    }
}
