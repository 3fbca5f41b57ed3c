import Foundation

/// One usage query's per-tenant values by day: what a usage driver weighs a day's shared cost
/// with. A day without values of its own takes the last earlier day's; a day before the
/// first stored one takes that first one (the exporter keeps only what it polled), and the
/// figures say so (`BilledSpend.borrowedUsage`).
public struct UsageDays: Sendable, Equatable {
    /// Days with values, oldest first, and their values (the total row left out).
    public let days: [LocalDay]
    public let values: [[String: Decimal]]

    public init(_ byDay: [LocalDay: [String: Decimal]]) {
        let sorted = byDay.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
        days = sorted.map(\.key)
        values = sorted.map(\.value)
    }

    public var isEmpty: Bool { days.isEmpty }

    /// The values that weigh `day`, and the day they were polled on.
    public func values(on day: LocalDay) -> (taken: LocalDay, values: [String: Decimal])? {
        guard !days.isEmpty else { return nil }
        // Binary search for the last day not after `day`.
        var low = 0, high = days.count
        while low < high {
            let middle = (low + high) / 2
            if days[middle] <= day { low = middle + 1 } else { high = middle }
        }
        let index = max(0, low - 1)
        return (days[index], values[index])
    }
}

/// How each day's billed cost that no tag or rule placed is spread over tenants: the same
/// drivers the run rate's allocation uses, each weighed with that day's figures.
public struct DailyAllocation: Sendable {
    public enum Driver: Sendable, Equatable {
        /// In proportion to each tenant's direct cost that day.
        case proportional
        /// Evenly over the tenants with direct cost that day and those the usage queries know.
        case even
        /// Not spread: stays unallocated.
        case none
        /// Configured constant weights.
        case weighted([String: Decimal])
        /// A usage query's values of that day (`UsageDays`), named for the figures' notes.
        case usage(String, UsageDays)
    }

    /// Per category; a category without one takes `otherwise`.
    public var drivers: [CostCategory: Driver]
    public var otherwise: Driver
    /// Every usage query's values: the tenants an even split includes.
    public var usage: [String: UsageDays]
    /// Each pool's driver: what splits the rows of tenant `pool:<name>`.
    public var pools: [String: PoolDriver]

    public init(drivers: [CostCategory: Driver] = [:], otherwise: Driver = .none, usage: [String: UsageDays] = [:],
                pools: [String: PoolDriver] = [:]) {
        self.drivers = drivers
        self.otherwise = otherwise
        self.usage = usage
        self.pools = pools
    }

    public func driver(for category: CostCategory) -> Driver { drivers[category] ?? otherwise }
}

public extension DailyAllocation.Driver {
    /// The driver as the run rate's allocation takes it on `day`: a usage driver weighs tenants
    /// with that day's values (none yet: it weighs nobody, and the rest stays unallocated).
    func shared(on day: LocalDay) -> SharedDriver {
        switch self {
        case .proportional: .proportional
        case .even: .even
        case .none: SharedDriver.none
        case .weighted(let weights): .weighted(weights)
        case .usage(_, let days): .weighted(days.values(on: day)?.values ?? [:])
        }
    }
}

/// Billed spend over a run of days, exact in micro-units: per source line, per tenant
/// (allocated day by day), per day. The one computation behind every billed figure:
/// `infrazen_cost_month_to_date`, `infrazen_tenant_cost_month_to_date`, the overview page and
/// the monthly report all read it (rounded once, `SpendStatement`).
public struct BilledSpend: Sendable {
    /// Where a billed amount belongs: the labels of `infrazen_cost_month_to_date`.
    public struct Line: Hashable, Sendable, Comparable {
        public var source: String
        public var provider: String
        public var account: String
        public var service: String
        public var category: CostCategory
        public var currency: Currency

        public init(source: String, provider: String, account: String, service: String, category: CostCategory, currency: Currency) {
            self.source = source
            self.provider = provider
            self.account = account
            self.service = service
            self.category = category
            self.currency = currency
        }

        public var labels: [String] { [source, provider, account, service, category.rawValue, currency.code] }
        public static func < (a: Self, b: Self) -> Bool { a.labels.lexicographicallyPrecedes(b.labels) }
    }

    public private(set) var lines: [Line: Int64] = [:]
    /// Tenant → currency → cost placed by tags and rules plus its share of each day's rest.
    public private(set) var tenants: [String: [Currency: Int64]] = [:]
    /// Provider → currency → cost no tag, rule or driver placed.
    public private(set) var unallocated: [String: [Currency: Int64]] = [:]
    public private(set) var days: [LocalDay: [Currency: Int64]] = [:]
    /// Usage query → each day it weighed with another day's values → that day.
    public private(set) var borrowedUsage: [String: [LocalDay: LocalDay]] = [:]
    /// Pool → tenant (`__idle__` among them) → currency → cost the pool split.
    public private(set) var pools: [String: [String: [Currency: Int64]]] = [:]
    /// Pool → the days its capacity was below its driver's total (idle 0 those days).
    public private(set) var overCapacity: [String: Set<LocalDay>] = [:]

    /// `rows` from `first` through `through` (others are left out), in the currency they are
    /// to be summed in (converted day by day, `FXHistory.converted`). Tenants outside
    /// `keptTenants` are summed into `TenantLimit.other`; nil keeps every tenant.
    public init(_ rows: [AttributedCost], from first: LocalDay, through: LocalDay, allocation: DailyAllocation,
                keptTenants: Set<String>? = nil) {
        // Rows by day as positions in `rows`: a month of a large estate is thousands of scope
        // rows, and copying each into a per-day array was most of this pass.
        var byDay: [LocalDay: [Int]] = [:]
        for (index, row) in rows.enumerated() where row.cost.day >= first && row.cost.day <= through {
            let cost = row.cost
            lines[Line(source: row.source, provider: cost.provider, account: cost.account, service: cost.service,
                       category: cost.category, currency: cost.currency), default: 0] &+= cost.micros
            days[cost.day, default: [:]][cost.currency, default: 0] &+= cost.micros
            byDay[cost.day, default: []].append(index)
        }
        for (day, indices) in byDay { allocate(indices.lazy.map { rows[$0] }, on: day, allocation) }
        if let keptTenants {
            tenants = TenantLimit.fold(tenants, kept: keptTenants) { into, more in into.merge(more, uniquingKeysWith: &+) }
        }
    }

    private struct RestKey: Hashable {
        var category: CostCategory
        var currency: Currency
    }

    /// One day: rows with a tenant are that tenant's; the rest of each category and currency
    /// is split by the category's driver with the day's weights, or stays unallocated by
    /// provider.
    private mutating func allocate(_ rows: some Sequence<AttributedCost>, on day: LocalDay, _ allocation: DailyAllocation) {
        var direct: [String: [Currency: Int64]] = [:]
        var rest: [RestKey: [String: Int64]] = [:]
        var pooled: [String: [Currency: [String: Int64]]] = [:]
        for row in rows {
            let pool = ResourcePool.pool(ofTenant: row.tenant)
            if let pool, allocation.pools[pool] != nil {
                pooled[pool, default: [:]][row.cost.currency, default: [:]][row.cost.provider, default: 0] &+= row.cost.micros
            } else if row.tenant.isEmpty || pool != nil {
                rest[RestKey(category: row.cost.category, currency: row.cost.currency), default: [:]][row.cost.provider, default: 0] &+= row.cost.micros
            } else {
                direct[row.tenant, default: [:]][row.cost.currency, default: 0] &+= row.cost.micros
            }
        }
        for (tenant, amounts) in direct { tenants[tenant, default: [:]].merge(amounts, uniquingKeysWith: &+) }
        for (pool, byCurrency) in pooled { split(pool: pool, byCurrency, on: day, allocation) }
        for (key, byProvider) in rest {
            let amount = byProvider.values.reduce(0, &+)
            let weights = amount == 0 ? [] : self.weights(allocation.driver(for: key.category), currency: key.currency, on: day,
                                                          direct: direct, allocation: allocation)
            guard !weights.isEmpty else {
                for (provider, micros) in byProvider { unallocated[provider, default: [:]][key.currency, default: 0] &+= micros }
                continue
            }
            for (tenant, share) in zip(weights.map(\.tenant), Self.split(amount, weights: weights.map(\.weight))) {
                tenants[tenant, default: [:]][key.currency, default: 0] &+= share
            }
            // Spread whole: the provider shows nothing left, as the run rate's unallocated does.
            for provider in byProvider.keys { unallocated[provider, default: [:]][key.currency, default: 0] &+= 0 }
        }
    }

    /// One day of a pool's rows split by that day's shares (`PoolDriver.shares`); a day no
    /// component has values for stays unallocated by provider.
    private mutating func split(pool: String, _ byCurrency: [Currency: [String: Int64]], on day: LocalDay, _ allocation: DailyAllocation) {
        guard let driver = allocation.pools[pool] else { return }
        let shares = driver.shares(on: day)
        for (name, taken) in shares.borrowed { borrowedUsage[name, default: [:]][day] = taken }
        if !shares.overCapacity.isEmpty { overCapacity[pool, default: []].insert(day) }
        for (currency, byProvider) in byCurrency {
            let amount = byProvider.values.reduce(0, &+)
            guard !shares.weights.isEmpty, amount != 0 else {
                for (provider, micros) in byProvider { unallocated[provider, default: [:]][currency, default: 0] &+= micros }
                continue
            }
            for (tenant, share) in zip(shares.weights.map(\.tenant), Self.split(amount, weights: shares.weights.map(\.weight))) {
                tenants[tenant, default: [:]][currency, default: 0] &+= share
                pools[pool, default: [:]][tenant, default: [:]][currency, default: 0] &+= share
            }
            for provider in byProvider.keys { unallocated[provider, default: [:]][currency, default: 0] &+= 0 }
        }
    }

    /// The positive weights of a driver on `day`, by tenant name; empty when nobody carries the rest.
    private mutating func weights(_ driver: DailyAllocation.Driver, currency: Currency, on day: LocalDay,
                                  direct: [String: [Currency: Int64]], allocation: DailyAllocation) -> [(tenant: String, weight: Decimal)] {
        let table: [String: Decimal]
        switch driver {
        case .none:
            return []
        case .proportional:
            table = direct.compactMapValues { $0[currency].map(Micros.decimal) }
        case .even:
            var names = Set(direct.keys)
            for usage in allocation.usage.values { names.formUnion(usage.values(on: day)?.values.keys ?? [:].keys) }
            table = Dictionary(uniqueKeysWithValues: names.map { ($0, Decimal(1)) })
        case .weighted(let weights):
            table = weights
        case .usage(let name, let usage):
            guard let found = usage.values(on: day) else { return [] }
            if found.taken != day { borrowedUsage[name, default: [:]][day] = found.taken }
            table = found.values
        }
        return table.filter { $0.value > 0 }.map { (tenant: $0.key, weight: $0.value) }.sorted { $0.tenant < $1.tenant }
    }

    /// `micros` split by `weights` in whole micro-units by largest remainder
    /// (`LargestRemainder`, at micro-unit scale over the amount's magnitude, so that a credit
    /// splits as its charge would, negated). The shares add up to `micros` exactly.
    static func split(_ micros: Int64, weights: [Decimal]) -> [Int64] {
        let total = weights.reduce(0, +)
        let magnitude = Decimal(micros.magnitude)
        let shares = LargestRemainder.round(weights.map { magnitude * $0 / total }, scale: 0, whole: magnitude)
            .map { NSDecimalNumber(decimal: $0).int64Value }
        return micros < 0 ? shares.map { -$0 } : shares
    }
}

/// `BilledSpend` rounded for people and Prometheus, once, in one place. Each source's lines
/// are rounded to that source's bill rounded once (so a sum over shards equals one exporter's);
/// the estate's total is the sum of its sources' rounded bills; every breakdown of the estate
/// (provider, service, category, tenant with the unallocated rest, day) is rounded to that
/// total by largest remainder, per currency.
public struct SpendStatement: Sendable {
    public struct SourceTotal: Sendable, Hashable {
        public var source: String
        public var currency: Currency
        public var amount: Decimal
    }

    public private(set) var lines: [(line: BilledSpend.Line, amount: Decimal)] = []
    public private(set) var sources: [SourceTotal] = []
    public private(set) var totals: [Currency: Decimal] = [:]
    public private(set) var providers: [String: [Currency: Decimal]] = [:]
    public private(set) var services: [String: [Currency: Decimal]] = [:]
    public private(set) var categories: [String: [Currency: Decimal]] = [:]
    public private(set) var tenants: [String: [Currency: Decimal]] = [:]
    /// By provider.
    public private(set) var unallocated: [String: [Currency: Decimal]] = [:]
    public private(set) var days: [LocalDay: [Currency: Decimal]] = [:]

    public init() {}


    public init(_ spend: BilledSpend, scale: Int = 2) {
        (lines, sources) = Self.rounded(spend.lines, scale: scale)
        for source in sources { totals[source.currency, default: 0] += source.amount }

        func breakdown(_ key: (BilledSpend.Line) -> String) -> [String: [Currency: Decimal]] {
            var exact: [String: [Currency: Int64]] = [:]
            for (line, micros) in spend.lines { exact[key(line), default: [:]][line.currency, default: 0] &+= micros }
            return LargestRemainder.round(groups: [exact.mapValues { $0.mapValues(Micros.decimal) }], to: totals, scale: scale)[0]
        }
        providers = breakdown(\.provider)
        services = breakdown(\.service)
        categories = breakdown(\.category.rawValue)
        let allocated = LargestRemainder.round(groups: [spend.tenants, spend.unallocated].map { $0.mapValues { $0.mapValues(Micros.decimal) } },
                                               to: totals, scale: scale)
        tenants = allocated[0]
        unallocated = allocated[1]
        days = LargestRemainder.round(groups: [spend.days.mapValues { $0.mapValues(Micros.decimal) }], to: totals, scale: scale)[0]
    }

    /// Exact amounts per line rounded as a bill is: each source's whole per currency rounded
    /// once, its lines by largest remainder to it. Also the route of the effective (amortised)
    /// month to date, so that it rounds as the billed one does.
    public static func rounded(_ exact: [BilledSpend.Line: Int64], scale: Int = 2)
        -> (lines: [(line: BilledSpend.Line, amount: Decimal)], sources: [SourceTotal]) {
        let sortedLines = exact.sorted { $0.key < $1.key }
        let bySource = Dictionary(grouping: sortedLines.indices) { sortedLines[$0].key.source }
        var rounded = [Decimal](repeating: 0, count: sortedLines.count)
        var sources: [SourceTotal] = []
        for (source, indices) in bySource.sorted(by: { $0.key < $1.key }) {
            let parts = indices.map { (currency: sortedLines[$0].key.currency, amount: Micros.decimal(sortedLines[$0].value)) }
            for (index, value) in zip(indices, LargestRemainder.round(parts, scale: scale, wholes: [:])) { rounded[index] = value }
            var wholes: [Currency: Decimal] = [:]
            for index in indices { wholes[sortedLines[index].key.currency, default: 0] += rounded[index] }
            sources += wholes.sorted { $0.key < $1.key }.map { SourceTotal(source: source, currency: $0.key, amount: $0.value) }
        }
        return (zip(sortedLines, rounded).map { (line: $0.key, amount: $1) }, sources)
    }

    /// Per currency: the amounts of `parts` summed.
    public static func sums(_ parts: [String: [Currency: Decimal]]) -> [Currency: Decimal] {
        parts.values.reduce(into: [:]) { result, amounts in result.merge(amounts, uniquingKeysWith: +) }
    }
}

public extension FXHistory {
    /// `rows` in the reporting currency where a rate is known, each day at that day's rate
    /// (rounded half-to-even to the micro-unit); the others unchanged.
    func converted(_ rows: [AttributedCost]) -> [AttributedCost] {
        var rows = rows
        convert(&rows)
        return rows
    }

    /// `converted`, in place: the evaluation's rows are four months of every scope, and a
    /// second array of them was a tenth of an evaluation.
    func convert(_ rows: inout [AttributedCost]) {
        for index in rows.indices where rows[index].cost.currency != reporting {
            let cost = rows[index].cost
            guard let micros = toReporting(micros: cost.micros, cost.currency, on: cost.day) else { continue }
            rows[index].cost.micros = micros
            rows[index].cost.currency = reporting
        }
    }
}
