import CostModel
@testable import Exposition
import Foundation
import Logging
import NIOCore
@testable import ProviderDemo
@testable import Storage
import Testing
@testable import ZenExporter

/// Every decision metric on the demo estate, against figures worked out by hand from the
/// demo's daily prices (DemoEstate.entries) and, for history-based ones, from its daily costs.
@Suite("Cost model on the demo estate")
struct CostModelOnDemoTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    static let moscow = TimeZone(identifier: "Europe/Moscow")!

    /// The shipped exporter.yaml's demo, synced at `now` into an in-memory store; its usage
    /// database is written to a scratch directory.
    static func render() async throws -> ParsedExposition {
        ParsedExposition(String(buffer: try await synced().estate.exposition.rendered.body))
    }

    static func synced() async throws -> SyncEngine {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../exporter.yaml").path
        var config = try ConfigLoader.load(path: path, environment: [:])
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("demo-usage-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        for index in config.usage.indices { config.usage[index].path = scratch.appendingPathComponent("demo-app.db").path }
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        engine.clock = { now }
        await engine.syncAllOnce()
        return engine
    }

    let history = DemoEstate.snapshot(now: now, historyDays: 90, timeZone: moscow).dailyCosts

    @Test("tenants: shop 612 × 30 = 18360 placed by rules; the CHOM server pool (883.40 + 173.30) × 30 = 31701 by sites, 2 of 64 each, idle 40 of 64")
    func tenants() async throws {
        let metrics = try await Self.render()
        #expect(metrics.value("infrazen_tenant_cost_monthly", ["tenant": "chom"]) == nil)
        #expect(metrics.value("infrazen_tenant_cost_monthly", ["tenant": "shop"]) == 18_360)
        // 31701 × 40 / 64 = 19813.125: the half kopeck goes by largest remainder.
        let idle = try #require(metrics.value("infrazen_pool_cost_monthly", ["pool": "chom-shared", "tenant": "__idle__"]))
        #expect(abs(idle - 19_813.125) < 0.01)
        #expect(metrics.value("infrazen_pool_idle_ratio", ["pool": "chom-shared"]) == 0.625)
        for tenant in (1...12).map({ String(format: "t-%04d", 1000 + $0) }) {
            let share = try #require(metrics.value("infrazen_pool_cost_monthly", ["pool": "chom-shared", "tenant": tenant]))
            #expect(abs(share - 31_701.0 * 2 / 64) < 0.01, "\(tenant)")
        }
        #expect(abs(metrics.sum("infrazen_pool_cost_monthly") - 31_701) < 1e-6)
    }

    @Test("the overview page shows the CHOM server pool: 62.5 % idle, __idle__ first with the exported figure")
    func overviewShowsPool() async throws {
        let engine = try await Self.synced()
        let page = String(buffer: await engine.estate.overviewPage)
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        let idle = try #require(metrics.values("infrazen_pool_cost_monthly").first { $0.labels["tenant"] == "__idle__" })
        let section = try #require(page.range(of: "<h2>Shared pools</h2>").map { String(page[$0.lowerBound...]) })
        #expect(section.contains("<h3>chom-shared: 62.5 % of its capacity idle</h3>"))
        let firstRow = try #require(section.range(of: "<tr><td>").map { String(section[$0.lowerBound...].prefix(80)) })
        #expect(firstRow.hasPrefix("<tr><td>__idle__</td><td class=\"n\">\(LandingPage.money(Decimal(string: idle.text)!))</td>"))
        #expect(section.contains("and 3 more in"))
    }

    /// What no rule placed: storage (418.10 + 161.70 + 76.80) × 30 = 19698, spread by the CHOM
    /// tenants' storage bytes (796 GiB at the base: 120, 64, 18, 240, 9, 45, 33, 150, 6, 72, 27, 12),
    /// and compute (493.20 + 1086.50) × 30 = 47391, by their VPS count (18: 3, 2, 1, 4, 1, 1, 1, 2, 0, 2, 1, 0).
    @Test("the shared storage goes by storage share, the shared compute by VPS count; nothing stays unallocated")
    func sharedByUsage() async throws {
        let metrics = try await Self.render()
        // Split in micro-units and rounded once, to the total: each tenant is within a cent of its exact sum.
        // Every CHOM tenant also has its 2 of the shared server pool's 64 sites: 31701 × 2 / 64.
        let storage = 19_698.0, compute = 47_391.0, pool = 31_701.0 * 2 / 64
        #expect(abs(metrics.value("infrazen_tenant_cost_monthly", ["tenant": "t-1009"])! - (storage * 6 / 796 + pool)) < 0.01)
        #expect(abs(metrics.value("infrazen_tenant_cost_monthly", ["tenant": "t-1012"])! - (storage * 12 / 796 + pool)) < 0.01)
        #expect(abs(metrics.value("infrazen_tenant_cost_monthly", ["tenant": "t-1004"])! - (storage * 240 / 796 + compute * 4 / 18 + pool)) < 0.01)
        #expect(abs(metrics.value("infrazen_tenant_cost_monthly", ["tenant": "t-1001"])! - (storage * 120 / 796 + compute * 3 / 18 + pool)) < 0.01)
        #expect(metrics.value("infrazen_unallocated_cost_monthly", ["provider": "selectel"]) == 0)
        #expect(metrics.value("infrazen_unallocated_cost_monthly", ["provider": "yandex"]) == 0)
        // shop, twelve CHOM tenants and the pool's __idle__.
        #expect(metrics.values("infrazen_tenant_cost_monthly").count == 14)
    }

    @Test("tenants plus unallocated equal the infrastructure total")
    func allocationComplete() async throws {
        let metrics = try await Self.render()
        let allocated = metrics.sum("infrazen_tenant_cost_monthly") + metrics.sum("infrazen_unallocated_cost_monthly")
        // Kopeck shares: the exported figures themselves add up (to float precision of the sum).
        #expect(abs(allocated - metrics.sum("infrazen_infrastructure_cost_monthly")) < 1e-6)
        // The seed's estate is 117,150; the shipped items add 1490 / 12 + 2500 + 900 = 3524.17 (kopecks).
        let estate = metrics.sum("infrazen_infrastructure_cost_monthly") { ["yandex", "selectel"].contains($0["provider"] ?? "") }
        #expect(abs(estate - 117_150) < 1e-6)
        #expect(abs(allocated - 117_150 - 3_524.17) < 1e-6)
    }

    @Test("recommendations: rightsize 13251, off-hours 17037, zombie 14796, orphan 12543")
    func recommendations() async throws {
        let metrics = try await Self.render()
        // SL1.4-16384 at 883.40 a day to SL1.2-8192 at 441.70: 441.70 × 30.
        #expect(metrics.value("infrazen_recommendation_savings_monthly", ["kind": "rightsize", "resource_id": "6f1c2a3b-0001-4d5e-8f90-5e1ec7e1a001"]) == 13_251)
        // The flavour's 26502 a month, off 108 of 168 hours: 26502 / 168 × 108 = 157.75 × 108.
        #expect(metrics.value("infrazen_recommendation_savings_monthly", ["kind": "off_hours"]) == 17_037)
        #expect(metrics.value("infrazen_recommendation_savings_monthly", ["kind": "zombie"]) == 14_796)
        #expect(metrics.value("infrazen_recommendation_savings_monthly", ["kind": "orphan_volume"]) == 12_543)
        #expect(metrics.value("infrazen_potential_savings_monthly", ["kind": "zombie"]) == 14_796)
        #expect(metrics.values("infrazen_recommendation_savings_monthly").count == 4)
    }

    @Test("waste: the zombie and the orphan volume, at their monthly run rate")
    func waste() async throws {
        let metrics = try await Self.render()
        #expect(metrics.value("infrazen_waste_cost_monthly", ["kind": "zombie", "provider": "selectel"]) == 14_796)
        #expect(metrics.value("infrazen_waste_cost_monthly", ["kind": "orphan_volume", "provider": "selectel"]) == 12_543)
    }

    @Test("capacity: CPU headroom 1 − 10.72/16; memory full in (64 − 51.84) / 0.1 = 121.6 days; storage in 1140 / 3 = 380")
    func capacity() async throws {
        let metrics = try await Self.render()
        #expect(metrics.value("infrazen_capacity_headroom_ratio", ["dimension": "cpu_cores"]) == 0.33)
        #expect(metrics.value("infrazen_capacity_exhaustion_seconds", ["dimension": "memory_bytes"]) == Double(10_506_240))  // 121.6 × 86400
        #expect(metrics.value("infrazen_capacity_exhaustion_seconds", ["dimension": "storage_bytes"]) == Double(380 * 86_400))
        #expect(metrics.value("infrazen_capacity_exhaustion_seconds", ["dimension": "cpu_cores"]) == nil)
    }

    @Test("runway: Selectel 48250 / 1968.00 a day = 24.517… days; Yandex 152300 / 1937.00 = 78.627… days")
    func runway() async throws {
        let metrics = try await Self.render()
        // (883.40 + 173.30 + 493.20 + 418.10) = 1968.00; (612 + 1086.50 + 161.70 + 76.80) = 1937.00.
        #expect(metrics.value("infrazen_account_time_until_depleted_seconds", ["provider": "selectel"]) == (48_250.0 / 1968 * 86_400).rounded())
        #expect(metrics.value("infrazen_account_time_until_depleted_seconds", ["provider": "yandex"]) == (152_300.0 / 1937 * 86_400).rounded())
    }

    @Test("the spiked service scores above 3, steady compute 0")
    func anomalies() async throws {
        let metrics = try await Self.render()
        #expect(try #require(metrics.value("infrazen_cost_anomaly_score", ["scope": "service:Object Storage"])) > 3)
        #expect(metrics.value("infrazen_cost_anomaly_score", ["scope": "service:Compute Cloud"]) == 0)
    }

    @Test("ordinary days before the spike all score below 2")
    func ordinaryDays() async throws {
        let storage = try #require(DailySeries.scopes(of: history).first { $0.scope == .service("Object Storage") })
        let yesterday = LocalDay(Self.now, in: Self.moscow).adding(days: -1)
        for daysBack in 1...50 {
            let score = try #require(AnomalyDetector().score(storage, day: yesterday.adding(days: -daysBack)))
            #expect(abs(score.score) < 2, "\(score.day): \(score.score)")
        }
    }

    @Test("the last full day's cost is the sum of the demo's daily costs for 19 November")
    func costDaily() async throws {
        let metrics = try await Self.render()
        let yesterday = LocalDay(year: 2026, month: 11, day: 19)
        let total = history.filter { $0.day == yesterday }.map(\.cost.amount).reduce(0, +)
        let served = try #require(metrics.value("infrazen_cost_daily", ["scope": "total"]))
        #expect(abs(served - NSDecimalNumber(decimal: total).doubleValue) < 0.005)
    }

    @Test("budgets: the object-storage budget of 1500 is exceeded by its month-to-date")
    func budgets() async throws {
        let metrics = try await Self.render()
        let first = LocalDay(year: 2026, month: 11, day: 1)
        let spent = history.filter { $0.day >= first && $0.service == "Object Storage" }.map(\.cost.amount).reduce(0, +)
        let served = try #require(metrics.value("infrazen_budget_spent", ["budget": "object-storage"]))
        #expect(abs(served - NSDecimalNumber(decimal: spent).doubleValue) < 0.005)
        #expect(try #require(metrics.value("infrazen_budget_utilization_ratio", ["budget": "object-storage"])) > 1)
        #expect(metrics.value("infrazen_budget_threshold_reached", ["budget": "object-storage", "threshold": "1"]) == 1)
        #expect(metrics.value("infrazen_budget_threshold_reached", ["budget": "total", "threshold": "1"]) == 0)
        #expect(metrics.value("infrazen_budget_amount", ["budget": "total", "period": "monthly"]) == 150_000)
    }

    @Test("month-end forecast of steady compute is its 3075.10 a day × 30")
    func monthEndForecast() async throws {
        let metrics = try await Self.render()
        #expect(metrics.value("infrazen_cost_forecast", ["scope": "category:compute", "horizon": "month_end"]) == 92_253)
        #expect(metrics.value("infrazen_cost_forecast", ["scope": "category:compute", "horizon": "30d"]) == 92_253)
        #expect(metrics.value("infrazen_cost_forecast", ["scope": "category:compute", "horizon": "90d"]) == 276_759)
    }

    @Test("every metric of the cost model's catalog is present for the demo")
    func allPresent() async throws {
        let metrics = try await Self.render()
        // sync_errors_total and usage_query_errors_total appear with the first error; the demo never fails.
        // Exchange rates appear once rates are configured (the demo is all roubles).
        // unpriced_resources appears for a type openstack price list that lacks a key; the demo has no price list
        // (OpenStackSourceTests and CloudsEndToEndTests check it).
        // commitment_* and effective_cost_* come from FOCUS exports (FocusCommitmentsTests).
        for family in MetricCatalog.all where !["sync_errors_total", "usage_query_errors_total", "unpriced_resources"].contains(family.name)
            && !family.name.hasPrefix("fx_") && !family.name.hasPrefix("commitment_")
            && !family.name.hasPrefix("effective_cost_") {
            #expect(!metrics.values("infrazen_\(family.name)").isEmpty, "infrazen_\(family.name) is missing")
        }
    }
}
