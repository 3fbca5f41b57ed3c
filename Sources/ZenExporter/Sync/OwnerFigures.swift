import CostModel
import Foundation
import Storage

/// The figures for the people who pay: the health score, cost per business unit
/// and each tenant's revenue and margin. Derived from an evaluation's totals once per change,
/// like the rest of it; the renderer, the overview page and the report only format them.
struct OwnerFigures: Sendable {
    struct UnitCost: Sendable, Comparable {
        var unit: String
        /// `total`, `provider:<name>`, `service:<name>`, `tenant:<id>`.
        var scope: String
        var currency: Currency
        /// Monthly cost of the scope divided by its units.
        var amount: Decimal
        var units: Decimal
        var labels: [String] { [unit, scope, currency.code] }
        static func < (a: Self, b: Self) -> Bool { a.labels.lexicographicallyPrecedes(b.labels) }
    }

    struct Margin: Sendable {
        var tenant: String
        var currency: Currency
        var revenue: Decimal
        var cost: Decimal
        /// (revenue − cost) / revenue.
        var ratio: Decimal
    }

    var health: HealthAssessment?
    var unitCosts: [UnitCost] = []
    /// Tenant (folded as tenant costs are) → currency → monthly revenue.
    var revenue: [String: [Currency: Decimal]] = [:]
    /// Tenants with revenue, by margin, the lowest first.
    var margins: [Margin] = []

    init() {}

    init(_ evaluation: EstateEvaluation, sources: [SourceStatus], usage: [UsageReference: UsageStatus], subjects: [AllocationSubject],
         keptTenants: Set<String>, config: ExporterConfig) {
        let reporting = evaluation.fx.reporting
        health = HealthAssessment(Self.healthInputs(evaluation, sources: sources, reporting: reporting), weights: config.health.weights, now: evaluation.now)
        let fold = { (tenant: String) in keptTenants.contains(tenant) ? tenant : TenantLimit.other }
        for metric in config.unitMetrics {
            unitCosts += Self.costsPerUnit(metric, evaluation, usage: usage, subjects: subjects, fold: fold, hoursPerMonth: config.reporting.hoursPerMonth)
        }
        unitCosts.sort()
        if let revenueConfig = config.revenue {
            revenue = Self.revenuePerTenant(revenueConfig, usage: usage, fx: evaluation.fx, fold: fold)
            margins = revenue.flatMap { tenant, amounts in
                amounts.compactMap { currency, amount -> Margin? in
                    guard amount > 0 else { return nil }
                    let cost = evaluation.tenantCosts[tenant]?[currency] ?? 0
                    return Margin(tenant: tenant, currency: currency, revenue: amount, cost: cost, ratio: (amount - cost) / amount)
                }
            }.sorted { ($0.ratio, $0.tenant) < ($1.ratio, $1.tenant) }
        }
    }

    /// The health score's inputs: money in the reporting currency only.
    static func healthInputs(_ evaluation: EstateEvaluation, sources: [SourceStatus], reporting: Currency) -> HealthInputs {
        var inputs = HealthInputs(currency: reporting)
        inputs.budgets = evaluation.budgets.map {
            .init(name: $0.budget.name, amount: $0.budget.amount.amount, forecast: $0.forecast, currency: $0.budget.amount.currency)
        }
        inputs.spendMonthly = evaluation.infrastructureMonthly.filter { $0.key.currency == reporting }.values.reduce(0, +)
        // Zombies and orphan volumes are waste and recommendations both: counted once, as waste.
        // Of the other recommendations a resource can carry several that do not add up
        // (rightsizing and stopping off-hours): each resource counts with its largest saving.
        let wasteKinds: Set<Recommendation.Kind> = [.zombie, .orphanVolume]
        var largest: [String: Decimal] = [:]
        for item in evaluation.recommendations where !wasteKinds.contains(item.recommendation.kind) {
            let saving = evaluation.fx.reportingOrOriginal(item.recommendation.savingsMonthly)
            guard saving.currency == reporting else { continue }
            let key = "\(item.source)|\(item.recommendation.resourceID)"
            largest[key] = max(largest[key] ?? 0, saving.amount)
        }
        inputs.wasteMonthly = evaluation.waste.filter { $0.key.currency == reporting }.values.reduce(0, +) + largest.values.reduce(0, +)
        inputs.anomalyScores = evaluation.anomalies.map { ($0.scope.name, $0.score) }
        inputs.allocatedMonthly = evaluation.tenantCosts.values.compactMap { $0[reporting] }.reduce(0, +)
        inputs.unallocatedMonthly = evaluation.allocation.unallocated.values.compactMap { $0[reporting] }.reduce(0, +)
        inputs.sources = sources.map { .init(name: $0.name, up: $0.up, lastSuccess: $0.lastSuccess, intervalSeconds: $0.intervalSeconds) }
        inputs.runways = evaluation.runways.map { ("\($0.provider)/\($0.account)", $0.days) }
        return inputs
    }

    /// A usage value as an exact decimal: the shortest decimal that reads back as the same
    /// double (what the database holds as 4990 or 4990.5 becomes exactly that).
    static func exact(_ value: Double) -> Decimal? {
        guard value.isFinite else { return nil }
        return Decimal(string: "\(value)", locale: Locale(identifier: "en_US_POSIX"))
    }

    /// Units of a metric in total and per tenant (folded); nil while its query has no data.
    private static func units(_ metric: UnitMetricConfig, usage: [UsageReference: UsageStatus],
                              fold: (String) -> String) -> (total: Decimal, tenants: [String: Decimal])? {
        if let value = metric.value { return (value, [:]) }
        guard let reference = metric.from, let status = usage[reference], status.hasData else { return nil }
        var tenants: [String: Decimal] = [:]
        for (tenant, value) in status.tenantValues { if let units = exact(value) { tenants[fold(tenant), default: 0] += units } }
        let total = status.values[UsageValue.total].flatMap(exact) ?? tenants.values.reduce(0, +)
        return (total, tenants)
    }

    private static func costsPerUnit(_ metric: UnitMetricConfig, _ evaluation: EstateEvaluation, usage: [UsageReference: UsageStatus],
                                  subjects: [AllocationSubject], fold: (String) -> String, hoursPerMonth: Decimal) -> [UnitCost] {
        guard let units = units(metric, usage: usage, fold: fold) else { return [] }
        var costs: [UnitCost] = []
        func add(_ scope: String, _ amounts: [Currency: Decimal], per count: Decimal) {
            guard count > 0 else { return }
            for (currency, amount) in amounts {
                costs.append(UnitCost(unit: metric.unit, scope: scope, currency: currency, amount: amount / count, units: count))
            }
        }
        for kind in metric.scopes {
            switch kind {
            case .total:
                add("total", evaluation.infrastructureMonthly.reduce(into: [:]) { $0[$1.key.currency, default: 0] += $1.value }, per: units.total)
            case .provider:
                let byProvider = Dictionary(grouping: evaluation.infrastructureMonthly, by: \.key.provider)
                for (provider, rows) in byProvider {
                    add("provider:\(provider)", rows.reduce(into: [:]) { $0[$1.key.currency, default: 0] += $1.value }, per: units.total)
                }
            case .service:
                var byService: [String: [Currency: ExactSum]] = [:]
                for subject in subjects {
                    byService[subject.resource.service, default: [:]][subject.resource.rate.currency, default: ExactSum()].add(subject.resource.rate, hours: hoursPerMonth)
                }
                for (service, sums) in byService { add("service:\(service)", sums.mapValues(\.value), per: units.total) }
            case .tenant:
                for (tenant, count) in units.tenants { add("tenant:\(tenant)", evaluation.tenantCosts[tenant] ?? [:], per: count) }
            }
        }
        return costs
    }

    /// Revenue per folded tenant, converted to the reporting currency where a rate is known
    /// (so that it meets the tenant's cost in one currency); fixed amounts win over the query.
    private static func revenuePerTenant(_ config: RevenueConfig, usage: [UsageReference: UsageStatus], fx: FXTable,
                                fold: (String) -> String) -> [String: [Currency: Decimal]] {
        var perTenant: [String: Decimal] = [:]
        if let reference = config.from, let status = usage[reference], status.hasData {
            for (tenant, value) in status.tenantValues { if let amount = exact(value) { perTenant[tenant] = amount.rounded(scale: 2) } }
        }
        perTenant.merge(config.tenants) { _, fixed in fixed }
        var folded: [String: [Currency: Decimal]] = [:]
        for (tenant, amount) in perTenant {
            let money = fx.reportingOrOriginal(Money(amount, config.currency))
            folded[fold(tenant), default: [:]][money.currency, default: 0] += money.amount
        }
        return folded
    }
}
