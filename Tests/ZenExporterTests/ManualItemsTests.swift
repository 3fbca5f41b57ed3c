import Foundation
import Logging
import NIOCore
@testable import Storage
import Testing
@testable import ZenExporter

@Suite("Manual items")
struct ManualItemsTests {
    static let yaml = """
    sources:
      - {name: demo, type: demo}
    items:
      - name: example.ru
        kind: domain
        provider: REG.RU
        cost: 1490
        currency: RUB
        period: yearly
        renews: 2027-03-01
        auto_renew: false
      - name: openai
        kind: ai
        pricing: pay_per_use
        cost: 120
        currency: USD
        period: monthly
        usage: 41000
        limit: 50000
    """

    @Test("cost, renewal and usage metrics, and the items in the totals by category")
    func metrics() async throws {
        let config = try ConfigLoader.parse(Self.yaml, file: "t.yaml", environment: [:])
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        engine.clock = { ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")! }
        #expect(await engine.syncAllOnce() == [])
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        // 1490 a year of 12 × 720 hours is 1490 / 12 = 124.1666… a month.
        #expect(metrics.value("infrazen_item_cost_monthly", ["item": "example.ru", "kind": "domain", "currency": "RUB"]) == 124.17)
        #expect(metrics.value("infrazen_item_cost_monthly", ["item": "openai", "currency": "USD"]) == 120)
        // Midnight of 2027-03-01 in Moscow is 2027-02-28T21:00:00Z.
        #expect(metrics.value("infrazen_item_renewal_timestamp_seconds", ["item": "example.ru", "auto_renew": "false"])
            == ISO8601DateFormatter().date(from: "2027-02-28T21:00:00Z")!.timeIntervalSince1970)
        #expect(metrics.value("infrazen_item_usage_ratio", ["item": "openai"]) == 0.82)
        #expect(abs((metrics.value("infrazen_infrastructure_cost_monthly", ["provider": "reg.ru", "category": "domain"]) ?? 0) - 124.17) < 0.005)
        #expect(metrics.value("infrazen_infrastructure_cost_monthly", ["category": "ai", "currency": "USD"]) == 120)
        #expect(metrics.value("infrazen_infrastructure_cost_monthly", ["provider": "yandex", "category": "compute"]) == 50_955)
    }

    @Test("with a static USD rate the totals are in roubles; the item's own series keeps its dollars")
    func converted() async throws {
        let config = try ConfigLoader.parse("fx:\n  source: static\n  rates: {USD: 81.5}\n" + Self.yaml, file: "t.yaml", environment: [:])
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        engine.clock = { ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")! }
        #expect(await engine.syncAllOnce() == [])
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_infrastructure_cost_monthly", ["category": "ai", "currency": "RUB"]) == 9780)  // 120 × 81.5
        #expect(metrics.values("infrazen_infrastructure_cost_monthly").allSatisfy { $0.labels["currency"] == "RUB" })
        #expect(metrics.value("infrazen_item_cost_monthly", ["item": "openai", "currency": "USD"]) == 120)
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": "item:openai", "currency": "USD"]) != nil)
        // Unallocated includes the converted items: 117150 of demo + 124.17 + 9780.
        #expect(abs(metrics.sum("infrazen_unallocated_cost_monthly") + metrics.sum("infrazen_tenant_cost_monthly") - (117_150 + 124.17 + 9780)) < 0.01)
    }

    @Test("a bad renewal date and an unknown kind name their keys")
    func errors() {
        do {
            _ = try ConfigLoader.parse("""
            sources:
              - {name: d, type: demo}
            items:
              - {name: x, kind: yacht, cost: 1, renews: soon}
            """, file: "t.yaml", environment: [:])
            Issue.record("expected errors")
        } catch {
            #expect(error.issues.map(\.key) == ["items[0].kind", "items[0].renews"])
            #expect(error.issues.map(\.line) == [4, 4])
        }
    }
}
