import CostModel
import Foundation
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// Amounts of different currencies are never added, and every amount is labelled with the
/// currency it was computed in (issue 13, items 1–2). Each expected figure is worked by hand.
@Suite("Currency rules")
struct CurrencyRulesTests {
    static func resource(_ id: String, _ monthly: Decimal, _ currency: Currency, tags: [String: String] = [:], flavor: String = "",
                         type: String = "server") -> Resource {
        Resource(provider: "cloud", id: id, name: id, resourceType: type, service: "Compute", category: .compute, region: "r", account: "a",
                 status: ResourceStatus(provider: "ACTIVE"), flavor: flavor, tags: tags, rate: Rate(amount: monthly, currency: currency, periodHours: 720),
                 isZombie: false, isOrphan: false, folded: [])
    }

    @Test("an idle USD server with USD flavours in a RUB-reporting estate saves 360 USD, not 360 labelled RUB")
    func rightsizingSavingKeepsTheFlavourCurrency() throws {
        let usd = Currency("USD")
        let flavors = [
            Flavor(name: "s-2", vcpus: 2, memoryGiB: 8, rate: Rate(amount: 360, currency: usd, periodHours: 720)),
            Flavor(name: "s-4", vcpus: 4, memoryGiB: 16, rate: Rate(amount: 720, currency: usd, periodHours: 720)),
        ]
        var status = SourceStatus(name: "cloud", provider: "cloud")
        status.resources = [Self.resource("vm", 720, usd, flavor: "s-4")]
        status.dimensions = [[:]]
        status.extras = SnapshotExtras(utilization: [UtilizationSample(resourceID: "vm", dimension: .cpu, ratio: 0.05),
                                                     UtilizationSample(resourceID: "vm", dimension: .memory, ratio: 0.3)],
                                       flavors: ["cloud": flavors])
        var config = ExporterConfig()
        config.reporting.hoursPerMonth = 720
        let evaluation = EstateEvaluation(sources: [status], config: config, fx: FXHistory(reporting: .rub, fixed: [usd: 90]), now: Date())
        let rightsize = try #require(evaluation.recommendations.first { $0.recommendation.kind == .rightsize })
        // s-4 → s-2: 720 − 360 = 360 USD a month.
        #expect(rightsize.recommendation.savingsMonthly == Money(360, usd))
    }

    @Test("a USD account's runway is its USD balance over its USD spend: 1000 / (300 / 30) = 100 days, with or without a USD rate")
    func runwayInTheAccountsOwnCurrency() {
        let usd = Currency("USD")
        var status = SourceStatus(name: "cloud", provider: "cloud")
        // 300 USD a month of 720 hours is 10 USD a day; a RUB resource on the same account does
        // not count against a USD balance.
        status.resources = [Self.resource("vm", 300, usd), Self.resource("disk", 9000, .rub, type: "volume")]
        status.dimensions = [[:], [:]]
        status.extras = SnapshotExtras(accounts: [AccountBalance(provider: "cloud", account: "a", balance: Money(1000, usd))])
        var config = ExporterConfig()
        config.reporting.hoursPerMonth = 720
        for fx in [FXHistory(reporting: .rub, fixed: [usd: 90]), FXHistory(reporting: .rub, fixed: [:])] {
            let evaluation = EstateEvaluation(sources: [status], config: config, fx: fx, now: Date())
            #expect(evaluation.runways.map(\.days) == [100])
        }
    }

    @Test("the direct share is measured in the reporting currency: 100 of 400 RUB, the USD without a rate left out")
    func directRatioNeverAddsCurrencies() {
        let subjects = [
            AllocationSubject(source: "s", resource: Self.resource("a", 100, .rub, tags: ["tenant": "t1"])),
            AllocationSubject(source: "s", resource: Self.resource("b", 300, .rub)),
            AllocationSubject(source: "s", resource: Self.resource("c", 1000, Currency("USD"), tags: ["tenant": "t2"])),
        ]
        let result = Allocator(policy: AllocationPolicy(), hoursPerMonth: 720, reporting: .rub).allocate(subjects)
        #expect(result.directlyAllocatedRatio == 0.25)
    }

    @Test("an estate with nothing in the reporting currency measures the share in the currency most resources use")
    func directRatioWithoutTheReportingCurrency() {
        let usd = Currency("USD")
        let subjects = [
            AllocationSubject(source: "s", resource: Self.resource("a", 30, usd, tags: ["tenant": "t1"])),
            AllocationSubject(source: "s", resource: Self.resource("b", 90, usd)),
            AllocationSubject(source: "s", resource: Self.resource("c", 5000, Currency("EUR"), tags: ["tenant": "t1"])),
        ]
        let result = Allocator(policy: AllocationPolicy(), hoursPerMonth: 720, reporting: .rub).allocate(subjects)
        // USD: 30 of 120.
        #expect(result.directlyAllocatedRatio == 0.25)
    }

    @Test("max_tenants keeps the tenants with most reporting-currency cost; a million USD without a rate does not outrank 200 RUB")
    func tenantRankingNeverAddsCurrencies() {
        let costs: [String: [Currency: Decimal]] = [
            "a": [.rub: 100, Currency("USD"): 1_000_000],
            "b": [.rub: 200],
            "c": [.rub: 150],
        ]
        #expect(TenantLimit(maxTenants: 2).kept(costs: costs, reporting: .rub) == ["b", "c"])
        // Equal in RUB: the next currency decides.
        let tied: [String: [Currency: Decimal]] = ["a": [.rub: 100, Currency("USD"): 5], "b": [.rub: 100], "c": [.rub: 50]]
        #expect(TenantLimit(maxTenants: 2).kept(costs: tied, reporting: .rub) == ["a", "b"])
    }

    /// The exported text of one family's samples: labels text → value text.
    static func exported(_ text: String, _ family: String) -> [Decimal] {
        text.split(separator: "\n").filter { $0.hasPrefix(family + "{") || $0.hasPrefix(family + " ") }.compactMap { line in
            line.split(separator: " ").last.flatMap { Decimal.exact(String($0)) }
        }
    }

    @Test("tenants + unallocated = infrastructure total as exported text, with costs of 10 decimals: 0.45 + 0.45 + 0.00 = 0.90")
    func exportedPartsAddUp() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Read as micro-units (half-even): 0.014889, 0.014889, 0.000222 a day; × 30 a month:
        // 0.44667 + 0.44667 + 0.00666 = 0.90000. Rounded alone, the parts would export 0.91.
        let csv = """
        BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceCategory,ServiceName,ResourceId,Tags
        0.0148888889,RUB,2026-11-20T00:00:00Z,Usage,Compute,VM,a,"{""tenant"": ""t1""}"
        0.0148888889,RUB,2026-11-20T00:00:00Z,Usage,Compute,VM,b,"{""tenant"": ""t2""}"
        0.0002222222,RUB,2026-11-20T00:00:00Z,Usage,Compute,VM,c,

        """
        try Data(csv.utf8).write(to: directory.appendingPathComponent("x.csv"))
        let config = try ConfigLoader.parse("sources:\n  - {name: x, type: focus, path: \"\(directory.path)/x.csv\"}\n", file: "t.yaml", environment: [:])
        var engine = SyncEngine(config: config, store: try Store(), logger: .init(label: "test"))
        engine.clock = { ISO8601DateFormatter().date(from: "2026-11-21T09:00:00Z")! }
        #expect(await engine.syncAllOnce() == [])
        let text = String(decoding: engine.estate.exposition.rendered.body.readableBytesView, as: UTF8.self)
        let infrastructure = Self.exported(text, "infrazen_infrastructure_cost_monthly")
        let tenants = Self.exported(text, "infrazen_tenant_cost_monthly")
        let unallocated = Self.exported(text, "infrazen_unallocated_cost_monthly")
        let whole: Decimal = infrastructure.reduce(0, +)
        let parts: Decimal = tenants.reduce(0, +) + unallocated.reduce(0, +)
        let expectedTenants: [Decimal] = [Decimal(string: "0.45") ?? 0, Decimal(string: "0.45") ?? 0]
        #expect(whole == Decimal(string: "0.9"))
        #expect(tenants.sorted() == expectedTenants)
        #expect(parts == whole)
    }
}
