import CostModel
import Foundation

/// What the cost model derives from all sources together: allocation, budgets, forecasts,
/// anomalies, recommendations, waste and capacity. Recomputed after each sync, not per scrape.
struct EstateEvaluation: Sendable {
    struct Forecast: Sendable {
        var scope: CostScope
        var currency: Currency
        /// `month_end`, `30d`, `60d`, `90d`.
        var horizon: String
        var amount: Decimal
    }

    struct SourcedRecommendation: Sendable {
        var source: String
        var recommendation: Recommendation
    }

    struct WasteKey: Hashable, Sendable {
        var kind: Waste.Kind
        var provider: String
        var currency: Currency
    }

    var allocation = AllocationResult.empty
    /// Tenant → currency → monthly cost with at most `max_tenants` tenants, the rest in `other`.
    var tenantCosts: [String: [Currency: Decimal]] = [:]
    /// Usage per tenant and dimension (tenants folded as for cost), summed over usage sources.
    var tenantUsage: [TenantDimension: Double] = [:]
    /// How many tenants were summed into `other`.
    var tenantsFolded = 0

    struct TenantDimension: Hashable, Sendable {
        var tenant: String
        var dimension: String
    }
    /// Each source's daily costs since the 1st of the month, through today.
    var monthToDate: [String: [DailyCost]] = [:]
    var budgets: [BudgetStatus] = []
    /// The last full day's cost per scope.
    var lastFullDay: [DailySeries] = []
    var lastDay = LocalDay(year: 1970, month: 1, day: 1)
    var anomalies: [AnomalyDetector.Score] = []
    var forecasts: [Forecast] = []
    var recommendations: [SourcedRecommendation] = []
    var waste: [WasteKey: Decimal] = [:]
    var capacity: [CapacityStatus] = []
    var runways: [Runway] = []

    /// How long an account's prepaid balance lasts: the provider's estimate when it gives one,
    /// else balance over the daily run rate of what the account is billed for.
    struct Runway: Sendable {
        var source: String
        var provider: String
        var account: String
        var days: Decimal
    }

    static let horizons = [30, 60, 90]

    /// `history`: each source's daily costs from at least 120 days back (and from the start of
    /// the longest budget period).
    /// The exchange rates the totals were converted with, and when the bank's were fetched.
    var fx = FXTable(reporting: .rub, rates: [:])
    var fxFetchedAt: Date?
    var now = Date(timeIntervalSince1970: 0)

    init(sources rawSources: [SourceStatus], history rawHistory: [String: [DailyCost]], usage: [UsageStatus] = [],
         usageHistory: [UsageReference: [(day: LocalDay, value: Double)]] = [:], config: ExporterConfig,
         fx: FXTable, fxFetchedAt: Date? = nil, now: Date) {
        let reporting = config.reporting
        // Totals are in the reporting currency wherever a rate is known (per-resource series keep theirs).
        self.fx = fx
        self.fxFetchedAt = fxFetchedAt
        self.now = now
        let sources = rawSources.map { source in
            var converted = source
            converted.resources = source.resources.map { resource in
                var resource = resource
                resource.rate = fx.reportingOrOriginal(resource.rate)
                return resource
            }
            return converted
        }
        let history = rawHistory.mapValues { costs in
            costs.map { cost in
                var cost = cost
                cost.cost = fx.reportingOrOriginal(cost.cost)
                return cost
            }
        }
        let today = LocalDay(now, in: reporting.timeZone)
        lastDay = today.adding(days: -1)

        for source in sources { monthToDate[source.name] = CostModel.monthToDate(history[source.name] ?? [], today: today) }

        let subjects = sources.flatMap { source in source.resources.map { AllocationSubject(source: source.name, resource: $0) } }
        let usageByReference = Dictionary(usage.filter(\.hasData).map { ($0.reference, $0) }, uniquingKeysWith: { first, _ in first })
        var allocationPolicy = config.allocation
        allocationPolicy.drivers = config.sharedDrivers.mapValues { Self.driver($0, usage: usageByReference) }
        let usageTenants = Set(usageByReference.values.flatMap(\.tenantValues.keys))
        allocation = Allocator(policy: allocationPolicy, hoursPerMonth: reporting.hoursPerMonth).allocate(subjects, knownTenants: usageTenants)
        let limit = TenantLimit(maxTenants: config.maxTenants)
        let kept = limit.kept(costs: allocation.tenants, alsoKnown: usageTenants)
        tenantsFolded = Set(allocation.tenants.keys).union(usageTenants).subtracting(kept).subtracting([TenantLimit.other]).count
        tenantCosts = TenantLimit.fold(allocation.tenants, kept: kept) { into, more in into.merge(more, uniquingKeysWith: +) }
        for status in usageByReference.values {
            for (tenant, value) in status.tenantValues {
                tenantUsage[TenantDimension(tenant: kept.contains(tenant) ? tenant : TenantLimit.other, dimension: status.reference.dimension), default: 0] += value
            }
        }
        capacity += config.capacity.compactMap { scope in
            Self.capacity(scope, usage: usageByReference, history: scope.usedFrom.flatMap { usageHistory[$0] } ?? [])
        }

        let attributed = sources.flatMap { source in
            (history[source.name] ?? []).map { cost in
                let labels = allocation.labels[AllocationResult.key(source: source.name, resourceID: cost.resourceID)] ?? [:]
                return AttributedCost(source: source.name, cost: cost, tenant: labels["tenant"] ?? "", team: labels["team"] ?? "")
            }
        }
        budgets = config.budgets.map { $0.evaluate(attributed, now: now, timeZone: reporting.timeZone) }

        let series = DailySeries.scopes(of: attributed.map { $0.cost })
        lastFullDay = series
        let detector = AnomalyDetector()
        anomalies = series.compactMap { detector.score($0, day: lastDay) }
        let forecaster = Forecaster()
        for scopeSeries in series {
            forecasts.append(Forecast(scope: scopeSeries.scope, currency: scopeSeries.currency, horizon: "month_end",
                                      amount: forecaster.monthEnd(scopeSeries, now: now, timeZone: reporting.timeZone).rounded(scale: 2)))
            for days in Self.horizons {
                guard let amount = forecaster.horizon(scopeSeries, days: days, lastFullDay: lastDay) else { continue }
                forecasts.append(Forecast(scope: scopeSeries.scope, currency: scopeSeries.currency, horizon: "\(days)d", amount: amount))
            }
        }

        let policy = config.recommendations.policy(hoursPerMonth: reporting.hoursPerMonth)
        for source in sources {
            let utilization = Dictionary(grouping: source.extras.utilization, by: \.resourceID)
                .mapValues { Dictionary($0.map { ($0.dimension, $0.ratio) }, uniquingKeysWith: { first, _ in first }) }
            let recommendationSubjects = source.resources.map { resource in
                RecommendationSubject(
                    resource: resource,
                    environment: allocation.labels[AllocationResult.key(source: source.name, resourceID: resource.id)]?["environment"] ?? "",
                    utilization: utilization[resource.id] ?? [:], flavors: source.extras.flavors[resource.provider] ?? [])
            }
            recommendations += policy.recommend(recommendationSubjects).map { SourcedRecommendation(source: source.name, recommendation: $0) }
            for resource in source.resources {
                guard let kind = Waste.kind(of: resource) else { continue }
                let monthly = resource.rate.monthly(hoursPerMonth: reporting.hoursPerMonth)
                waste[WasteKey(kind: kind, provider: resource.provider, currency: monthly.currency), default: 0] += monthly.amount
            }
            for account in source.extras.accounts {
                let daily = source.resources.filter { $0.provider == account.provider && $0.account == account.account
                    && $0.rate.currency == account.balance.currency }
                    .map { $0.rate.over(hours: 24).amount }.reduce(0, +)
                guard let days = account.daysUntilDepleted ?? (daily > 0 ? account.balance.amount / daily : nil) else { continue }
                runways.append(Runway(source: source.name, provider: account.provider, account: account.account, days: max(0, days)))
            }
            let historyByKey = Dictionary(grouping: source.extras.capacityHistory) { "\($0.scope)|\($0.dimension)" }
            capacity += source.extras.capacity.map { sample in
                let points = (historyByKey["\(sample.scope)|\(sample.dimension)"] ?? []).sorted { $0.day < $1.day }.map { (day: $0.day, used: $0.used) }
                return CapacityStatus(sample: sample, history: points)
            }
        }
    }

    init() {}

    /// A configured driver with its usage resolved: a usage driver weighs tenants by their
    /// values; without values yet it weighs nobody, so the rest stays unallocated.
    static func driver(_ config: SharedDriverConfig, usage: [UsageReference: UsageStatus]) -> SharedDriver {
        switch config {
        case .proportional: .proportional
        case .even: .even
        case .none: SharedDriver.none
        case .weights(let weights): .weighted(weights)
        case .usage(let reference):
            .weighted((usage[reference]?.tenantValues ?? [:]).mapValues { Decimal($0) })
        }
    }

    /// A configured capacity scope from usage values and constants; nil until both are known.
    static func capacity(_ scope: CapacityScopeConfig, usage: [UsageReference: UsageStatus],
                         history: [(day: LocalDay, value: Double)]) -> CapacityStatus? {
        func value(_ constant: Double?, _ reference: UsageReference?) -> Double? {
            if let constant { return constant }
            guard let reference, let status = usage[reference] else { return nil }
            return status.values.values.reduce(0, +)
        }
        guard let used = value(scope.used, scope.usedFrom), let total = value(scope.total, scope.totalFrom) else { return nil }
        return CapacityStatus(sample: CapacitySample(scope: scope.scope, dimension: scope.dimension, used: used, total: total),
                              history: history.map { (day: $0.day, used: $0.value) })
    }

    /// How far back the evaluation needs daily costs.
    static func historyStart(config: ExporterConfig, now: Date) -> LocalDay {
        let today = LocalDay(now, in: config.reporting.timeZone)
        let periodStarts = config.budgets.map { $0.period.bounds(containing: today).first }
        return ([today.adding(days: -120)] + periodStarts).min() ?? today.adding(days: -120)
    }
}
