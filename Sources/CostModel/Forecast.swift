import Foundation

/// Projections of spend: to the end of a period from what is billed so far, and over the
/// next 30/60/90 days from the trend of the daily history.
public struct Forecaster: Sendable {
    public init() {}

    /// Expected cost of each weekday: the mean of that weekday over the four weeks before `day`.
    public func weekdayProfile(_ series: DailySeries, before day: LocalDay) -> [Int: Decimal] {
        var sums: [Int: Decimal] = [:]
        for (past, amount) in series.values(from: day.adding(days: -28), through: day.adding(days: -1)) {
            sums[past.isoWeekday, default: 0] += amount
        }
        return sums.mapValues { $0 / 4 }
    }

    /// Spend projected at the end of `last`: billed from `first` through today (today's part
    /// included), plus what the weekday profile expects for the rest of today and each
    /// remaining day.
    public func projectPeriodEnd(_ series: DailySeries, first: LocalDay, last: LocalDay, now: Date, timeZone: TimeZone) -> Decimal {
        let today = LocalDay(now, in: timeZone)
        let billed = series.values(from: first, through: min(today, last)).map(\.amount).reduce(0, +)
        guard today <= last else { return billed }
        let profile = weekdayProfile(series, before: today)
        let elapsed = min(1, max(0, now.timeIntervalSince(today.start(in: timeZone)) / 86_400))
        // Minutes, so the fraction is an exact decimal.
        let remainingToday = Decimal(Int(((1 - elapsed) * 1440).rounded())) / 1440
        var expected = (profile[today.isoWeekday] ?? 0) * remainingToday
        var day = today.adding(days: 1)
        while day <= last {
            expected += profile[day.isoWeekday] ?? 0
            day = day.adding(days: 1)
        }
        return billed + expected
    }

    /// Month-end projection from month-to-date.
    public func monthEnd(_ series: DailySeries, now: Date, timeZone: TimeZone) -> Decimal {
        let today = LocalDay(now, in: timeZone)
        return projectPeriodEnd(series, first: today.firstOfMonth, last: today.lastOfMonth, now: now, timeZone: timeZone)
    }

    /// Spend over the `horizonDays` after `lastFullDay`, by a least-squares line through the
    /// `historyDays` full days up to it. A falling trend is not extrapolated below zero.
    public func horizon(_ series: DailySeries, days horizonDays: Int, lastFullDay: LocalDay, historyDays: Int = 90) -> Decimal? {
        let history = series.values(from: lastFullDay.adding(days: -(historyDays - 1)), through: lastFullDay)
        let points = history.enumerated().map { (x: Double($0.offset), y: $0.element.amount.doubleValue) }
        guard let fit = Statistics.linearFit(points) else { return nil }
        let lastX = Double(history.count - 1)
        let total = (1...max(1, horizonDays)).map { max(0, fit.intercept + fit.slope * (lastX + Double($0))) }.reduce(0, +)
        return Self.cents(total)
    }

    /// A fitted amount in whole cents, rounded once, half away from zero, from the binary
    /// value itself (`Decimal(Double)` would first add binary noise digits and round those);
    /// nil when it is not finite or past 2⁵³ cents, where a Double no longer holds every cent.
    public static func cents(_ amount: Double) -> Decimal? {
        let cents = (amount * 100).rounded(.toNearestOrAwayFromZero)
        guard cents.isFinite, cents.magnitude < 9_007_199_254_740_992 else { return nil }
        return Decimal(sign: cents < 0 ? .minus : .plus, exponent: -2, significand: Decimal(Int64(cents.magnitude)))
    }
}
