import CostModel
import Foundation
import Storage

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

    struct SavingsKey: Hashable, Sendable {
        var kind: Recommendation.Kind
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

    /// Billed spend from the 1st through today, in the reporting currency where a rate is
    /// known (each day at its own rate), allocated to tenants day by day, rounded once: what
    /// `infrazen_cost_month_to_date`, `infrazen_tenant_cost_month_to_date`, the overview page
    /// and the report of the running month show.
    var monthToDate = SpendStatement()

    /// Monthly run rate of the current resources by provider, category and type.
    struct RunRateKey: Hashable, Sendable, Comparable {
        var provider: String
        var category: CostCategory
        var resourceType: String
        var currency: Currency
        var labels: [String] { [provider, category.rawValue, resourceType, currency.code] }
        static func < (a: Self, b: Self) -> Bool { a.labels.lexicographicallyPrecedes(b.labels) }
    }
    /// Exact, for the figures derived from it (unit costs, health).
    var infrastructureMonthly: [RunRateKey: Decimal] = [:]
    /// The run rate as exported, rounded once per source (`RunRateFigures`).
    var runRate = RunRateFigures()

    var budgets: [BudgetStatus] = []
    var lastDay = LocalDay(year: 1970, month: 1, day: 1)
    var anomalies: [AnomalyDetector.Score] = []
    var forecasts: [Forecast] = []
    var recommendations: [SourcedRecommendation] = []
    /// Monthly run rate of waste, rounded per source and summed (so shards add up).
    var waste: [WasteKey: Decimal] = [:]
    /// The effective (amortised) run rate per provider, category, resource type and currency,
    /// in the reporting currency where a rate is known, rounded per source as the billed one.
    var effectiveMonthly: [RunRateKey: Decimal] = [:]
    /// The running month's EffectiveCost (amortised) per source, provider, account, service,
    /// category and currency, rounded as the billed month to date is (`SpendStatement.rounded`).
    var effectiveMonthToDate: [(line: BilledSpend.Line, amount: Decimal)] = []
    /// The running month's commitment utilisation, unused cost and coverage, per source that
    /// reports commitments (FOCUS).
    var commitments: [(source: String, figures: CommitmentFigures)] = []
    /// Recommendations' savings per kind in the reporting currency where a rate is known,
    /// rounded per source and summed.
    var potentialSavings: [SavingsKey: Decimal] = [:]
    /// The last full day's cost per scope, the breakdowns rounded to sum to the total.
    var dailyCosts: [(scope: CostScope, currency: Currency, amount: Decimal)] = []
    /// Each `items:` entry's monthly cost, rounded.
    var itemsMonthly: [(item: ManualItem, monthly: Money)] = []
    /// Tenants with a label of their own; the rest are `other` in every tenant figure.
    var keptTenants: Set<String> = []
    /// Each pool's run rate per tenant and today's idle share.
    var pools = PoolFigures()
    var capacity: [CapacityStatus] = []
    var runways: [Runway] = []
    /// Health score, unit costs, tenant revenue and margin (`OwnerFigures`).
    var owner = OwnerFigures()

    /// How long an account's prepaid balance lasts: the provider's estimate when it gives one,
    /// else balance over the daily run rate of what the account is billed for.
    struct Runway: Sendable {
        var source: String
        var provider: String
        var account: String
        var days: Decimal
    }

    static let horizons = [30, 60, 90]

    private struct SeriesRow: Hashable {
        var day: LocalDay
        var provider: String
        var service: String
        var category: CostCategory
        var currency: Currency
    }

    /// The exchange rates in force today (run rates are converted with them; each day of the
    /// billed history with its own day's, `fxHistory`), and when the bank's were fetched.
    var fx = FXTable(reporting: .rub, rates: [:])
    var fxHistory = FXHistory(reporting: .rub)
    /// Each usage query's current values (a row naming no tenant under `UsageValue.total`):
    /// today's weights in any billed figure.
    var usageToday: [UsageReference: [String: Double]] = [:]
    var fxFetchedAt: Date?
    var now = Date(timeIntervalSince1970: 0)

    /// Every total is computed here, once per change, from each source's current resources
    /// (run rates), their allocation dimensions and their per-scope daily history (spend);
    /// the renderer only formats what this holds.
    /// `usageDays`: each usage query's stored per-tenant values by day, this month at least
    /// (`Store.usageTenantDays`); today's are the current values of `usage`.
    init(sources: [SourceStatus], usage: [UsageStatus] = [], usageHistory: [UsageReference: [(day: LocalDay, value: Double)]] = [:],
         usageDays: [UsageReference: [LocalDay: [String: Double]]] = [:],
         config: ExporterConfig, fx history: FXHistory, fxFetchedAt: Date? = nil, now: Date) {
        let reporting = config.reporting
        let hoursPerMonth = reporting.hoursPerMonth
        let today = LocalDay(now, in: reporting.timeZone)
        // Totals are in the reporting currency wherever a rate is known (per-resource series
        // keep theirs): run rates at today's rate, each billed day at its own day's.
        let fx = history.table(on: today)
        self.fx = fx
        fxHistory = history
        self.fxFetchedAt = fxFetchedAt
        self.now = now
        lastDay = today.adding(days: -1)
        let start = Self.historyStart(config: config, now: now)
        var attributed = sources.flatMap { $0.history.attributed(source: $0.name, from: start) }
        history.convert(&attributed)

        var subjects: [AllocationSubject] = []
        var dimensions: [[String: String]] = []
        for source in sources {
            for resource in source.resources {
                // Set only when converted: a resource is one shared box, copied when changed.
                var converted = resource
                let rate = fx.reportingOrOriginal(resource.rate)
                if rate != resource.rate { converted.rate = rate }
                subjects.append(AllocationSubject(source: source.name, resource: converted))
            }
            dimensions += source.dimensions.count == source.resources.count
                ? source.dimensions : Array(repeating: [:], count: source.resources.count)
        }
        var runRates: [SourcedRunRateKey: ExactSum] = [:]
        for subject in subjects {
            let resource = subject.resource
            let key = RunRateKey(provider: resource.provider, category: resource.category, resourceType: resource.resourceType,
                                 currency: resource.rate.currency)
            runRates[SourcedRunRateKey(source: subject.source, key: key), default: ExactSum()].add(resource.rate, hours: hoursPerMonth)
        }
        let sourcedRunRates = runRates.mapValues(\.value)
        for (sourced, amount) in sourcedRunRates { infrastructureMonthly[sourced.key, default: 0] += amount }

        let usageByReference = Dictionary(usage.filter(\.hasData).map { ($0.reference, $0) }, uniquingKeysWith: { first, _ in first })
        usageToday = usageByReference.mapValues(\.values)
        // One mapping of the configured drivers: the run rate takes today's weights, the billed
        // days each their own.
        let dailyAllocation = Self.dailyAllocation(config, usageDays: usageDays, usageToday: usageToday, today: today)
        var allocationPolicy = config.allocation
        allocationPolicy.drivers = dailyAllocation.drivers.mapValues { $0.shared(on: today) }
        let poolsToday = dailyAllocation.pools.mapValues { $0.shares(on: today) }
        allocationPolicy.poolWeights = poolsToday.mapValues(\.weights)
        let usageTenants = Set(usageByReference.values.flatMap(\.tenantValues.keys))
        allocation = Allocator(policy: allocationPolicy, hoursPerMonth: hoursPerMonth, reporting: fx.reporting)
            .allocate(subjects, dimensions: dimensions, knownTenants: usageTenants)
        let limit = TenantLimit(maxTenants: config.maxTenants)
        // Idle is never folded into `other`: it is what the pools' owners act on.
        let kept = limit.kept(costs: allocation.tenants.filter { $0.key != ResourcePool.idleTenant }, alsoKnown: usageTenants,
                              reporting: fx.reporting).union([ResourcePool.idleTenant])
        tenantsFolded = Set(allocation.tenants.keys).union(usageTenants).subtracting(kept).subtracting([TenantLimit.other]).count
        tenantCosts = TenantLimit.fold(allocation.tenants, kept: kept) { into, more in into.merge(more, uniquingKeysWith: +) }
        keptTenants = kept
        runRate = RunRateFigures(sourcedRunRates.map { (source: $0.key.source, key: $0.key.key, amount: $0.value) },
                                 tenants: tenantCosts, unallocated: allocation.unallocated)
        pools = PoolFigures(config.pools, today: poolsToday, allocated: allocation.pools, kept: kept)
        let billed = BilledSpend(attributed, from: today.firstOfMonth, through: today, allocation: dailyAllocation, keptTenants: kept)
        monthToDate = SpendStatement(billed)
        effectiveMonthToDate = Self.effectiveMonthToDate(sources, from: today.firstOfMonth, through: today, fx: history)
        effectiveMonthly = Self.effectiveMonthly(sources, hoursPerMonth: hoursPerMonth, fx: fx)
        for status in usageByReference.values {
            for (tenant, value) in status.tenantValues {
                tenantUsage[TenantDimension(tenant: kept.contains(tenant) ? tenant : TenantLimit.other, dimension: status.reference.dimension), default: 0] += value
            }
        }
        capacity += config.capacity.compactMap { scope in
            Self.capacity(scope, usage: usageByReference, history: scope.usedFrom.flatMap { usageHistory[$0] } ?? [])
        }

        let budgetRows = Self.budgetRows(attributed, config: config, allocation: dailyAllocation)
        budgets = config.budgets.map { $0.evaluate(budgetRows, now: now, timeZone: reporting.timeZone) }

        // The series scopes (total, provider, service, category) ignore account, tenant and
        // team: sum those away first, so that thousands of scope rows a day become a few.
        var collapsed: [SeriesRow: Int64] = [:]
        for item in attributed {
            let cost = item.cost
            collapsed[SeriesRow(day: cost.day, provider: cost.provider, service: cost.service, category: cost.category,
                                currency: cost.currency), default: 0] &+= cost.micros
        }
        let series = DailySeries.scopes(of: collapsed.map { row, micros in
            DailyCost(day: row.day, provider: row.provider, resourceID: "", service: row.service, category: row.category, account: "",
                      micros: micros, currency: row.currency)
        })
        dailyCosts = Self.dailyScopes(series, on: lastDay)
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

        let policy = config.recommendations.policy(hoursPerMonth: hoursPerMonth)
        var offset = 0
        for source in sources {
            let sourceSubjects = subjects[offset..<(offset + source.resources.count)]
            let sourceDimensions = dimensions[offset..<(offset + source.resources.count)]
            offset += source.resources.count
            let utilization = Dictionary(grouping: source.extras.utilization, by: \.resourceID)
                .mapValues { Dictionary($0.map { ($0.dimension, $0.ratio) }, uniquingKeysWith: { first, _ in first }) }
            // Recommendations are in each resource's own currency, as the provider's flavour
            // prices they compare with are: the unconverted resources.
            // Looked up only where there is something to find: most estates report no
            // utilisation or flavours for most of their resources.
            let flavors = source.extras.flavors
            let recommendationSubjects = zip(source.resources, sourceDimensions).map { resource, dims in
                RecommendationSubject(resource: resource, environment: dims.isEmpty ? "" : dims["environment"] ?? "",
                                      utilization: utilization.isEmpty ? [:] : utilization[resource.id] ?? [:],
                                      flavors: flavors.isEmpty ? [] : flavors[resource.provider] ?? [])
            }
            let sourceRecommendations = policy.recommend(recommendationSubjects)
            recommendations += sourceRecommendations.map { SourcedRecommendation(source: source.name, recommendation: $0) }
            // Each saving is in its resource's currency; the sum per kind is a total, converted
            // to the reporting currency where a rate is known, as the other totals are.
            var sourceSavings: [SavingsKey: Decimal] = [:]
            for recommendation in sourceRecommendations {
                let saving = fx.reportingOrOriginal(recommendation.savingsMonthly)
                sourceSavings[SavingsKey(kind: recommendation.kind, currency: saving.currency), default: 0] += saving.amount
            }
            for (key, amount) in sourceSavings { potentialSavings[key, default: 0] += amount.rounded(scale: 2) }
            var dailyByAccount: [String: [Currency: ExactSum]] = [:]
            var sourceWaste: [WasteKey: Decimal] = [:]
            for subject in sourceSubjects {
                let resource = subject.resource
                if let kind = Waste.kind(of: resource) {
                    let monthly = resource.rate.monthly(hoursPerMonth: hoursPerMonth)
                    sourceWaste[WasteKey(kind: kind, provider: resource.provider, currency: monthly.currency), default: 0] += monthly.amount
                }
            }
            if let ledger = source.extras.commitments {
                commitments.append((source.name, CommitmentFigures(ledger, from: today.firstOfMonth, through: today)))
                for commitment in ledger.commitments {
                    guard let monthly = commitment.unusedMonthly(hoursPerMonth: hoursPerMonth) else { continue }
                    sourceWaste[WasteKey(kind: .unusedCommitment, provider: commitment.provider, currency: monthly.currency), default: 0] += monthly.amount
                }
            }
            for (key, amount) in sourceWaste { waste[key, default: 0] += amount.rounded(scale: 2) }
            for resource in source.resources where !source.extras.accounts.isEmpty {
                dailyByAccount["\(resource.provider)|\(resource.account)", default: [:]][resource.rate.currency, default: ExactSum()]
                    .add(resource.rate, hours: 24)
            }
            for account in source.extras.accounts {
                let daily = dailyByAccount["\(account.provider)|\(account.account)"]?[account.balance.currency]?.value ?? 0
                guard let days = account.daysUntilDepleted ?? (daily > 0 ? account.balance.amount / daily : nil) else { continue }
                runways.append(Runway(source: source.name, provider: account.provider, account: account.account, days: max(0, days)))
            }
            let historyByKey = Dictionary(grouping: source.extras.capacityHistory) { "\($0.scope)|\($0.dimension)" }
            capacity += source.extras.capacity.map { sample in
                let points = (historyByKey["\(sample.scope)|\(sample.dimension)"] ?? []).sorted { $0.day < $1.day }.map { (day: $0.day, used: $0.used) }
                return CapacityStatus(sample: sample, history: points)
            }
        }
        itemsMonthly = config.items.map { item in
            (item, Rate(item.cost, per: item.period, hoursPerMonth: hoursPerMonth).monthly(hoursPerMonth: hoursPerMonth).rounded())
        }
        owner = OwnerFigures(self, sources: sources, usage: usageByReference, subjects: subjects, keptTenants: kept, config: config)
    }

    private struct SourcedRunRateKey: Hashable {
        var source: String
        var key: RunRateKey
    }

    init() {}

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
        historyStart(config: config, today: LocalDay(now, in: config.reporting.timeZone))
    }

    static func historyStart(config: ExporterConfig, today: LocalDay) -> LocalDay {
        let periodStarts = config.budgets.map { $0.period.bounds(containing: today).first }
        return ([today.adding(days: -120)] + periodStarts).min() ?? today.adding(days: -120)
    }
}
