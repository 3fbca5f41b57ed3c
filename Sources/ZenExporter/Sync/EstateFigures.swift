import CostModel
import Foundation
import Storage

/// The monthly run rate as exported: each source's series rounded to that source's whole
/// rounded once (so that the series of two shards add up to one exporter's), the estate's
/// whole the sum of those, and tenants with the unallocated rest rounded to that whole.
struct RunRateFigures: Sendable {
    var byType: [EstateEvaluation.RunRateKey: Decimal] = [:]
    var totals: [Currency: Decimal] = [:]
    var tenants: [String: [Currency: Decimal]] = [:]
    /// By provider.
    var unallocated: [String: [Currency: Decimal]] = [:]

    init() {}

    init(_ sourced: [(source: String, key: EstateEvaluation.RunRateKey, amount: Decimal)],
         tenants exactTenants: [String: [Currency: Decimal]], unallocated exactUnallocated: [String: [Currency: Decimal]]) {
        for (_, parts) in Dictionary(grouping: sourced, by: \.source) {
            let sorted = parts.sorted { $0.key < $1.key }
            let rounded = LargestRemainder.round(sorted.map { (currency: $0.key.currency, amount: $0.amount) }, wholes: [:])
            for (part, value) in zip(sorted, rounded) {
                byType[part.key, default: 0] += value
                totals[part.key.currency, default: 0] += value
            }
        }
        let allocated = LargestRemainder.round(groups: [exactTenants, exactUnallocated], to: totals)
        tenants = allocated[0]
        unallocated = allocated[1]
    }
}

extension EstateEvaluation {
    /// The rows budgets sum: with a budget scoped to a tenant, each pool's rows split into its
    /// tenants' shares day by day (a namespace's budget sees its share of the cluster).
    static func budgetRows(_ rows: [AttributedCost], config: ExporterConfig, allocation: DailyAllocation) -> [AttributedCost] {
        config.budgets.contains { $0.scope["tenant"] != nil } ? allocation.expandingPools(rows) : rows
    }

    /// The configured drivers and pools, each usage driver with its query's values by day: the
    /// stored days, and today the current values (`usageToday`, the total row included; a
    /// pool's capacity is each day's total).
    static func dailyAllocation(_ config: ExporterConfig, usageDays: [UsageReference: [LocalDay: [String: Double]]],
                                usageToday: [UsageReference: [String: Double]], today: LocalDay) -> DailyAllocation {
        var byReference: [UsageReference: UsageDays] = [:], totals: [UsageReference: UsageDays] = [:]
        for reference in Set(usageDays.keys).union(usageToday.keys) {
            var days = usageDays[reference] ?? [:]
            if let current = usageToday[reference] {
                days[today] = current
                // Today's total is every current value summed, as the stored days' is.
                days[today]?[UsageValue.total] = current.values.reduce(0, +)
            }
            byReference[reference] = UsageDays(days.mapValues { values in
                values.compactMapValues { $0.isFinite && $0 >= 0 ? Decimal($0) : nil }.filter { $0.key != UsageValue.total }
            })
            totals[reference] = UsageDays(days.compactMapValues { values in
                values[UsageValue.total].flatMap { $0.isFinite && $0 >= 0 ? [UsageValue.total: Decimal($0)] : nil }
            })
        }
        let drivers = config.sharedDrivers.mapValues { driver -> DailyAllocation.Driver in
            switch driver {
            case .proportional: .proportional
            case .even: .even
            case .none: DailyAllocation.Driver.none
            case .weights(let weights): .weighted(weights)
            case .usage(let reference): .usage("\(reference.usage)/\(reference.dimension)", byReference[reference] ?? UsageDays([:]))
            }
        }
        let otherwise: DailyAllocation.Driver = switch config.allocation.shared {
        case .proportional: .proportional
        case .even: .even
        case .none: DailyAllocation.Driver.none
        }
        let pools = Dictionary(config.pools.map { pool in
            (pool.name, PoolDriver(components: pool.components.map { component in
                let capacity: PoolDriver.Capacity = switch component.capacity {
                case .none: PoolDriver.Capacity.none
                case .constant(let value): .constant(value)
                case .usage(let reference): .usage(reference.description, totals[reference] ?? UsageDays([:]))
                }
                return PoolDriver.Component(name: component.driver.description, driver: byReference[component.driver] ?? UsageDays([:]),
                                            capacity: capacity, weight: component.weight)
            }, idle: pool.idle))
        }, uniquingKeysWith: { first, _ in first })
        return DailyAllocation(drivers: drivers, otherwise: otherwise,
                               usage: Dictionary(uniqueKeysWithValues: byReference.map { ("\($0.key.usage)/\($0.key.dimension)", $0.value) }),
                               pools: pools)
    }

    /// The last full day per scope: the `total` rounded to cents, and each breakdown
    /// (providers, services, categories) rounded to sum to it, per currency.
    static func dailyScopes(_ series: [DailySeries], on day: LocalDay) -> [(scope: CostScope, currency: Currency, amount: Decimal)] {
        var wholes: [Currency: Decimal] = [:]
        for entry in series where entry.scope == .total { wholes[entry.currency] = entry.amount(on: day) }
        var values = [Decimal](repeating: 0, count: series.count)
        let kinds = Dictionary(grouping: series.indices) { index -> String in
            let name = series[index].scope.name
            return "\(series[index].currency.code)|\(name.split(separator: ":", maxSplits: 1).first ?? "")"
        }
        for (_, indices) in kinds {
            let whole = wholes[series[indices[0]].currency]
            let rounded = LargestRemainder.round(indices.map { series[$0].amount(on: day) }, scale: 2, whole: whole)
            for (index, value) in zip(indices, rounded) { values[index] = value }
        }
        return series.indices.map { (series[$0].scope, series[$0].currency, values[$0]) }
    }
}

extension EstateEvaluation {
    /// The effective (amortised) spend of `first` through `through`: each source's effective
    /// days, each converted at its own day's rate as billed days are, rounded per source.
    static func effectiveMonthToDate(_ sources: [SourceStatus], from first: LocalDay, through: LocalDay, fx: FXHistory)
        -> [(line: BilledSpend.Line, amount: Decimal)] {
        var rows = sources.flatMap { source in
            source.effective.filter { $0.day >= first && $0.day <= through }.map { AttributedCost(source: source.name, cost: $0) }
        }
        guard !rows.isEmpty else { return [] }
        fx.convert(&rows)
        var exact: [BilledSpend.Line: Int64] = [:]
        for row in rows {
            let cost = row.cost
            exact[BilledSpend.Line(source: row.source, provider: cost.provider, account: cost.account, service: cost.service,
                                   category: cost.category, currency: cost.currency), default: 0] &+= cost.micros
        }
        return SpendStatement.rounded(exact).lines
    }
}

extension EstateEvaluation {
    /// The effective run rate: each source's day of usage EffectiveCost for a month, converted
    /// at today's rate as the billed run rate is, rounded per source (`RunRateFigures`' rule).
    static func effectiveMonthly(_ sources: [SourceStatus], hoursPerMonth: Decimal, fx: FXTable) -> [RunRateKey: Decimal] {
        var result: [RunRateKey: Decimal] = [:]
        for source in sources {
            guard let rates = source.extras.effectiveRates, !rates.isEmpty else { continue }
            let parts = rates.map { rate -> (key: RunRateKey, money: Money) in
                let monthly = fx.reportingOrOriginal(Rate(Money(Micros.decimal(rate.dailyMicros), rate.key.currency), per: .daily))
                    .monthly(hoursPerMonth: hoursPerMonth)
                return (RunRateKey(provider: rate.key.provider, category: rate.key.category, resourceType: rate.key.resourceType,
                                   currency: monthly.currency), monthly)
            }
            let rounded = LargestRemainder.round(parts.map { (currency: $0.money.currency, amount: $0.money.amount) }, wholes: [:])
            for (part, value) in zip(parts, rounded) { result[part.key, default: 0] += value }
        }
        return result
    }
}
