import CostModel
import Foundation
import GRDB
import Logging
@testable import Storage
import Testing
@testable import ZenExporter

/// The metric families no other test checked against a value worked out independently, each
/// on a small estate whose figures are computed by hand in the test's comments.
@Suite("Metric families, by hand", .serialized)
struct FamiliesByHandTests {
    /// Friday 20 November 2026, 12:00 in Moscow: half of today is gone.
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!

    /// Three resources billed in roubles:
    /// - `a` (tenant t-1, service VM, compute): 100 a day from 22 October to 18 November, 200 on
    ///   Thursday 19 November: a run rate of 200 × 30 = 6000 a month;
    /// - `b` (no tenant, service "Quantum", category unknown): 50 on 19 November: 1500 a month;
    /// - `c` (tenant t-2, service VM2, compute): 10 on 19 November: 300 a month.
    /// Usage (an SQLite query): t-1 stores 1000 bytes, t-2 3000. At most one tenant is kept.
    static func estate(_ directory: URL) throws -> ExporterConfig {
        var csv = "BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceCategory,ServiceName,ResourceId,Tags\n"
        var day = LocalDay(year: 2026, month: 10, day: 22)
        while day <= LocalDay(year: 2026, month: 11, day: 18) {
            csv += "100,RUB,\(day)T00:00:00Z,Usage,Compute,VM,a,\"{\"\"tenant\"\": \"\"t-1\"\"}\"\n"
            day = day.adding(days: 1)
        }
        csv += "200,RUB,2026-11-19T00:00:00Z,Usage,Compute,VM,a,\"{\"\"tenant\"\": \"\"t-1\"\"}\"\n"
        csv += "50,RUB,2026-11-19T00:00:00Z,Usage,Quantum,Quantum,b,\n"
        csv += "10,RUB,2026-11-19T00:00:00Z,Usage,Compute,VM2,c,\"{\"\"tenant\"\": \"\"t-2\"\"}\"\n"
        try Data(csv.utf8).write(to: directory.appendingPathComponent("bill.csv"))
        let app = directory.appendingPathComponent("app.db").path
        let database = try DatabaseQueue(path: app)
        try database.write { db in
            try db.execute(sql: "CREATE TABLE usage (tenant TEXT, value REAL); INSERT INTO usage VALUES ('t-1', 1000), ('t-2', 3000)")
        }
        try database.close()
        return try ConfigLoader.parse("""
        storage: {path: \(directory.path)/infrazen.db}
        sources:
          - {name: bill, type: focus, path: "\(directory.path)/bill.csv", interval: 15m}
        usage:
          - {name: app, type: sqlite, path: \(app), timeout: 60s, queries: {storage_bytes: "SELECT tenant, value FROM usage"}}
        allocation: {max_tenants: 1}
        budgets:
          - {name: t1, amount: 5000, period: monthly, scope: {tenant: t-1}}
        """, file: "hand.yaml", environment: [:])
    }

    func synced() async throws -> (text: String, metrics: ParsedExposition, wall: Double) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("by-hand-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store(path: directory.appendingPathComponent("infrazen.db").path)
        defer { try? store.close() }
        var engine = SyncEngine(config: try Self.estate(directory), store: store, logger: Logger(label: "hand"))
        engine.clock = { Self.now }
        let started = ContinuousClock.now
        #expect(await engine.syncAllOnce() == [])
        let wall = (ContinuousClock.now - started).seconds
        let text = String(buffer: engine.estate.exposition.rendered.body)
        return (text, ParsedExposition(text), wall)
    }

    @Test("budget: spent 18 × 100 + 200 = 2000 of 5000 (0.4); forecast 2000 + half of Friday's 100 + nine days of 100 + Thursday the 26th at (3 × 100 + 200) / 4 = 3075")
    func budget() async throws {
        let (_, metrics, _) = try await synced()
        #expect(metrics.value("infrazen_budget_spent", ["budget": "t1"]) == 2000)
        #expect(metrics.value("infrazen_budget_utilization_ratio", ["budget": "t1"]) == 0.4)
        #expect(metrics.value("infrazen_budget_forecast", ["budget": "t1"]) == 3075)
    }

    @Test("anomaly: 28 flat days of 100 then 200: trend 100, MAD 0, spread 1 % of 100 = 1, score (200 − 100) / 1 = 100")
    func anomaly() async throws {
        let (_, metrics, _) = try await synced()
        #expect(metrics.value("infrazen_cost_anomaly_score", ["scope": "service:VM"]) == 100)
    }

    @Test("allocation: placed by tags (6000 + 300) of 7800 = 0.807692; t-2 folded into other (one folded); one unclassified line")
    func allocation() async throws {
        let (_, metrics, _) = try await synced()
        #expect(metrics.value("infrazen_allocation_direct_ratio", [:]) == 0.807692)
        #expect(metrics.value("infrazen_tenants_folded", [:]) == 1)
        #expect(metrics.value("infrazen_tenant_cost_monthly", ["tenant": "t-1"]) == 6000)
        #expect(metrics.value("infrazen_tenant_cost_monthly", ["tenant": "other"]) == 300)
        #expect(metrics.value("infrazen_unallocated_cost_monthly", [:]) == 1500)
        #expect(metrics.value("infrazen_unclassified_line_items", ["source": "bill"]) == 1)
    }

    @Test("storage: 1000 bytes for t-1, t-2's 3000 under other")
    func storage() async throws {
        let (_, metrics, _) = try await synced()
        #expect(metrics.value("infrazen_storage_used_bytes", ["service": "storage", "tenant": "t-1"]) == 1000)
        #expect(metrics.value("infrazen_storage_used_bytes", ["service": "storage", "tenant": "other"]) == 3000)
    }

    @Test("the exporter's own: interval 15m = 900 s; the usage query's success at the clock's time, its duration within the test's wall time; the series count is the text's sample lines")
    func selfMetrics() async throws {
        let (text, metrics, wall) = try await synced()
        #expect(metrics.value("infrazen_sync_interval_seconds", ["source": "bill"]) == 900)
        #expect(metrics.value("infrazen_usage_query_last_success_timestamp_seconds", ["usage": "app", "dimension": "storage_bytes"])
            == Self.now.timeIntervalSince1970)
        let duration = try #require(metrics.value("infrazen_usage_query_duration_seconds", ["usage": "app", "dimension": "storage_bytes"]))
        #expect(duration >= 0 && duration <= wall)
        // Every line that is not a comment is a sample; the count is written before its own line.
        let samples = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("process_") }.count
        #expect(metrics.value("infrazen_exposition_series", [:]) == Double(samples - 1))
    }

    @Test("recommendation confidence: zombie and orphan volume 0.9, rightsize 0.8, off-hours 0.6, as documented")
    func confidence() async throws {
        let config = try ConfigLoader.parse("sources:\n  - {name: demo, type: demo}\n", file: "demo.yaml", environment: [:])
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "hand"))
        engine.clock = { Self.now }
        #expect(await engine.syncAllOnce() == [])
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        let byKind = Dictionary(metrics.values("infrazen_recommendation_confidence_ratio").map { ($0.labels["kind"] ?? "", $0.value) },
                                uniquingKeysWith: { first, _ in first })
        #expect(byKind == ["zombie": 0.9, "orphan_volume": 0.9, "rightsize": 0.8, "off_hours": 0.6])
    }
}
