import Foundation

/// An ISO 4217 currency code, upper-case (`RUB`, `USD`).
public struct Currency: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let code: String

    public init(_ code: String) { self.code = code.uppercased() }

    public static let rub = Currency("RUB")
    public var description: String { code }
    public static func < (a: Currency, b: Currency) -> Bool { a.code < b.code }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
}

/// An exact amount of money in one currency. Amounts are `Decimal`, never floating point:
/// summing a million kopecks gives exactly 10000.00.
public struct Money: Hashable, Sendable, Codable, CustomStringConvertible {
    public var amount: Decimal
    public var currency: Currency

    public init(_ amount: Decimal, _ currency: Currency) {
        self.amount = amount
        self.currency = currency
    }

    public static func zero(_ currency: Currency) -> Money { Money(0, currency) }

    /// Parses a plain decimal string ("117150.00") exactly, without going through Double.
    public init?(_ text: String, _ currency: Currency) {
        guard let amount = Decimal.exact(text) else { return nil }
        self.init(amount, currency)
    }

    /// Converts kopecks (Selectel reports in them) to roubles at the connector edge.
    public static func rubles(kopecks: Int64) -> Money {
        Money(Decimal(kopecks) / 100, .rub)
    }

    public var description: String { "\(amount.plainString) \(currency.code)" }

    private enum CodingKeys: String, CodingKey { case amount, currency }
    /// Amounts travel as decimal strings: a JSON number would pass through Double.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        amount = try container.decodeExactDecimal(.amount)
        currency = try container.decode(Currency.self, forKey: .currency)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(amount.plainString, forKey: .amount)
        try container.encode(currency, forKey: .currency)
    }

    /// Rounded half-up to `scale` fraction digits (2 for kopecks and cents).
    public func rounded(scale: Int = 2) -> Money { Money(amount.rounded(scale: scale), currency) }
}

public extension Decimal {
    /// Exact parse of a decimal literal (`-12.50`, `3e2` is rejected). `Decimal(string:)` accepts
    /// trailing garbage ("12abc" → 12), which would silently corrupt money.
    static func exact(_ text: String) -> Decimal? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var digits = 0
        var dots = 0
        var first = true
        for byte in trimmed.utf8 {
            defer { first = false }
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "."): dots += 1
            case UInt8(ascii: "-"), UInt8(ascii: "+"): if !first { return nil }
            default: return nil
            }
        }
        guard digits > 0, dots <= 1 else { return nil }
        return Decimal(string: trimmed, locale: Locale(identifier: "en_US_POSIX"))
    }

    func rounded(scale: Int, mode: NSDecimalNumber.RoundingMode = .plain) -> Decimal {
        var value = self
        var result = Decimal()
        NSDecimalRound(&result, &value, scale, mode)
        return result
    }

    /// Plain notation ("162.708333"), the form Prometheus' text format and our database expect.
    var plainString: String {
        NSDecimalNumber(decimal: self).stringValue
    }
}

/// A recurring price: `amount` per `periodHours` hours. Converting between periods multiplies
/// before dividing so that a daily price of 1086.50 is exactly 32595.00 over a 720-hour month.
public struct Rate: Hashable, Sendable, Codable {
    public var amount: Decimal
    public var currency: Currency
    public var periodHours: Decimal

    public init(_ money: Money, per period: BillingPeriod, hoursPerMonth: Decimal = 720) {
        amount = money.amount
        currency = money.currency
        periodHours = period.hours(hoursPerMonth: hoursPerMonth)
    }

    public init(amount: Decimal, currency: Currency, periodHours: Decimal) {
        self.amount = amount
        self.currency = currency
        self.periodHours = periodHours
    }

    /// The same rate over another span of hours.
    public func over(hours: Decimal) -> Money {
        guard periodHours > 0 else { return .zero(currency) }
        return Money(amount * hours / periodHours, currency)
    }

    public var perHour: Money { over(hours: 1) }

    private enum CodingKeys: String, CodingKey { case amount, currency, periodHours = "period_hours" }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        amount = try container.decodeExactDecimal(.amount)
        currency = try container.decode(Currency.self, forKey: .currency)
        periodHours = try container.decodeExactDecimal(.periodHours)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(amount.plainString, forKey: .amount)
        try container.encode(currency, forKey: .currency)
        try container.encode(periodHours.plainString, forKey: .periodHours)
    }
    public func monthly(hoursPerMonth: Decimal) -> Money { over(hours: hoursPerMonth) }

    /// Adds another rate in the same currency, keeping the first one's period.
    public func adding(_ other: Rate) -> Rate {
        precondition(other.currency == currency, "rates in different currencies: \(currency) and \(other.currency)")
        return Rate(amount: amount + other.over(hours: periodHours).amount, currency: currency, periodHours: periodHours)
    }
}

/// The period a price is quoted for.
public enum BillingPeriod: String, Hashable, Sendable, Codable, CaseIterable {
    case hourly, daily, monthly, quarterly, yearly
    /// A single charge, spread over the month it falls in: a one-off 720 ₽ is 1 ₽ an hour that month.
    case oneTime = "one_time"

    public func hours(hoursPerMonth: Decimal) -> Decimal {
        switch self {
        case .hourly: 1
        case .daily: 24
        case .monthly: hoursPerMonth
        case .quarterly: hoursPerMonth * 3
        case .yearly: hoursPerMonth * 12
        case .oneTime: hoursPerMonth
        }
    }
}

extension KeyedDecodingContainer {
    func decodeExactDecimal(_ key: Key) throws -> Decimal {
        let text = try decode(String.self, forKey: key)
        guard let value = Decimal.exact(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not a decimal amount: \(text)")
        }
        return value
    }
}
