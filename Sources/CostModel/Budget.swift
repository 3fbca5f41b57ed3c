import Foundation

/// A spending limit over a calendar period, for the whole estate or a slice of it.
public struct Budget: Sendable, Equatable {
    public enum Period: String, Sendable, CaseIterable {
        case monthly, quarterly, yearly

        /// First and last local day of the period containing `day`.
        public func bounds(containing day: LocalDay) -> (first: LocalDay, last: LocalDay) {
            switch self {
            case .monthly:
                return (day.firstOfMonth, day.lastOfMonth)
            case .quarterly:
                let firstMonth = (day.month - 1) / 3 * 3 + 1
                let first = LocalDay(year: day.year, month: firstMonth, day: 1)
                return (first, LocalDay(year: day.year, month: firstMonth + 2, day: 1).lastOfMonth)
            case .yearly:
                return (LocalDay(year: day.year, month: 1, day: 1), LocalDay(year: day.year, month: 12, day: 31))
            }
        }
    }

    public var name: String
    public var amount: Money
    public var period: Period
    public var thresholds: [Decimal]
    /// Dimension → required value: source, provider, account, category, service, tenant, team.
    public var scope: [String: String]

    public init(name: String, amount: Money, period: Period = .monthly, thresholds: [Decimal] = [0.5, 0.8, 1.0], scope: [String: String] = [:]) {
        self.name = name
        self.amount = amount
        self.period = period
        self.thresholds = thresholds
        self.scope = scope
    }
}

/// One day's cost with every dimension a budget or allocation can select on.
public struct AttributedCost: Sendable, Equatable {
    public var source: String
    public var cost: DailyCost
    public var tenant: String
    public var team: String

    public init(source: String, cost: DailyCost, tenant: String = "", team: String = "") {
        self.source = source
        self.cost = cost
        self.tenant = tenant
        self.team = team
    }

    func value(of dimension: String) -> String? {
        switch dimension {
        case "source": source
        case "provider": cost.provider
        case "account": cost.account
        case "category": cost.category.rawValue
        case "service": cost.service
        case "tenant": tenant
        case "team": team
        default: nil
        }
    }
}

public struct BudgetStatus: Sendable, Equatable {
    public var budget: Budget
    public var spent: Decimal
    public var forecast: Decimal
    public var utilization: Double
    /// Each threshold and whether spend has reached it.
    public var crossed: [(threshold: Decimal, reached: Bool)]

    public static func == (a: Self, b: Self) -> Bool {
        a.budget == b.budget && a.spent == b.spent && a.forecast == b.forecast && a.utilization == b.utilization
            && a.crossed.map(\.threshold) == b.crossed.map(\.threshold) && a.crossed.map(\.reached) == b.crossed.map(\.reached)
    }
}

public extension Budget {
    /// Spend in the current period, its projection at period end, and the thresholds reached.
    /// Costs in other currencies than the budget's are not counted (convert them first).
    func evaluate(_ costs: [AttributedCost], now: Date, timeZone: TimeZone) -> BudgetStatus {
        let today = LocalDay(now, in: timeZone)
        let (first, last) = period.bounds(containing: today)
        let history = costs.filter { item in
            item.cost.currency == amount.currency && scope.allSatisfy { item.value(of: $0.key) == $0.value }
        }
        let series = DailySeries(scope: CostScope("budget:\(name)"), currency: amount.currency,
                                 amounts: sum(history, by: \.cost.day, amount: { Micros.decimal($0.cost.micros) }))
        let spent = series.values(from: first, through: min(today, last)).map(\.amount).reduce(0, +)
        let forecast = Forecaster().projectPeriodEnd(series, first: first, last: last, now: now, timeZone: timeZone)
        let utilization = amount.amount > 0 ? (spent / amount.amount).doubleValue : 0
        return BudgetStatus(budget: self, spent: spent, forecast: forecast.rounded(scale: 2), utilization: utilization,
                            crossed: thresholds.map { ($0, spent >= $0 * amount.amount) })
    }
}
