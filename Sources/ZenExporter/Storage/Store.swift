import CostModel
import Foundation
import GRDB

/// The daemon's own memory: every sync as a snapshot, each resource's state in it, and the
/// daily cost history that month-to-date and forecasts read. SQLite in WAL mode; one sync is
/// one transaction, so a crash mid-sync leaves the previous snapshot intact.
final class Store: Sendable {
    private let writer: any DatabaseWriter

    /// Opens (creating if needed) the database file and applies migrations.
    init(path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "infrazen"
        writer = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(writer)
    }

    /// A private in-memory database, for `render` and tests that need no file.
    init() throws {
        writer = try DatabaseQueue()
        try Self.migrator.migrate(writer)
    }

    func close() throws {
        if let pool = writer as? DatabasePool { try pool.close() }
        if let queue = writer as? DatabaseQueue { try queue.close() }
    }

    // MARK: Writing

    /// Commits one successful sync: the snapshot, every resource's state and change, the
    /// resources table, and the daily costs of the days the source reported (replacing
    /// those days, keeping older history). Returns the snapshot's id.
    @discardableResult
    func commit(_ sync: SyncRecord, retentionDays: Int) async throws -> Int64 {
        let extras = try JSONEncoder.store.encode(sync.extras)
        return try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO sync_snapshots (source, provider, started_at, finished_at, status, created, updated, deleted, unchanged, extras)
                VALUES (?, ?, ?, ?, 'ok', ?, ?, ?, ?, ?)
                """, arguments: [sync.source, sync.provider, sync.startedAt.timeIntervalSince1970, sync.finishedAt.timeIntervalSince1970,
                                 sync.count(.created), sync.count(.updated), sync.count(.deleted), sync.count(.unchanged), String(decoding: extras, as: UTF8.self)])
            let snapshotID = db.lastInsertedRowID
            for change in sync.changes {
                let state = try change.current.map { String(decoding: try JSONEncoder.store.encode($0), as: UTF8.self) }
                let previous = try change.previous.map { String(decoding: try JSONEncoder.store.encode($0), as: UTF8.self) }
                let rate = (change.current ?? change.previous)?.rate
                try db.cachedStatement(sql: """
                    INSERT INTO resource_states (snapshot_id, resource_id, action, cost_changed, status_changed, config_changed,
                        changed_fields, cost_per_hour, currency, previous_state, current_state)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [snapshotID, change.resourceID, change.action.rawValue, change.costChanged, change.statusChanged,
                                     change.configChanged, change.changedFields.joined(separator: ","),
                                     rate?.perHour.amount.plainString, rate?.currency.code, previous, state])
                try upsertResource(db, source: sync.source, change: change, snapshotID: snapshotID, state: state)
            }
            try replaceDailyCosts(db, source: sync.source, costs: sync.dailyCosts)
            try prune(db, source: sync.source, olderThan: sync.finishedAt.addingTimeInterval(-Double(retentionDays) * 86_400))
            return snapshotID
        }
    }

    /// Records a failed sync so the history shows it; the last good snapshot stays the one served.
    func recordFailure(source: String, provider: String, startedAt: Date, finishedAt: Date, error: String) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO sync_snapshots (source, provider, started_at, finished_at, status, error)
                VALUES (?, ?, ?, ?, 'error', ?)
                """, arguments: [source, provider, startedAt.timeIntervalSince1970, finishedAt.timeIntervalSince1970, error])
        }
    }

    private func upsertResource(_ db: Database, source: String, change: ResourceChange, snapshotID: Int64, state: String?) throws {
        guard let resource = change.current ?? change.previous else { return }
        if change.action == .deleted {
            try db.execute(sql: "UPDATE resources SET deleted_in_snapshot = ? WHERE source = ? AND resource_id = ?",
                           arguments: [snapshotID, source, resource.id])
            return
        }
        try db.cachedStatement(sql: """
            INSERT INTO resources (source, resource_id, provider, name, resource_type, first_seen_snapshot, last_seen_snapshot, state)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (source, resource_id) DO UPDATE SET
                provider = excluded.provider, name = excluded.name, resource_type = excluded.resource_type,
                last_seen_snapshot = excluded.last_seen_snapshot, deleted_in_snapshot = NULL, state = excluded.state
            """).execute(arguments: [source, resource.id, resource.provider, resource.name, resource.resourceType, snapshotID, snapshotID, state])
    }

    private func replaceDailyCosts(_ db: Database, source: String, costs: [DailyCost]) throws {
        guard let first = costs.map(\.day).min(), let last = costs.map(\.day).max() else { return }
        try db.execute(sql: "DELETE FROM daily_costs WHERE source = ? AND day BETWEEN ? AND ?",
                       arguments: [source, first.description, last.description])
        let statement = try db.makeStatement(sql: """
            INSERT INTO daily_costs (source, day, provider, account, service, category, resource_id, currency, amount)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (source, day, resource_id, service, currency) DO UPDATE SET amount = excluded.amount
            """)
        // Rows for the same key add up: a provider may bill one resource in several lines a day.
        var merged: [DailyCostKey: DailyCost] = [:]
        for cost in costs {
            let key = DailyCostKey(day: cost.day, resourceID: cost.resourceID, service: cost.service, currency: cost.cost.currency)
            if var existing = merged[key] {
                existing.cost.amount += cost.cost.amount
                merged[key] = existing
            } else {
                merged[key] = cost
            }
        }
        for cost in merged.values {
            try statement.execute(arguments: [source, cost.day.description, cost.provider, cost.account, cost.service,
                                              cost.category.rawValue, cost.resourceID, cost.cost.currency.code, cost.cost.amount.plainString])
        }
    }

    /// Drops history past retention, but never the newest good snapshot of the source.
    private func prune(_ db: Database, source: String, olderThan cutoff: Date) throws {
        let cutoffDay = LocalDay(cutoff, in: TimeZone(identifier: "UTC") ?? .current).description
        try db.execute(sql: "DELETE FROM daily_costs WHERE source = ? AND day < ?", arguments: [source, cutoffDay])
        try db.execute(sql: """
            DELETE FROM sync_snapshots WHERE source = ? AND finished_at < ?
              AND id <> (SELECT MAX(id) FROM sync_snapshots WHERE source = ? AND status = 'ok')
            """, arguments: [source, cutoff.timeIntervalSince1970, source])
    }

    // MARK: Reading

    /// The newest good snapshot of a source, as the daemon serves it after a restart.
    func latestSnapshot(source: String) async throws -> RestoredSnapshot? {
        try await writer.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT id, finished_at, extras, created, updated, deleted, unchanged FROM sync_snapshots
                WHERE source = ? AND status = 'ok' ORDER BY id DESC LIMIT 1
                """, arguments: [source]) else { return nil }
            let id: Int64 = row["id"]
            let states = try String.fetchAll(db, sql: """
                SELECT current_state FROM resource_states WHERE snapshot_id = ? AND action <> 'deleted' ORDER BY resource_id
                """, arguments: [id])
            let resources = try states.map { try JSONDecoder().decode(Resource.self, from: Data($0.utf8)) }
            let extrasText: String = row["extras"]
            let extras = try JSONDecoder().decode(SnapshotExtras.self, from: Data(extrasText.utf8))
            var actions: [ChangeAction: Int] = [:]
            for action in ChangeAction.allCases { actions[action] = row[action.rawValue] }
            return RestoredSnapshot(id: id, finishedAt: Date(timeIntervalSince1970: row["finished_at"]),
                                    resources: resources, extras: extras, actions: actions)
        }
    }

    /// Daily costs of a source from `first` on.
    func dailyCosts(source: String, from first: LocalDay) async throws -> [DailyCost] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT day, provider, account, service, category, resource_id, currency, amount FROM daily_costs
                WHERE source = ? AND day >= ? ORDER BY day, resource_id, service
                """, arguments: [source, first.description]).compactMap { row in
                // By position: a name lookup per column and row costs more than the rest of the read.
                guard let day = LocalDay(row[0] as String), let amount = Decimal.exact(row[7] as String) else { return nil }
                return DailyCost(day: day, provider: row[1], resourceID: row[5], service: row[3],
                                 category: CostCategory(rawValue: row[4]) ?? .other, account: row[2],
                                 cost: Money(amount, Currency(row[6] as String)))
            }
        }
    }

    func saveFXRates(_ rates: [Currency: Decimal], fetchedAt: Date) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM fx_rates")
            for (currency, rate) in rates {
                try db.execute(sql: "INSERT INTO fx_rates (currency, rate, fetched_at) VALUES (?, ?, ?)",
                               arguments: [currency.code, rate.plainString, fetchedAt.timeIntervalSince1970])
            }
        }
    }

    func fxRates() async throws -> (rates: [Currency: Decimal], fetchedAt: Date)? {
        try await writer.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT currency, rate, fetched_at FROM fx_rates")
            guard let first = rows.first else { return nil }
            var rates: [Currency: Decimal] = [:]
            for row in rows { if let rate = Decimal.exact(row[1] as String) { rates[Currency(row[0] as String)] = rate } }
            return (rates, Date(timeIntervalSince1970: first[2]))
        }
    }

    // MARK: Usage

    /// Replaces one usage query's values with a successful poll's and records the day's
    /// total (the history capacity forecasts fit), pruning days past the retention.
    func saveUsage(_ values: [String: Double], source: String, dimension: String, fetchedAt: Date, day: LocalDay, retentionDays: Int) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM usage_values WHERE source = ? AND dimension = ?", arguments: [source, dimension])
            for (tenant, value) in values {
                try db.execute(sql: "INSERT INTO usage_values (source, dimension, tenant, value, fetched_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [source, dimension, tenant, value, fetchedAt.timeIntervalSince1970])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO usage_daily (source, dimension, day, value) VALUES (?, ?, ?, ?)",
                           arguments: [source, dimension, day.description, values.values.reduce(0, +)])
            try db.execute(sql: "DELETE FROM usage_daily WHERE source = ? AND dimension = ? AND day < ?",
                           arguments: [source, dimension, day.adding(days: -retentionDays).description])
        }
    }

    /// Each usage query's last good values and when they were fetched.
    func usageValues() async throws -> [UsageReference: (values: [String: Double], fetchedAt: Date)] {
        try await writer.read { db in
            var result: [UsageReference: (values: [String: Double], fetchedAt: Date)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT source, dimension, tenant, value, fetched_at FROM usage_values") {
                let key = UsageReference(usage: row[0], dimension: row[1])
                var entry = result[key] ?? ([:], Date(timeIntervalSince1970: row[4]))
                entry.values[row[2]] = row[3]
                result[key] = entry
            }
            return result
        }
    }

    /// One usage query's daily totals from `first` on, oldest first.
    func usageHistory(_ reference: UsageReference, from first: LocalDay) async throws -> [(day: LocalDay, value: Double)] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT day, value FROM usage_daily WHERE source = ? AND dimension = ? AND day >= ? ORDER BY day",
                             arguments: [reference.usage, reference.dimension, first.description]).compactMap { row in
                LocalDay(row[0] as String).map { ($0, row[1] as Double) }
            }
        }
    }

    func snapshotCount(source: String) async throws -> Int {
        try await writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_snapshots WHERE source = ?", arguments: [source]) ?? 0 }
    }

    // MARK: Schema

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: snapshots, resources, resource states, daily costs") { db in
            try db.execute(sql: """
                CREATE TABLE sync_snapshots (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    source TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    started_at DOUBLE NOT NULL,
                    finished_at DOUBLE NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
                    error TEXT,
                    created INTEGER NOT NULL DEFAULT 0,
                    updated INTEGER NOT NULL DEFAULT 0,
                    deleted INTEGER NOT NULL DEFAULT 0,
                    unchanged INTEGER NOT NULL DEFAULT 0,
                    extras TEXT
                );
                CREATE INDEX sync_snapshots_by_source ON sync_snapshots (source, status, id);
                CREATE TABLE resources (
                    source TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    name TEXT NOT NULL,
                    resource_type TEXT NOT NULL,
                    first_seen_snapshot INTEGER NOT NULL,
                    last_seen_snapshot INTEGER NOT NULL,
                    deleted_in_snapshot INTEGER,
                    state TEXT,
                    PRIMARY KEY (source, resource_id)
                );
                CREATE TABLE resource_states (
                    snapshot_id INTEGER NOT NULL REFERENCES sync_snapshots (id) ON DELETE CASCADE,
                    resource_id TEXT NOT NULL,
                    action TEXT NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'unchanged')),
                    cost_changed BOOLEAN NOT NULL,
                    status_changed BOOLEAN NOT NULL,
                    config_changed BOOLEAN NOT NULL,
                    changed_fields TEXT NOT NULL,
                    cost_per_hour TEXT,
                    currency TEXT,
                    previous_state TEXT,
                    current_state TEXT,
                    PRIMARY KEY (snapshot_id, resource_id)
                );
                CREATE TABLE daily_costs (
                    source TEXT NOT NULL,
                    day TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    account TEXT NOT NULL,
                    service TEXT NOT NULL,
                    category TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    amount TEXT NOT NULL,
                    PRIMARY KEY (source, day, resource_id, service, currency)
                );
                """)
        }
        migrator.registerMigration("v2: exchange rates") { db in
            try db.execute(sql: """
                CREATE TABLE fx_rates (currency TEXT PRIMARY KEY, rate TEXT NOT NULL, fetched_at DOUBLE NOT NULL)
                """)
        }
        migrator.registerMigration("v3: usage values and their daily totals") { db in
            try db.execute(sql: """
                CREATE TABLE usage_values (
                    source TEXT NOT NULL, dimension TEXT NOT NULL, tenant TEXT NOT NULL,
                    value DOUBLE NOT NULL, fetched_at DOUBLE NOT NULL,
                    PRIMARY KEY (source, dimension, tenant)
                );
                CREATE TABLE usage_daily (
                    source TEXT NOT NULL, dimension TEXT NOT NULL, day TEXT NOT NULL, value DOUBLE NOT NULL,
                    PRIMARY KEY (source, dimension, day)
                );
                """)
        }
        return migrator
    }
}

private struct DailyCostKey: Hashable {
    var day: LocalDay
    var resourceID: String
    var service: String
    var currency: Currency
}

/// What one successful sync hands to the store.
struct SyncRecord: Sendable {
    var source: String
    var provider: String
    var startedAt: Date
    var finishedAt: Date
    var changes: [ResourceChange]
    var dailyCosts: [DailyCost]
    var extras: SnapshotExtras

    func count(_ action: ChangeAction) -> Int { changes.count { $0.action == action } }
}

/// The parts of a snapshot that are not per-resource rows.
struct SnapshotExtras: Sendable, Codable {
    var accounts: [AccountBalance] = []
    var utilization: [UtilizationSample] = []
    var capacity: [CapacitySample] = []
    var capacityHistory: [CapacityPoint] = []
    var flavors: [String: [Flavor]] = [:]
    var unclassifiedLineItems = 0

    init(accounts: [AccountBalance] = [], utilization: [UtilizationSample] = [], capacity: [CapacitySample] = [],
         capacityHistory: [CapacityPoint] = [], flavors: [String: [Flavor]] = [:], unclassifiedLineItems: Int = 0) {
        self.accounts = accounts
        self.utilization = utilization
        self.capacity = capacity
        self.capacityHistory = capacityHistory
        self.flavors = flavors
        self.unclassifiedLineItems = unclassifiedLineItems
    }

    init(_ snapshot: SourceSnapshot) {
        self.init(accounts: snapshot.accounts, utilization: snapshot.utilization, capacity: snapshot.capacity,
                  capacityHistory: snapshot.capacityHistory, flavors: snapshot.flavors, unclassifiedLineItems: snapshot.unclassifiedLineItems)
    }

    /// Snapshots written before a field existed decode with its default.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        accounts = try container.decodeIfPresent([AccountBalance].self, forKey: .accounts) ?? []
        utilization = try container.decodeIfPresent([UtilizationSample].self, forKey: .utilization) ?? []
        capacity = try container.decodeIfPresent([CapacitySample].self, forKey: .capacity) ?? []
        capacityHistory = try container.decodeIfPresent([CapacityPoint].self, forKey: .capacityHistory) ?? []
        flavors = try container.decodeIfPresent([String: [Flavor]].self, forKey: .flavors) ?? [:]
        unclassifiedLineItems = try container.decodeIfPresent(Int.self, forKey: .unclassifiedLineItems) ?? 0
    }
}

struct RestoredSnapshot: Sendable {
    var id: Int64
    var finishedAt: Date
    var resources: [Resource]
    var extras: SnapshotExtras
    var actions: [ChangeAction: Int]
}

extension JSONEncoder {
    /// Sorted keys: the same state always serialises to the same text.
    static var store: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }
}
