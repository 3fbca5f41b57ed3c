import CostModel
import Foundation
import Testing

/// Billed spend allocated day by day and rounded once: the one computation behind month to
/// date, tenant month to date and the report. Every expected figure below is worked by hand.
@Suite("Billed spend")
struct BilledSpendTests {
    let nov = { (day: Int) in LocalDay(year: 2026, month: 11, day: day) }

    func row(_ day: Int, _ micros: Int64, source: String = "s", provider: String = "p", service: String = "svc",
             category: CostCategory = .compute, tenant: String = "", currency: Currency = .rub) -> AttributedCost {
        AttributedCost(source: source, cost: DailyCost(day: nov(day), provider: provider, resourceID: "", service: service, category: category,
                                                       account: "a", micros: micros, currency: currency), tenant: tenant)
    }

    @Test("days outside the period are left out: October 31 and November 21 do not count toward 1–20 November")
    func periodBounds() {
        let rows = [row(1, 1_000_000), row(20, 2_000_000), row(21, 50_000_000),
                    AttributedCost(source: "s", cost: DailyCost(day: LocalDay(year: 2026, month: 10, day: 31), provider: "p", resourceID: "",
                                                                service: "svc", category: .compute, account: "a", micros: 100_000_000, currency: .rub))]
        let spend = BilledSpend(rows, from: nov(1), through: nov(20), allocation: DailyAllocation())
        #expect(spend.lines.values.reduce(0, +) == 3_000_000)
        #expect(Set(spend.days.keys) == [nov(1), nov(20)])
    }

    @Test("each day's rest is split by that day's usage: 2:1 on the 1st, 1:3 on the 2nd")
    func usageByDay() {
        let usage = UsageDays([nov(1): ["a": 2, "b": 1], nov(2): ["a": 1, "b": 3]])
        let allocation = DailyAllocation(drivers: [.compute: .usage("app/vps", usage)], usage: ["app/vps": usage])
        let spend = BilledSpend([row(1, 90_000_000), row(2, 40_000_000)], from: nov(1), through: nov(30), allocation: allocation)
        // Day 1: 90 → a 60, b 30. Day 2: 40 → a 10, b 30. Month: a 70, b 60.
        #expect(spend.tenants == ["a": [.rub: 70_000_000], "b": [.rub: 60_000_000]])
        #expect(spend.unallocated == ["p": [.rub: 0]])
        #expect(spend.borrowedUsage.isEmpty)
    }

    @Test("a day without usage takes the last earlier day's; a day before the first takes the first, and both are noted")
    func borrowedUsage() {
        let usage = UsageDays([nov(5): ["a": 1, "b": 1], nov(7): ["a": 1]])
        let allocation = DailyAllocation(drivers: [.compute: .usage("app/vps", usage)], usage: ["app/vps": usage])
        let spend = BilledSpend([row(3, 10_000_000), row(6, 10_000_000), row(7, 10_000_000), row(8, 10_000_000)],
                                from: nov(1), through: nov(30), allocation: allocation)
        // Day 3 (before the 5th): 5 each. Day 6 (the 5th's): 5 each. Days 7 and 8 (the 7th's): all to a.
        #expect(spend.tenants == ["a": [.rub: 30_000_000], "b": [.rub: 10_000_000]])
        #expect(spend.borrowedUsage == ["app/vps": [nov(3): nov(5), nov(6): nov(5), nov(8): nov(7)]])
    }

    @Test("tagged rows stay their tenant's; a category without a driver stays unallocated by provider")
    func directAndUnallocated() {
        let rows = [row(1, 5_000_000, tenant: "shop"), row(1, 7_000_000, provider: "x", category: .storage),
                    row(1, 3_000_000, provider: "y", category: .storage)]
        let spend = BilledSpend(rows, from: nov(1), through: nov(30), allocation: DailyAllocation())
        #expect(spend.tenants == ["shop": [.rub: 5_000_000]])
        #expect(spend.unallocated == ["x": [.rub: 7_000_000], "y": [.rub: 3_000_000]])
    }

    @Test("proportional: the rest follows that day's direct cost, 3:1")
    func proportionalByDay() {
        let rows = [row(1, 3_000_000, tenant: "a"), row(1, 1_000_000, tenant: "b"), row(1, 8_000_000, category: .network)]
        let spend = BilledSpend(rows, from: nov(1), through: nov(30), allocation: DailyAllocation(otherwise: .proportional))
        #expect(spend.tenants == ["a": [.rub: 9_000_000], "b": [.rub: 3_000_000]])
    }

    @Test("a split in micro-units by largest remainder: 1 micro-unit over three equal tenants goes to the first")
    func splitRemainder() {
        let allocation = DailyAllocation(otherwise: .weighted(["a": 1, "b": 1, "c": 1]))
        let spend = BilledSpend([row(1, 1), row(2, -2)], from: nov(1), through: nov(30), allocation: allocation)
        // Day 1: 1 → 1, 0, 0. Day 2: −2 → −1, −1, 0.
        #expect(spend.tenants == ["a": [.rub: 0], "b": [.rub: -1], "c": [.rub: 0]])
    }

    @Test("tenants beyond those kept are summed into other")
    func folding() {
        let rows = [row(1, 1_000_000, tenant: "a"), row(1, 2_000_000, tenant: "b"), row(1, 4_000_000, tenant: "c")]
        let spend = BilledSpend(rows, from: nov(1), through: nov(30), allocation: DailyAllocation(), keptTenants: ["c"])
        #expect(spend.tenants == ["c": [.rub: 4_000_000], "other": [.rub: 3_000_000]])
    }

    @Test("a source's lines sum to its bill rounded once: 0.334 + 0.334 + 0.334 = 1.002 → 0.34 + 0.33 + 0.33 = 1.00")
    func sourceRoundedOnce() {
        let rows = [row(1, 334_000, service: "a"), row(1, 334_000, service: "b"), row(1, 334_000, service: "c")]
        let statement = SpendStatement(BilledSpend(rows, from: nov(1), through: nov(30), allocation: DailyAllocation()))
        #expect(statement.lines.map(\.amount) == [Decimal(string: "0.34")!, Decimal(string: "0.33")!, Decimal(string: "0.33")!])
        #expect(statement.totals == [.rub: 1])
    }

    @Test("the estate total is the sum of its sources' rounded bills, and the tenants meet it")
    func estateTotalFromSources() {
        // Three sources of 0.004 each: each bill rounds to 0.00, so the estate's total is 0.00,
        // not 0.012 → 0.01; the one tenant that carries all three then shows 0.00 too.
        let rows = ["s1", "s2", "s3"].map { row(1, 4_000, source: $0, tenant: "t") }
        let statement = SpendStatement(BilledSpend(rows, from: nov(1), through: nov(30), allocation: DailyAllocation()))
        #expect(statement.totals == [.rub: 0])
        #expect(statement.tenants == ["t": [.rub: 0]])
        #expect(statement.providers == ["p": [.rub: 0]])
    }

    @Test("tenants and the unallocated rest are rounded together to the total, per currency")
    func tenantsRoundedToTotal() {
        let rows = [row(1, 1_005_000, tenant: "a"), row(1, 1_005_000, tenant: "b"), row(1, 1_005_000, provider: "q"),
                    row(1, 2_500_000, tenant: "a", currency: Currency("USD"))]
        let statement = SpendStatement(BilledSpend(rows, from: nov(1), through: nov(30), allocation: DailyAllocation()))
        // RUB: 3.015 → 3.02 (half away from zero); floors 1.00 × 3, two cents to the first two of equal remainders.
        #expect(statement.totals == [.rub: Decimal(string: "3.02")!, Currency("USD"): Decimal(string: "2.5")!])
        #expect(statement.tenants == ["a": [.rub: Decimal(string: "1.01")!, Currency("USD"): Decimal(string: "2.5")!], "b": [.rub: Decimal(string: "1.01")!]])
        #expect(statement.unallocated == ["q": [.rub: 1]])
    }

    @Test("each day converted at its own day's rate: 1 USD at 80 on the 1st and at 90 on the 2nd is 170 RUB")
    func convertedPerDay() {
        var history = FXHistory(reporting: .rub)
        history.publish([Currency("USD"): 80], on: nov(1))
        history.publish([Currency("USD"): 90], on: nov(2))
        let rows = history.converted([row(1, 1_000_000, currency: Currency("USD")), row(2, 1_000_000, currency: Currency("USD")), row(2, 1_000_000, currency: Currency("EUR"))])
        let statement = SpendStatement(BilledSpend(rows, from: nov(1), through: nov(30), allocation: DailyAllocation()))
        #expect(statement.totals == [.rub: 170, Currency("EUR"): 1])
    }
}
