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

    /// The largest magnitude a provider's amount may have: beyond 10¹⁸ (a billion billion) a
    /// number is an error on the provider's side, and is refused rather than summed.
    public static let largestAmount = Decimal(sign: .plus, exponent: 18, significand: 1)

    /// Whether `amount` is a finite number below `largestAmount` in magnitude.
    public static func isPlausible(_ amount: Decimal) -> Bool {
        amount.isFinite && !amount.isNaN && amount.magnitude < largestAmount
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

    /// Exact parse of a JSON number literal, exponent forms included (`-12.5`, `1e-5`,
    /// `1.5E+16`), from its digits and never through `Double`: nil for anything JSON does not
    /// allow, for more than 38 significant digits (more than `Decimal` holds) and for
    /// magnitudes `Decimal` cannot hold (`1e400`).
    static func exactJSON<Bytes: Collection>(_ bytes: Bytes) -> Decimal? where Bytes.Element == UInt8 {
        var index = bytes.startIndex
        func next() -> UInt8? { index < bytes.endIndex ? bytes[index] : nil }
        func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        let negative = next() == UInt8(ascii: "-")
        if negative { index = bytes.index(after: index) }
        var significand: Decimal = 0
        var digits = 0            // significant digits kept, leading zeros not counted
        var pendingZeros = 0      // zeros after the last non-zero digit, not yet multiplied in
        var scale = 0             // digits after the point
        func take(_ byte: UInt8, fraction: Bool) -> Bool {
            if fraction { scale += 1 }
            if byte == 0x30 {
                if digits > 0 { pendingZeros += 1 }
                return true
            }
            digits += pendingZeros + 1
            guard digits <= 38 else { return false }
            for _ in 0..<pendingZeros { significand *= 10 }
            pendingZeros = 0
            significand = significand * 10 + Decimal(Int(byte - 0x30))
            return true
        }
        // Integer part: 0, or digits without a leading zero.
        guard isDigit(next()) else { return nil }
        if next() == 0x30 {
            index = bytes.index(after: index)
            guard !isDigit(next()) else { return nil }
        } else {
            while let byte = next(), isDigit(byte) {
                guard take(byte, fraction: false) else { return nil }
                index = bytes.index(after: index)
            }
        }
        if next() == UInt8(ascii: ".") {
            index = bytes.index(after: index)
            guard isDigit(next()) else { return nil }
            while let byte = next(), isDigit(byte) {
                guard take(byte, fraction: true) else { return nil }
                index = bytes.index(after: index)
            }
        }
        var exponent = 0
        if next() == UInt8(ascii: "e") || next() == UInt8(ascii: "E") {
            index = bytes.index(after: index)
            var exponentNegative = false
            if next() == UInt8(ascii: "+") || next() == UInt8(ascii: "-") {
                exponentNegative = next() == UInt8(ascii: "-")
                index = bytes.index(after: index)
            }
            guard isDigit(next()) else { return nil }
            while let byte = next(), isDigit(byte) {
                // Past six digits the exponent is out of any range; keep counting to the end.
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(byte - 0x30) }
                index = bytes.index(after: index)
            }
            if exponentNegative { exponent = -exponent }
        }
        guard index == bytes.endIndex else { return nil }
        if digits == 0 { return 0 }
        let power = exponent - scale + pendingZeros
        guard power >= -128, power <= 127 else { return nil }
        let value = Decimal(sign: negative ? .minus : .plus, exponent: power, significand: significand)
        return value.isFinite && !value.isNaN ? value : nil
    }

    /// `exactJSON` of a string.
    static func exactJSON(_ text: String) -> Decimal? { exactJSON(Array(text.utf8)) }

    func rounded(scale: Int, mode: NSDecimalNumber.RoundingMode = .plain) -> Decimal {
        var value = self
        var result = Decimal()
        NSDecimalRound(&result, &value, scale, mode)
        return result
    }

    /// Plain notation ("162.708333"), the form Prometheus' text format and our database expect.
    /// Whole micro-units (nearly every amount) are printed from an integer; the rest by Foundation.
    var plainString: String {
        if let micros = Micros.exact(self) { return Micros.plainString(micros) }
        return NSDecimalNumber(decimal: self).stringValue
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

    /// The same rate over another span of hours. In integers when amount, hours and period
    /// are whole micro-units and the result is too (a daily price over a 720-hour month);
    /// in `Decimal` otherwise. Both give the same exact value; the integers are 100 times faster.
    public func over(hours: Decimal) -> Money {
        if let micros = microsOver(hours: hours) { return Money(Micros.decimal(micros), currency) }
        guard periodHours > 0 else { return .zero(currency) }
        return Money(amount * hours / periodHours, currency)
    }

    /// The rate over `hours` in micro-units, when that is exact; nil otherwise.
    public func microsOver(hours: Decimal) -> Int64? {
        guard let a = Micros.exact(amount), let h = Micros.exact(hours), let p = Micros.exact(periodHours), p > 0 else { return nil }
        let product = a.multipliedFullWidth(by: h)
        let wide = Int64(truncatingIfNeeded: product.low)
        guard (product.high == 0 && wide >= 0) || (product.high == -1 && wide < 0) else { return nil }
        let (quotient, remainder) = wide.quotientAndRemainder(dividingBy: p)
        return remainder == 0 ? quotient : nil
    }

    /// Whether two rates charge the same per hour, without dividing when their periods agree.
    public func samePerHour(as other: Rate) -> Bool {
        if currency == other.currency && periodHours == other.periodHours { return amount == other.amount }
        return perHour == other.perHour
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
