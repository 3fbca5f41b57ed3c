import Foundation

/// Exchange rates into the reporting currency: `rates[USD] = 81.5` means 1 USD = 81.5 RUB.
public struct FXTable: Sendable, Equatable {
    public var reporting: Currency
    public var rates: [Currency: Decimal]

    public init(reporting: Currency, rates: [Currency: Decimal]) {
        self.reporting = reporting
        self.rates = rates
    }

    /// The amount in the reporting currency; nil when no rate is known (the caller keeps the
    /// original currency rather than inventing a rate).
    public func toReporting(_ money: Money) -> Money? {
        if money.currency == reporting { return money }
        guard let rate = rates[money.currency] else { return nil }
        return Money(money.amount * rate, reporting)
    }

    /// Converted where a rate is known, unchanged otherwise.
    public func reportingOrOriginal(_ money: Money) -> Money { toReporting(money) ?? money }

    /// A rate in the reporting currency's terms, unchanged when no rate is known.
    public func reportingOrOriginal(_ rate: Rate) -> Rate {
        guard rate.currency != reporting, let factor = rates[rate.currency] else { return rate }
        return Rate(amount: rate.amount * factor, currency: reporting, periodHours: rate.periodHours)
    }
}

/// Exchange rates by day: each day's cost is valued at the rate in force that day, so a
/// past day's total stays what it was when the rate moves later. The bank publishes a rate
/// for a date (the CBR's `ValCurs Date`); it stays in force until the next published date,
/// so a weekend or holiday uses the last rate published before it. A day before the first
/// stored publication uses the earliest one stored (the exporter keeps only what it fetched);
/// a currency the bank never published uses the configured fixed rate.
public struct FXHistory: Sendable, Equatable {
    /// A rate in force from `day` on.
    public struct Publication: Sendable, Equatable {
        public var day: LocalDay
        public var rate: Decimal
        public init(day: LocalDay, rate: Decimal) {
            self.day = day
            self.rate = rate
        }
    }

    public var reporting: Currency
    /// Configured rates (`fx.rates`): for every day of a currency without publications.
    public var fixed: [Currency: Decimal]
    /// Published rates per currency, oldest first, one per day.
    public private(set) var published: [Currency: [Publication]] = [:]

    public init(reporting: Currency, fixed: [Currency: Decimal] = [:]) {
        self.reporting = reporting
        self.fixed = fixed
    }

    /// Records the rates published for `day`, replacing any recorded for that day.
    public mutating func publish(_ rates: [Currency: Decimal], on day: LocalDay) {
        for (currency, rate) in rates where currency != reporting {
            var list = published[currency] ?? []
            list.removeAll { $0.day == day }
            let index = list.firstIndex { $0.day > day } ?? list.count
            list.insert(Publication(day: day, rate: rate), at: index)
            published[currency] = list
        }
    }

    /// The rate of `currency` on `day`: the last publication on or before it, else the first
    /// one, else the fixed rate; 1 for the reporting currency; nil when none is known.
    public func rate(_ currency: Currency, on day: LocalDay) -> Decimal? {
        if currency == reporting { return 1 }
        guard let list = published[currency], let first = list.first else { return fixed[currency] }
        // Binary search for the last publication not after `day`.
        var low = 0, high = list.count
        while low < high {
            let middle = (low + high) / 2
            if list[middle].day <= day { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? first.rate : list[low - 1].rate
    }

    /// The rates in force on `day`, as one table (run rates are valued at today's).
    public func table(on day: LocalDay) -> FXTable {
        var rates = fixed
        for currency in published.keys { rates[currency] = rate(currency, on: day) }
        rates[reporting] = nil
        return FXTable(reporting: reporting, rates: rates)
    }

    /// A day's amount in micro-units in the reporting currency at that day's rate, rounded
    /// half-to-even to the micro-unit; nil when no rate is known or the result does not fit.
    public func toReporting(micros: Int64, _ currency: Currency, on day: LocalDay) -> Int64? {
        if currency == reporting { return micros }
        guard let rate = rate(currency, on: day) else { return nil }
        return Micros.from(Micros.decimal(micros) * rate)
    }
}
