import CostModel
import Foundation
import Testing

let moscow = TimeZone(identifier: "Europe/Moscow")!
/// Friday 2026-11-20, 12:00 in Moscow.
let fridayNoon = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!

func series(_ scope: String = "total", from first: LocalDay, days: Int, _ amount: (Int, LocalDay) -> Decimal) -> DailySeries {
    var amounts: [LocalDay: Decimal] = [:]
    for offset in 0..<days {
        let day = first.adding(days: offset)
        amounts[day] = amount(offset, day)
    }
    return DailySeries(scope: CostScope(scope), currency: .rub, amounts: amounts)
}

@Suite("Anomaly scores")
struct AnomalyTests {
    let target = LocalDay(year: 2026, month: 11, day: 19)
    var baselineStart: LocalDay { target.adding(days: -28) }

    @Test("a day like its flat baseline scores 0; 50 % above scores 50 (spread floored at 1 % of the median)")
    func flat() throws {
        let normal = series(from: baselineStart, days: 29) { _, _ in 100 }
        #expect(try #require(AnomalyDetector().score(normal, day: target)).score == 0)
        var spiked = normal
        spiked.amounts[target] = 150
        #expect(try #require(AnomalyDetector().score(spiked, day: target)).score == 50)
    }

    @Test("median and MAD: a baseline of 90 and 110 puts 130 at 30 / (1.4826 × 10) = 2.0235")
    func madScore() throws {
        var values = series(from: baselineStart, days: 28) { offset, _ in offset % 2 == 0 ? 90 : 110 }
        values.amounts[target] = 130
        let score = try #require(AnomalyDetector().score(values, day: target)).score
        #expect(abs(score - 30 / (1.4826 * 10)) < 1e-9)
    }

    @Test("weekday-aware: a Sunday at half the weekday cost is normal, a Sunday at weekday cost is not")
    func weekdays() throws {
        let sunday = LocalDay(year: 2026, month: 11, day: 22)
        #expect(sunday.isoWeekday == 7)
        var values = series(from: sunday.adding(days: -28), days: 28) { _, day in day.isoWeekday >= 6 ? 50 : 100 }
        values.amounts[sunday] = 50
        #expect(try #require(AnomalyDetector().score(values, day: sunday)).score == 0)
        values.amounts[sunday] = 100
        // Normalised: 100 / 0.5 = 200 against a median of 100, spread 1.
        #expect(try #require(AnomalyDetector().score(values, day: sunday)).score == 100)
    }

    @Test("no score without 28 days of baseline")
    func shortHistory() {
        let short = series(from: target.adding(days: -27), days: 28) { _, _ in 100 }
        #expect(AnomalyDetector().score(short, day: target) == nil)
        #expect(AnomalyDetector().score(DailySeries(scope: .total, currency: .rub, amounts: [:]), day: target) == nil)
        let enough = series(from: target.adding(days: -28), days: 29) { _, _ in 100 }
        #expect(AnomalyDetector().score(enough, day: target) != nil)
    }
}

@Suite("Forecasts")
struct ForecastTests {
    @Test("month-end: 19 billed days, half of today and ten more days at 100 a day give 3000")
    func monthEnd() {
        var values = series(from: LocalDay(year: 2026, month: 10, day: 1), days: 50) { _, _ in 100 }
        values.amounts[LocalDay(year: 2026, month: 11, day: 20)] = 50
        #expect(Forecaster().monthEnd(values, now: fridayNoon, timeZone: moscow) == 3000)
    }

    @Test("the weekday profile projects weekends at their own level")
    func weekdayProfile() {
        // Weekdays 100, weekends 40. From Saturday 21st to Monday 30th: 2+2 weekend days, 6 weekdays.
        var values = series(from: LocalDay(year: 2026, month: 10, day: 1), days: 51) { _, day in day.isoWeekday >= 6 ? 40 : 100 }
        values.amounts[LocalDay(year: 2026, month: 11, day: 20)] = 50
        let billed = values.values(from: LocalDay(year: 2026, month: 11, day: 1), through: LocalDay(year: 2026, month: 11, day: 20))
            .map(\.amount).reduce(0, +)
        // Rest of Friday 50, Sat 21 + Sun 22 + Sat 28 + Sun 29 = 160, Mon 23–Fri 27 + Mon 30 = 600.
        #expect(Forecaster().monthEnd(values, now: fridayNoon, timeZone: moscow) == billed + Decimal(50 + 160 + 600))
    }

    @Test("30-day horizon of y = 10 + x over 90 days is 300 + (90 + 119) × 15 = 3435")
    func horizonLinear() throws {
        let first = LocalDay(year: 2026, month: 8, day: 22)
        let values = series(from: first, days: 90) { offset, _ in Decimal(10 + offset) }
        let last = first.adding(days: 89)
        #expect(try #require(Forecaster().horizon(values, days: 30, lastFullDay: last)) == 3435)
        #expect(try #require(Forecaster().horizon(values, days: 60, lastFullDay: last)) == Decimal(600 + (90 + 149) * 30))
    }

    @Test("a falling trend is not forecast below zero")
    func horizonFalling() throws {
        let first = LocalDay(year: 2026, month: 8, day: 22)
        let values = series(from: first, days: 90) { offset, _ in Decimal(89 - offset) }
        // Next days would be -1, -2, …: all clamped to 0.
        #expect(try #require(Forecaster().horizon(values, days: 30, lastFullDay: first.adding(days: 89))) == 0)
    }
}

@Suite("Budgets")
struct BudgetTests {
    func costs(service: String = "Compute", _ daily: Decimal, from first: LocalDay, through last: LocalDay, tenant: String = "") -> [AttributedCost] {
        var result: [AttributedCost] = []
        var day = first
        while day <= last {
            result.append(AttributedCost(source: "s", cost: DailyCost(day: day, provider: "selectel", resourceID: "r", service: service,
                                                                    category: .compute, account: "a", cost: Money(daily, .rub)), tenant: tenant))
            day = day.adding(days: 1)
        }
        return result
    }

    @Test("spent, forecast, utilisation and thresholds of a monthly budget, by hand")
    func monthly() {
        let history = costs(100, from: LocalDay(year: 2026, month: 10, day: 1), through: LocalDay(year: 2026, month: 11, day: 20))
        let status = Budget(name: "total", amount: Money(3000, .rub)).evaluate(history, now: fridayNoon, timeZone: moscow)
        #expect(status.spent == 2000)                       // 1–20 November
        #expect(status.forecast == Decimal(2000 + 50 + 1000))        // rest of today + 21–30 November
        #expect(abs(status.utilization - 2.0 / 3.0) < 1e-12)
        #expect(status.crossed.map(\.reached) == [true, false, false])
    }

    @Test("a scoped budget counts only its slice")
    func scoped() {
        let history = costs(service: "Compute", 100, from: LocalDay(year: 2026, month: 11, day: 1), through: LocalDay(year: 2026, month: 11, day: 20))
            + costs(service: "Object Storage", 10, from: LocalDay(year: 2026, month: 11, day: 1), through: LocalDay(year: 2026, month: 11, day: 20))
        let budget = Budget(name: "storage", amount: Money(150, .rub), scope: ["service": "Object Storage"])
        let status = budget.evaluate(history, now: fridayNoon, timeZone: moscow)
        #expect(status.spent == 200)
        #expect(status.crossed.allSatisfy { $0.reached })
    }

    @Test("quarterly and yearly periods span their calendar bounds")
    func periods() {
        let day = LocalDay(year: 2026, month: 11, day: 20)
        #expect(Budget.Period.quarterly.bounds(containing: day) == (LocalDay(year: 2026, month: 10, day: 1), LocalDay(year: 2026, month: 12, day: 31)))
        #expect(Budget.Period.quarterly.bounds(containing: LocalDay(year: 2026, month: 2, day: 3)).last == LocalDay(year: 2026, month: 3, day: 31))
        #expect(Budget.Period.yearly.bounds(containing: day).first == LocalDay(year: 2026, month: 1, day: 1))
        #expect(Budget.Period.monthly.bounds(containing: LocalDay(year: 2024, month: 2, day: 10)).last == LocalDay(year: 2024, month: 2, day: 29))
    }

    @Test("a quarterly budget sums October and November so far")
    func quarterly() {
        let history = costs(10, from: LocalDay(year: 2026, month: 9, day: 1), through: LocalDay(year: 2026, month: 11, day: 20))
        let status = Budget(name: "q", amount: Money(1000, .rub), period: .quarterly).evaluate(history, now: fridayNoon, timeZone: moscow)
        #expect(status.spent == Decimal(10 * (31 + 20)))
    }
}
