import Foundation

/// A cost scope: the whole estate or one slice of it (`provider:yandex`, `service:Object Storage`).
public struct CostScope: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public static let total = CostScope("total")
    public static func provider(_ value: String) -> CostScope { CostScope("provider:\(value)") }
    public static func service(_ value: String) -> CostScope { CostScope("service:\(value)") }
    public static func category(_ value: CostCategory) -> CostScope { CostScope("category:\(value.rawValue)") }
    public var description: String { name }
    public static func < (a: Self, b: Self) -> Bool { a.name < b.name }
}

/// Billed cost per local day of one scope and currency. Days with no bill are zero, not missing.
public struct DailySeries: Sendable, Equatable {
    public var scope: CostScope
    public var currency: Currency
    public var amounts: [LocalDay: Decimal]

    public init(scope: CostScope, currency: Currency, amounts: [LocalDay: Decimal]) {
        self.scope = scope
        self.currency = currency
        self.amounts = amounts
    }

    public func amount(on day: LocalDay) -> Decimal { amounts[day] ?? 0 }

    /// The days from `first` through `last`, in order, zero where nothing was billed.
    public func values(from first: LocalDay, through last: LocalDay) -> [(day: LocalDay, amount: Decimal)] {
        var result: [(LocalDay, Decimal)] = []
        var day = first
        while day <= last {
            result.append((day, amount(on: day)))
            day = day.adding(days: 1)
        }
        return result
    }

    /// Series for the total, each provider, each service and each category, per currency.
    public static func scopes(of costs: [DailyCost]) -> [DailySeries] {
        var series: [SeriesKey: [LocalDay: Decimal]] = [:]
        for row in costs {
            let amount = Micros.decimal(row.micros)
            for scope in [CostScope.total, .provider(row.provider), .service(row.service), .category(row.category)] {
                series[SeriesKey(scope: scope, currency: row.currency), default: [:]][row.day, default: 0] += amount
            }
        }
        return series.map { DailySeries(scope: $0.key.scope, currency: $0.key.currency, amounts: $0.value) }
            .sorted { ($0.scope, $0.currency) < ($1.scope, $1.currency) }
    }

    private struct SeriesKey: Hashable {
        var scope: CostScope
        var currency: Currency
    }
}
