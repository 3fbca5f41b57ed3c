import CostModel
import Foundation
import GRDB
import Logging
import NIOCore
@testable import Storage
import Testing
@testable import ZenExporter

/// A usage query answering ±Inf, NaN, 1e300 or a negative used to trap in the evaluation, and
/// being stored first, trap again at every restart. Now such a row is counted and never stored.
@Suite("Non-finite and absurd numbers", .serialized)
struct BadValuesTests {
    static let reference = UsageReference(usage: "app", dimension: "storage_bytes")

    /// An operator database with one `usage(tenant, value)` table, and an exporter reading it
    /// into a database file of its own, spreading shared storage by it.
    static func setUp(_ directory: URL, query: String = "SELECT tenant, value FROM usage") throws -> (app: String, config: ExporterConfig, store: String) {
        let app = directory.appendingPathComponent("app.db").path
        let database = try DatabaseQueue(path: app)
        try database.write { db in
            try db.execute(sql: "CREATE TABLE usage (tenant TEXT, value REAL)")
            try db.execute(sql: "INSERT INTO usage VALUES ('t-1', 100), ('t-2', 300), ('t-3', 600)")
        }
        try database.close()
        let config = try ConfigLoader.parse("""
            sources:
              - {name: demo, type: demo}
            usage:
              - name: app
                type: sqlite
                path: \(app)
                timeout: 60s
                queries:
                  storage_bytes: "\(query)"
            allocation:
              shared:
                split: none
                drivers:
                  storage: { usage: app/storage_bytes }
            """, file: "usage.yaml", environment: [:])
        return (app, config, directory.appendingPathComponent("zen.db").path)
    }

    static func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("badvalues-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("the tally: ±Inf, NaN, 1e300 and negatives are counted; their tenants keep the last good value or have none")
    func tally() {
        let rows = [UsageRow(tenant: "t-1", value: .infinity), UsageRow(tenant: "t-2", value: 5), UsageRow(tenant: "t-3", value: -.infinity),
                    UsageRow(tenant: "t-4", value: .nan), UsageRow(tenant: "t-5", value: 1e300), UsageRow(tenant: "t-6", value: -1),
                    UsageRow(tenant: "t-7", value: 1e18), UsageRow(tenant: "t-7", value: 1e18)]
        let (values, rejected, bad) = UsageCollector.tally(rows, previous: ["t-1": 10, "t-4": 40, "t-6": .infinity])
        #expect(bad == 6)  // five bad rows, and t-7's two sane rows summing past 1e18
        #expect(rejected == 0)
        // Each falls back to its last good value, or to none (t-6's stored one is not sane either).
        #expect(values == ["t-1": 10, "t-2": 5, "t-4": 40])
    }

    @Test("a usage query answering Infinity and a negative: counted, not stored, the last good values served, no trap")
    func infinityFromAQuery() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (app, config, storePath) = try Self.setUp(directory)
        let engine = SyncEngine(config: config, store: try Store(path: storePath), logger: Logger(label: "test"))
        await engine.syncAllOnce()
        let before = await engine.estate.currentEvaluation.tenantCosts

        let database = try DatabaseQueue(path: app)
        try await database.write { db in
            try db.execute(sql: "UPDATE usage SET value = 9e999 WHERE tenant = 't-1'")   // SQLite reads 9e999 as +Inf
            try db.execute(sql: "UPDATE usage SET value = -5 WHERE tenant = 't-2'")
        }
        try database.close()
        await engine.usage.pollAllOnce()

        let status = try #require(await engine.estate.usageStatus(of: Self.reference))
        #expect(status.up == true)
        #expect(status.badValues == 2)
        #expect(status.tenantValues == ["t-1": 100, "t-2": 300, "t-3": 600])
        #expect(await engine.estate.currentEvaluation.tenantCosts == before)
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_usage_query_bad_values_total", ["usage": "app", "dimension": "storage_bytes"]) == 2)
        // Nothing that is not finite was written.
        let stored = try DatabaseQueue(path: storePath)
        let values = try await stored.read { try Double.fetchAll($0, sql: "SELECT value FROM usage_values UNION ALL SELECT value FROM usage_daily") }
        try stored.close()
        #expect(!values.isEmpty)
        #expect(values.allSatisfy { $0.isFinite && $0 >= 0 })
    }

    @Test("a tenant column holding +Inf or 1e300 as a REAL (Int64(_:) used to trap on it) is read as text, no trap")
    func infiniteTenant() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, config, storePath) = try Self.setUp(directory, query: "SELECT 9e999, 5 UNION ALL SELECT 1e300, 7 UNION ALL SELECT 't-1', 11")
        let engine = SyncEngine(config: config, store: try Store(path: storePath), logger: Logger(label: "test"))
        await engine.syncAllOnce()
        let status = try #require(await engine.estate.usageStatus(of: Self.reference))
        #expect(status.up == true)
        #expect(status.tenantValues["t-1"] == 11)
        #expect(status.tenantValues.values.reduce(0, +) == 23)  // the two odd tenants kept, under their text or as "other"
    }

    @Test("a database already holding Infinity, NULL and text usage values restarts, drops them and counts them")
    func restoreFromPoisonedStorage() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, config, storePath) = try Self.setUp(directory)
        do {
            let engine = SyncEngine(config: config, store: try Store(path: storePath), logger: Logger(label: "test"))
            await engine.syncAllOnce()
        }
        // What an older version (or a hand edit) could have left: +Inf stored, a mistyped row.
        let stored = try DatabaseQueue(path: storePath)
        try await stored.write { db in
            try db.execute(sql: "UPDATE usage_values SET value = 9e999 WHERE tenant = 't-1'")
            try db.execute(sql: "UPDATE usage_values SET value = -1e300 WHERE tenant = 't-2'")
            try db.execute(sql: "INSERT INTO usage_values (source, dimension, tenant, value, fetched_at) VALUES ('app', 'storage_bytes', 't-9', 'many', 'later')")
            try db.execute(sql: "UPDATE usage_daily SET value = 9e999")
        }
        try stored.close()

        let restarted = SyncEngine(config: config, store: try Store(path: storePath), logger: Logger(label: "test"))
        await restarted.restore()
        let status = try #require(await restarted.estate.usageStatus(of: Self.reference))
        #expect(status.tenantValues == ["t-3": 600])
        #expect(status.badValues == 2)
        let metrics = ParsedExposition(String(buffer: restarted.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_usage_query_bad_values_total", ["usage": "app", "dimension": "storage_bytes"]) == 2)
        let history = try await Store(path: storePath).usageHistory(Self.reference, from: LocalDay(year: 2000, month: 1, day: 1))
        #expect(history.isEmpty)
    }
}
