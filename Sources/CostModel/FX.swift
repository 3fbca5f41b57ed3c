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
