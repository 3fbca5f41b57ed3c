import Foundation

/// The estate's health in one number for owners (seed 003's "overall system health score"):
/// six components from figures the exporter already has, each 0–1 with a one-line reason,
/// weighted into a 0–100 score. Pure: the time is passed in.
public enum HealthComponent: String, Sendable, CaseIterable, Comparable {
    /// Budgets forecast within their amounts.
    case budget
    /// Waste and recommended savings as a share of the monthly run rate.
    case waste
    /// Services whose last full day's spend is unusual.
    case anomalies
    /// Share of the run rate that has a tenant.
    case allocation
    /// Sources up and synced recently.
    case freshness
    /// Days until the shortest prepaid balance runs out.
    case runway

    public static func < (a: Self, b: Self) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }
}

/// What the score is made from. Money is in the reporting currency only: amounts in other
/// currencies are left out by the caller, never added.
public struct HealthInputs: Sendable {
    public struct BudgetFigure: Sendable {
        public var name: String
        public var amount: Decimal
        public var forecast: Decimal
        public var currency: Currency
        public init(name: String, amount: Decimal, forecast: Decimal, currency: Currency) {
            self.name = name
            self.amount = amount
            self.forecast = forecast
            self.currency = currency
        }
    }

    public struct SourceFreshness: Sendable {
        public var name: String
        /// nil until the first attempt finishes.
        public var up: Bool?
        public var lastSuccess: Date?
        public var intervalSeconds: Double
        public init(name: String, up: Bool?, lastSuccess: Date?, intervalSeconds: Double) {
            self.name = name
            self.up = up
            self.lastSuccess = lastSuccess
            self.intervalSeconds = intervalSeconds
        }
    }

    public var currency: Currency
    public var budgets: [BudgetFigure] = []
    /// Monthly run rate of the estate.
    public var spendMonthly: Decimal = 0
    /// Monthly cost of waste plus the savings of recommendations that are not waste already.
    public var wasteMonthly: Decimal = 0
    /// Anomaly scores of the last full day by scope name (`service:…`, `total`…).
    public var anomalyScores: [(scope: String, score: Double)] = []
    public var allocatedMonthly: Decimal = 0
    public var unallocatedMonthly: Decimal = 0
    public var sources: [SourceFreshness] = []
    /// Prepaid accounts and the days their balance lasts.
    public var runways: [(account: String, days: Decimal)] = []

    public init(currency: Currency) { self.currency = currency }
}

/// Relative weights of the components; any non-negative numbers, normalised over the
/// components that have data.
public struct HealthWeights: Sendable, Equatable {
    public static let defaults: [HealthComponent: Decimal] = [
        .budget: 25, .waste: 20, .anomalies: 15, .allocation: 15, .freshness: 15, .runway: 10,
    ]
    public var weights: [HealthComponent: Decimal]
    public init(_ weights: [HealthComponent: Decimal] = defaults) { self.weights = weights }
    public subscript(component: HealthComponent) -> Decimal { weights[component] ?? 0 }
}

public struct HealthAssessment: Sendable {
    public struct Part: Sendable, Equatable {
        public var component: HealthComponent
        /// 0 (bad) … 1 (good).
        public var value: Double
        public var reason: String
    }

    /// Components with data, in `HealthComponent` order; one without data (no budgets, no
    /// prepaid accounts) is absent and its weight is shared by the others.
    public var parts: [Part]
    /// 0–100, one decimal; nil when no component has data.
    public var score: Double?

    /// An anomaly score above this is open (the `InfrazenCostAnomaly` alert's threshold).
    public static let anomalyThreshold = 3.0
    /// A source is fresh when its last good sync is at most this many intervals old.
    public static let freshIntervals = 3.0
    /// A runway this long or longer scores 1.
    public static let comfortableRunwayDays: Decimal = 30

    public init(_ inputs: HealthInputs, weights: HealthWeights = HealthWeights(), now: Date) {
        let currency = inputs.currency.code
        var parts: [Part] = []
        if let budget = Self.budget(inputs.budgets) { parts.append(budget) }
        if inputs.spendMonthly > 0 {
            let share = inputs.wasteMonthly / inputs.spendMonthly
            parts.append(Part(component: .waste, value: Self.clamp(1 - 2 * share.doubleValue),
                              reason: "waste and savings \(Self.money(inputs.wasteMonthly)) \(currency) a month, \(Self.percent(share)) of the \(Self.money(inputs.spendMonthly)) \(currency) run rate"))
        }
        parts.append(Self.anomalies(inputs.anomalyScores))
        let placed = inputs.allocatedMonthly + inputs.unallocatedMonthly
        if placed > 0 {
            let share = inputs.allocatedMonthly / placed
            parts.append(Part(component: .allocation, value: Self.clamp(share.doubleValue),
                              reason: "\(Self.percent(share)) of the run rate has a tenant; \(Self.money(inputs.unallocatedMonthly)) \(currency) a month is unallocated"))
        }
        if let freshness = Self.freshness(inputs.sources, now: now) { parts.append(freshness) }
        if let shortest = inputs.runways.min(by: { $0.days < $1.days }) {
            let value = Self.clamp((shortest.days / Self.comfortableRunwayDays).doubleValue)
            parts.append(Part(component: .runway, value: value,
                              reason: "the shortest prepaid balance, \(shortest.account), lasts \(shortest.days.rounded(scale: 1).plainString) days"))
        }
        self.parts = parts
        let total = parts.reduce(Decimal(0)) { $0 + weights[$1.component] }
        if total > 0 {
            let weighted = parts.reduce(0.0) { $0 + weights[$1.component].doubleValue * $1.value }
            score = (weighted / total.doubleValue * 1000).rounded() / 10
        }
    }

    public func part(_ component: HealthComponent) -> Part? { parts.first { $0.component == component } }

    /// The worst budget: 1 while every forecast is within its amount, else amount / forecast.
    private static func budget(_ budgets: [HealthInputs.BudgetFigure]) -> Part? {
        guard !budgets.isEmpty else { return nil }
        let ratios = budgets.map { budget in (budget, budget.amount > 0 ? budget.forecast / budget.amount : 0) }
        guard let worst = ratios.max(by: { $0.1 < $1.1 }) else { return nil }
        let over = ratios.filter { $0.1 > 1 }.count
        let value = worst.1 > 1 ? clamp((1 / worst.1).doubleValue) : 1
        let figure = "\(worst.0.name) is forecast at \(money(worst.0.forecast)) of \(money(worst.0.amount)) \(worst.0.currency.code) (\(percent(worst.1)))"
        let reason = over == 0 ? "all \(budgets.count) budgets forecast within their amounts; the tightest, \(figure)"
            : "\(over) of \(budgets.count) budgets forecast over their amounts; the worst, \(figure)"
        return Part(component: .budget, value: value, reason: reason)
    }

    /// Services with an open anomaly (when no service is scored, any scope); 1 / (1 + open).
    private static func anomalies(_ scores: [(scope: String, score: Double)]) -> Part {
        let services = scores.filter { $0.scope.hasPrefix("service:") }
        let considered = services.isEmpty ? scores : services
        let open = considered.filter { $0.score > anomalyThreshold }.sorted { $0.score > $1.score }
        let reason = open.isEmpty ? "no service's spend on the last full day is unusual (score above \(Int(anomalyThreshold)))"
            : "\(open.count) unusual: " + open.prefix(3).map { "\($0.scope) (score \(String(format: "%.1f", $0.score)))" }.joined(separator: ", ")
        return Part(component: .anomalies, value: 1 / Double(1 + open.count), reason: reason)
    }

    /// Share of the sources that are up and synced within `freshIntervals` intervals.
    private static func freshness(_ sources: [HealthInputs.SourceFreshness], now: Date) -> Part? {
        guard !sources.isEmpty else { return nil }
        let stale = sources.filter { source in
            guard source.up != false, let last = source.lastSuccess else { return true }
            return now.timeIntervalSince(last) > freshIntervals * max(source.intervalSeconds, 1)
        }
        let reason = stale.isEmpty ? "every source (\(sources.count)) up and synced within \(Int(freshIntervals)) of its intervals"
            : "\(stale.count) of \(sources.count) sources down or stale: " + stale.prefix(3).map { source in
                let age = source.lastSuccess.map { "last good sync \(Int(now.timeIntervalSince($0) / 60)) min ago" } ?? "never synced"
                return "\(source.name) (\(source.up == false ? "down, " : "")\(age))"
            }.joined(separator: ", ")
        return Part(component: .freshness, value: Double(sources.count - stale.count) / Double(sources.count), reason: reason)
    }

    private static func clamp(_ value: Double) -> Double { value.isFinite ? min(1, max(0, value)) : 0 }
    private static func money(_ amount: Decimal) -> String { amount.rounded(scale: 2).plainString }
    private static func percent(_ ratio: Decimal) -> String { "\((ratio * 100).rounded(scale: 1).plainString) %" }
}
