import CostModel
import Foundation
import Testing

@Suite("Money and rates")
struct MoneyTests {
    @Test("a million kopecks sum to exactly 10000.00")
    func millionKopecks() {
        let kopeck = Money.rubles(kopecks: 1)
        var total = Money.zero(.rub)
        for _ in 0..<1_000_000 { total.amount += kopeck.amount }
        #expect(total.amount == Decimal(10_000))
        #expect(total.amount.plainString == "10000")
    }

    @Test("a daily price becomes a 720-hour monthly price without rounding error")
    func dailyToMonthly() {
        // 1086.50 ₽/day × 30 days = 32595.00 ₽, computed by hand.
        let rate = Rate(Money(Decimal(string: "1086.50")!, .rub), per: .daily)
        #expect(rate.monthly(hoursPerMonth: 720).amount == Decimal(32_595))
        // 1086.50 × 730 / 24 = 33047.7083… → 33047.71 at kopeck precision.
        #expect(rate.monthly(hoursPerMonth: 730).amount.rounded(scale: 2) == Decimal(string: "33047.71")!)
    }

    @Test("hours per month decides what a monthly price costs per hour")
    func monthlyPerHour() {
        let rate = Rate(Money(7200, .rub), per: .monthly, hoursPerMonth: 720)
        #expect(rate.perHour.amount == 10)
        let yearly = Rate(Money(8640, .rub), per: .yearly, hoursPerMonth: 720)
        #expect(yearly.perHour.amount == 1)
    }

    @Test("adding rates of different periods keeps the first period")
    func addingRates() {
        let daily = Rate(Money(24, .rub), per: .daily)
        let hourly = Rate(Money(2, .rub), per: .hourly)
        let sum = daily.adding(hourly)
        #expect(sum.periodHours == 24)
        #expect(sum.amount == 72)  // 24 + 2 × 24
        #expect(sum.perHour.amount == 3)
    }

    @Test("exact parsing rejects what Decimal(string:) would half-read")
    func exactParsing() {
        #expect(Decimal.exact("12.50") == Decimal(string: "12.5"))
        #expect(Decimal.exact("-3") == -3)
        #expect(Decimal.exact("12abc") == nil)
        #expect(Decimal.exact("1e5") == nil)
        #expect(Decimal.exact("1.2.3") == nil)
        #expect(Decimal.exact("") == nil)
    }

    @Test("kopecks convert to roubles at the edge")
    func kopecks() {
        #expect(Money.rubles(kopecks: 1_234_567) == Money(Decimal(string: "12345.67")!, .rub))
    }

    @Test("money survives a JSON round trip exactly")
    func jsonRoundTrip() throws {
        let rate = Rate(Money(Decimal(string: "0.10")!, .rub), per: .daily)
        let decoded = try JSONDecoder().decode(Rate.self, from: JSONEncoder().encode(rate))
        #expect(decoded == rate)
        #expect(decoded.over(hours: 240).amount == 1)
    }
}

@Suite("Local days")
struct LocalDayTests {
    @Test("a UTC evening is already tomorrow in Moscow")
    func moscowDay() throws {
        let instant = try #require(ISO8601DateFormatter().date(from: "2026-11-30T22:30:00Z"))
        let moscow = try #require(TimeZone(identifier: "Europe/Moscow"))
        #expect(LocalDay(instant, in: moscow) == LocalDay(year: 2026, month: 12, day: 1))
        #expect(LocalDay(instant, in: try #require(TimeZone(identifier: "UTC"))).description == "2026-11-30")
    }

    @Test("parses YYYY-MM-DD and refuses anything else")
    func parsing() {
        #expect(LocalDay("2026-11-20") == LocalDay(year: 2026, month: 11, day: 20))
        #expect(LocalDay("2026-02-09")?.description == "2026-02-09")
        for bad in ["", "2026-11", "2026-13-01", "2026-11-00", "2026-11-20-1", "2026/11/20", "20261-11-20", "2026--20", "x"] {
            #expect(LocalDay(bad) == nil, "\(bad)")
        }
    }

    @Test("adding days crosses month and year ends")
    func adding() {
        #expect(LocalDay(year: 2026, month: 12, day: 31).adding(days: 1) == LocalDay(year: 2027, month: 1, day: 1))
        #expect(LocalDay(year: 2024, month: 3, day: 1).adding(days: -1) == LocalDay(year: 2024, month: 2, day: 29))
    }

    @Test("ISO weekday: 2026-11-23 is a Monday, 2026-11-22 a Sunday")
    func weekday() {
        #expect(LocalDay(year: 2026, month: 11, day: 23).isoWeekday == 1)
        #expect(LocalDay(year: 2026, month: 11, day: 22).isoWeekday == 7)
    }
}

@Suite("JSON number literals, exactly")
struct JSONNumberTests {
    @Test("exponent forms and long fractions read digit for digit, as Decimal(string:) of their plain form reads them")
    func exact() {
        let cases: [(String, String)] = [
            ("1e-5", "0.00001"), ("1.5E+16", "15000000000000000"), ("1.2345678901234567E+16", "12345678901234567"),
            ("-2.50e-3", "-0.0025"), ("0.0000001234", "0.0000001234"), ("100", "100"), ("0", "0"), ("-0.0", "0"),
            ("12345678901234567890.123456789012345678", "12345678901234567890.123456789012345678"), ("1E0", "1"), ("7e+2", "700"),
        ]
        for (literal, plain) in cases {
            #expect(Decimal.exactJSON(literal) == Decimal(string: plain, locale: Locale(identifier: "en_US_POSIX")), "\(literal)")
        }
    }

    @Test("not JSON, more than 38 significant digits, or beyond Decimal's range: nil")
    func refused() {
        for literal in ["", "-", "1.", ".5", "01", "1e", "1e+", "+1", "0x10", "1,5", "NaN", "Infinity", "1 ", "1e400", "-1e400", "1e-400",
                        "123456789012345678901234567890123456789"] {
            #expect(Decimal.exactJSON(literal) == nil, "\(literal)")
        }
    }

    @Test("plausible amounts: finite and below 10^18")
    func plausible() {
        #expect(Money.isPlausible(Decimal(string: "999999999999999999.99")!))
        #expect(!Money.isPlausible(Decimal(string: "1000000000000000000")!))
        #expect(!Money.isPlausible(Decimal(string: "-1000000000000000000")!))
        #expect(!Money.isPlausible(Decimal.nan))
    }
}

@Suite("Horizon forecasts, rounded once")
struct HorizonRoundingTests {
    let last = LocalDay(year: 2026, month: 11, day: 19)

    func series(_ amount: Decimal) -> DailySeries {
        DailySeries(scope: CostScope("total"), currency: .rub,
                    amounts: Dictionary(uniqueKeysWithValues: (0..<90).map { (last.adding(days: -$0), amount) }))
    }

    @Test("a flat 10.10 a day: 30 days are 303.00, 90 days 909.00, to the cent")
    func flat() {
        #expect(Forecaster().horizon(series(Decimal(string: "10.1")!), days: 30, lastFullDay: last) == Decimal(string: "303")!)
        #expect(Forecaster().horizon(series(Decimal(string: "10.1")!), days: 90, lastFullDay: last) == Decimal(string: "909")!)
    }

    @Test("the fitted Double becomes cents half away from zero, from its binary value; not finite or past 2^53 cents, no forecast")
    func cents() {
        #expect(Forecaster.cents(0.125) == Decimal(string: "0.13")!)
        #expect(Forecaster.cents(-0.125) == Decimal(string: "-0.13")!)
        #expect(Forecaster.cents(.nan) == nil)
        #expect(Forecaster.cents(.infinity) == nil)
        #expect(Forecaster.cents(1e14) == nil)
        #expect(Forecaster().horizon(series(Decimal(sign: .plus, exponent: 13, significand: 1)), days: 90, lastFullDay: last) == nil)
    }
}

@Suite("Exchange rates")
struct FXTests {
    let fx = FXTable(reporting: .rub, rates: [Currency("USD"): Decimal(string: "81.5")!])

    @Test("120 USD at 81.5 is 9780 RUB; the reporting currency passes through")
    func convert() {
        #expect(fx.toReporting(Money(120, Currency("USD"))) == Money(9780, .rub))
        #expect(fx.toReporting(Money(5, .rub)) == Money(5, .rub))
    }

    @Test("no rate, no conversion: the original currency stays")
    func missingRate() {
        #expect(fx.toReporting(Money(1, Currency("EUR"))) == nil)
        #expect(fx.reportingOrOriginal(Money(1, Currency("EUR"))) == Money(1, Currency("EUR")))
        let rate = Rate(Money(24, Currency("USD")), per: .daily)
        #expect(fx.reportingOrOriginal(rate).perHour == Money(Decimal(string: "81.5")!, .rub))
    }

    @Test("by day: a day takes the last rate published on or before it (Saturday and Sunday Friday's), a day before the first publication the first, an unpublished currency the fixed rate")
    func ratesByDay() {
        let usd = Currency("USD"), eur = Currency("EUR")
        var history = FXHistory(reporting: .rub, fixed: [usd: 70, eur: 94])
        history.publish([usd: 80], on: LocalDay(year: 2026, month: 11, day: 20))  // Friday
        history.publish([usd: 82], on: LocalDay(year: 2026, month: 11, day: 24))  // Tuesday (Monday a holiday)
        history.publish([usd: 81], on: LocalDay(year: 2026, month: 11, day: 24))  // republished: replaces
        #expect(history.rate(usd, on: LocalDay(year: 2026, month: 11, day: 22)) == 80)
        #expect(history.rate(usd, on: LocalDay(year: 2026, month: 11, day: 23)) == 80)
        #expect(history.rate(usd, on: LocalDay(year: 2026, month: 11, day: 24)) == 81)
        #expect(history.rate(usd, on: LocalDay(year: 2026, month: 12, day: 31)) == 81)
        #expect(history.rate(usd, on: LocalDay(year: 2026, month: 10, day: 1)) == 80)
        #expect(history.rate(eur, on: LocalDay(year: 2026, month: 11, day: 22)) == 94)
        #expect(history.rate(.rub, on: LocalDay(year: 2026, month: 11, day: 22)) == 1)
        #expect(history.rate(Currency("KZT"), on: LocalDay(year: 2026, month: 11, day: 22)) == nil)
        // 12.345678 USD on the Sunday at 80: 987.65424 RUB; on the Tuesday at 81: 999.999918.
        #expect(history.toReporting(micros: 12_345_678, usd, on: LocalDay(year: 2026, month: 11, day: 22)) == 987_654_240)
        #expect(history.toReporting(micros: 12_345_678, usd, on: LocalDay(year: 2026, month: 11, day: 24)) == 999_999_918)
        #expect(history.table(on: LocalDay(year: 2026, month: 11, day: 23)).rates == [usd: 80, eur: 94])
    }
}

