import CostModel
import Foundation
import Logging
import NIOCore
@testable import ProviderSelectel
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

@Suite("Selectel connector over real HTTP", .serialized)
struct SelectelSourceTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    static let web = "5b1e2c3d-4a5b-4c6d-8e7f-9a0b1c2d3e4f"

    func config(_ fake: SelectelFake) throws -> ExporterConfig {
        try ConfigLoader.parse("""
        sources:
          - name: sel
            type: selectel
            token_env: SEL_TOKEN
            username_env: SEL_USER
            password_env: SEL_PASSWORD
            account_id: "200001"
            project_id: 7f1c2a9be0d34c21a8b6f0e2d4c5b6a7
            base_url: "\(fake.baseURL)"
            retries: 1
            timeout: 30s
        """, file: "t.yaml", environment: ["SEL_TOKEN": SelectelFake.staticToken, "SEL_USER": "finops-exporter",
                                           "SEL_PASSWORD": SelectelFake.servicePassword])
    }

    func run(_ fake: SelectelFake) async throws -> (SyncEngine, ParsedExposition) {
        var engine = SyncEngine(config: try config(fake), store: try Store(), logger: Logger(label: "test"))
        engine.retryBase = .milliseconds(10)
        engine.clock = { Self.now }
        #expect(await engine.syncAllOnce() == [])
        return (engine, ParsedExposition(String(buffer: engine.estate.exposition.rendered.body)))
    }

    @Test("per-resource and total run rates to the kopeck, from the latest billed hour in kopecks")
    func costs() async throws {
        let fake = try SelectelFake()
        try await fake.start()
        let (_, metrics) = try await run(fake)
        await fake.stop()
        // web-1: 118 + 95 kopecks, plus its disk (parent_id) 51 → 2.64 ₽/h → 1900.80 a month.
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Self.web]) == 2.64)
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_name": "legacy-vm"]) == 1.5)
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_name": "orphan-vol"]) == 0.77)
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_name": "db-1"]) == 3)
        // (264 + 150 + 77 + 300) kopecks × 720 hours = 5695.20 ₽.
        #expect(abs(metrics.sum("infrazen_infrastructure_cost_monthly") - 5695.20) < 0.005)
        #expect(metrics.value("infrazen_account_balance", ["provider": "selectel", "account": "200001", "currency": "RUB"]) == 15234)
    }

    static func balances(currency: String?) -> String {
        let settings = currency.map { #""settings": {"mode": "prepay", "currency": "\#($0)"}, "# } ?? ""
        return #"{"status": "success", "data": {"# + settings + #""billings": [{"billing_type": "primary", "final_sum": 500000}]}}"#
    }

    @Test("an account that reports tenge: its costs (hundredths of it) and its balance are in KZT")
    func costsInTheAccountsCurrency() async throws {
        let fake = try SelectelFake(.init(balances: Self.balances(currency: "kzt")))
        try await fake.start()
        let (_, metrics) = try await run(fake)
        await fake.stop()
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Self.web, "currency": "KZT"]) == 2.64)
        // Every billed resource (inventory without a bill has a zero rate in the reporting currency).
        #expect(metrics.values("infrazen_resource_cost_per_hour").filter { $0.value > 0 }.allSatisfy { $0.labels["currency"] == "KZT" })
        #expect(metrics.value("infrazen_account_balance", ["account": "200001", "currency": "KZT"]) == 5000)
        #expect(metrics.values("infrazen_cost_month_to_date").allSatisfy { $0.labels["currency"] == "KZT" })
    }

    @Test("an account that reports no currency, or no ISO one, fails the sync loudly (balances, reason currency); the last good data stays")
    func unreportedCurrency() async throws {
        let fake = try SelectelFake()
        try await fake.start()
        let (engine, _) = try await run(fake)
        for (body, count) in [(Self.balances(currency: nil), 1), (Self.balances(currency: "roubles"), 2)] {
            fake.behaviour.withLock { $0.balances = body }
            #expect(await engine.syncAllOnce() == ["sel"])
            let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
            #expect(metrics.value("infrazen_source_up", ["source": "sel"]) == 0)
            #expect(metrics.value("infrazen_sync_errors_total", ["source": "sel", "endpoint": "balances", "reason": "currency"]) == Double(count))
            #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Self.web, "currency": "RUB"]) == 2.64)
            #expect(metrics.value("infrazen_account_balance", ["account": "200001", "currency": "RUB"]) == 15234)
        }
        let status = await engine.estate.status(of: "sel")
        #expect(status?.lastError?.contains("roubles") == true, "\(status?.lastError ?? "")")
        await fake.stop()
    }

    @Test("the balance endpoint down: costs keep the currency the account reported earlier; never reported, the sync fails")
    func balanceDownKeepsTheCurrency() async throws {
        let fake = try SelectelFake(.init(balances: Self.balances(currency: "kzt")))
        try await fake.start()
        let (engine, _) = try await run(fake)
        fake.behaviour.withLock { $0.balancesDown = true }
        #expect(await engine.syncAllOnce() == [])
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Self.web, "currency": "KZT"]) == 2.64)

        var fresh = SyncEngine(config: try config(fake), store: try Store(), logger: Logger(label: "test"))
        fresh.retryBase = .milliseconds(10)
        fresh.clock = { Self.now }
        #expect(await fresh.syncAllOnce() == ["sel"])
        let status = await fresh.estate.status(of: "sel")
        #expect(status?.lastError?.contains("currency is unknown") == true, "\(status?.lastError ?? "")")
        await fake.stop()
    }

    @Test("zombie, orphan and folded volume; no zombie where a region's inventory failed")
    func reconciliation() async throws {
        let fake = try SelectelFake()
        try await fake.start()
        let (_, metrics) = try await run(fake)
        await fake.stop()
        let info = Dictionary(uniqueKeysWithValues: metrics.values("infrazen_resource_info").map { ($0.labels["resource_id"] ?? "", $0.labels) })
        #expect(info["9a8b7c6d-0000-4000-8000-00000000dead"]?["zombie"] == "true")     // legacy-vm: billed in ru-1, not in Nova
        #expect(info["1e2f3a4b-1111-4222-8333-444455556666"]?["orphan"] == "true")
        // A port bound to no device (Selectel's view of an unused address): an orphan too.
        #expect(info["ab12cd34-5555-6666-7777-888899990000"]?["orphan"] == "true")
        #expect(info["fd32f666-1111-2222-3333-444455556666"]?["orphan"] != "true")
        #expect(info["2f3a4b5c-2222-4333-8444-555566667777"]?["zombie"] == "false")  // db-1 in ru-9, whose Nova answered 500
        #expect(info["0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"] == nil)                // the disk folded into web-1
        #expect(info[Self.web]?["flavor"] == "SL1.2-4096")
        #expect(metrics.value("infrazen_sync_errors_total", ["source": "sel", "endpoint": "nova/ru-9", "reason": "http_500"]) == 1)
        #expect(metrics.value("infrazen_source_up", ["source": "sel"]) == 1)
    }

    @Test("regions come from the catalog; Nova pages are followed; Gnocchi gives CPU and memory")
    func inventoryAndUtilisation() async throws {
        let fake = try SelectelFake()
        try await fake.start()
        let (_, metrics) = try await run(fake)
        await fake.stop()
        #expect(fake.count("GET nova ru-1") == 2)   // two pages
        #expect(fake.count("GET nova ru-9") == 2)   // one try and one retry of the 500
        #expect(metrics.value("infrazen_resource_utilization_ratio", ["resource_id": Self.web, "dimension": "cpu"]) == 0.04)      // (3 + 5) / 2 %
        #expect(metrics.value("infrazen_resource_utilization_ratio", ["resource_id": Self.web, "dimension": "memory"]) == 0.25)   // 1024 of 4096 MB
    }

    @Test("an expired token is re-issued and the call repeated")
    func reauthentication() async throws {
        let fake = try SelectelFake(.init(expireFirstToken: true))
        try await fake.start()
        let (_, metrics) = try await run(fake)
        await fake.stop()
        #expect(fake.count("POST identity") == 2)
        #expect(metrics.value("infrazen_resource_info", ["resource_id": Self.web]) == 1)
    }

    @Test("history days come from daily statistics, the last two from hourly ones, in roubles")
    func dailyHistory() async throws {
        let fake = try SelectelFake()
        try await fake.start()
        let source = SelectelSource(settings: try #require(try config(fake).sources.first?.settings as? SelectelSource.Settings),
                                    http: ProviderClient(timeout: .seconds(5), retries: 0))
        let snapshot = try await source.collect(CollectionWindow(now: Self.now, historyDays: 90, reporting: ReportingConfig()))
        await fake.stop()
        let web = snapshot.dailyCosts.filter { $0.resourceID == Self.web }
        #expect(web.first { $0.day == LocalDay(year: 2026, month: 11, day: 15) }?.cost.amount == Decimal(string: "51.12"))
        #expect(web.first { $0.day == LocalDay(year: 2026, month: 11, day: 19) }?.cost.amount == Decimal(string: "2.13"))
        #expect(fake.requests.withLock { $0.contains("GET consumption hour 2026-11-19T00:00:00") })
    }
}
