import Foundation

/// Where a day's cost belongs, at the grain every total is cut from: month-to-date, budgets,
/// forecasts, anomaly scores and the daily cost all select and sum these. Per resource there
/// are millions of daily rows; per scope there are as many as there are distinct
/// provider × account × service × category × tenant × team × currency combinations.
public struct ScopeKey: Hashable, Sendable, Comparable {
    public var provider: String
    public var account: String
    public var service: String
    public var category: CostCategory
    public var tenant: String
    public var team: String
    public var currency: Currency

    public init(provider: String, account: String, service: String, category: CostCategory, tenant: String, team: String, currency: Currency) {
        self.provider = provider
        self.account = account
        self.service = service
        self.category = category
        self.tenant = tenant
        self.team = team
        self.currency = currency
    }

    /// The fields that tell scopes apart most (account, service, tenant) and nothing else:
    /// equal keys still hash equally, and those that differ only in provider, category, team
    /// or currency (which follow account, service and tenant) share a bucket. Summing a
    /// 100k-line day table per scope hashed seven strings a line.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(account)
        hasher.combine(service)
        hasher.combine(tenant)
    }

    /// Field by field in the order of `scope_daily`'s key, without building two arrays per
    /// comparison.
    public static func < (a: Self, b: Self) -> Bool {
        if a.provider != b.provider { return a.provider < b.provider }
        if a.account != b.account { return a.account < b.account }
        if a.service != b.service { return a.service < b.service }
        if a.category != b.category { return a.category.rawValue < b.category.rawValue }
        if a.tenant != b.tenant { return a.tenant < b.tenant }
        if a.team != b.team { return a.team < b.team }
        return a.currency.code < b.currency.code
    }
}

/// One source's billed cost per local day and scope, in micro-units: the history that the
/// evaluation reads instead of every resource's daily rows.
public struct ScopeHistory: Sendable, Equatable {
    public typealias Day = [ScopeKey: Int64]
    public private(set) var days: [LocalDay: Day]

    public init(days: [LocalDay: Day] = [:]) { self.days = days }

    /// The days from `first` through `last` become `fresh`'s; a day in that range that
    /// `fresh` lacks had no bill (the source reported the range whole).
    public mutating func replace(from first: LocalDay, through last: LocalDay, with fresh: [LocalDay: Day]) {
        days = days.filter { $0.key < first || $0.key > last }
        for (day, scopes) in fresh where !scopes.isEmpty { days[day] = scopes }
    }

    /// The newest day with a cost; nil when there is none.
    public var lastDay: LocalDay? { days.keys.max() }

    /// Forgets days before `first` (they are past every window the evaluation reads).
    public mutating func drop(before first: LocalDay) {
        days = days.filter { $0.key >= first }
    }

    /// Every day's scopes from `first` on, as daily costs without a resource (`resourceID`
    /// empty), with the scope's tenant and team beside each.
    public func attributed(source: String, from first: LocalDay) -> [AttributedCost] {
        var result: [AttributedCost] = []
        for (day, scopes) in days where day >= first {
            for (key, micros) in scopes {
                result.append(AttributedCost(
                    source: source,
                    cost: DailyCost(day: day, provider: key.provider, resourceID: "", service: key.service, category: key.category,
                                    account: key.account, micros: micros, currency: key.currency),
                    tenant: key.tenant, team: key.team))
            }
        }
        return result
    }
}
