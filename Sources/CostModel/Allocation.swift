import Foundation

/// "Auto-allocation without tags": who a resource's cost belongs to. Tags first, then ordered
/// rules on names and other attributes, then the shared rest split across tenants.
public struct AllocationPolicy: Sendable {
    public enum SharedSplit: String, Sendable, CaseIterable {
        /// The unallocated rest goes to tenants in proportion to their direct cost.
        case proportional
        /// The rest is split evenly between tenants.
        case even
        /// The rest stays unallocated.
        case none
    }

    /// Dimension (tenant, team, environment) → tag keys that name it, first found wins.
    public var tagKeys: [String: [String]]
    public var rules: [AllocationRule]
    /// How the unallocated rest of a category without its own driver is spread.
    public var shared: SharedSplit
    /// Per category, how its unallocated rest is spread (CHOM: storage by storage share,
    /// compute by VPS count); overrides `shared` for that category.
    public var drivers: [CostCategory: SharedDriver]
    /// Shared pools: their resources' tenant is the pool's (`ResourcePool.tenant`), whatever
    /// their tags and the rules say; the first pool that selects a resource has it.
    public var pools: [ResourcePool]
    /// Per pool, the weights that split its run rate (today's `PoolDriver.shares`); a pool
    /// without any stays unallocated.
    public var poolWeights: [String: [(tenant: String, weight: Decimal)]]

    public init(tagKeys: [String: [String]] = Self.defaultTagKeys, rules: [AllocationRule] = [], shared: SharedSplit = .none,
                drivers: [CostCategory: SharedDriver] = [:], pools: [ResourcePool] = [],
                poolWeights: [String: [(tenant: String, weight: Decimal)]] = [:]) {
        self.tagKeys = tagKeys
        self.rules = rules
        self.shared = shared
        self.drivers = drivers
        self.pools = pools
        self.poolWeights = poolWeights
    }

    /// The driver that spreads `category`'s rest.
    public func driver(for category: CostCategory) -> SharedDriver {
        if let driver = drivers[category] { return driver }
        switch shared {
        case .proportional: return .proportional
        case .even: return .even
        case .none: return .none
        }
    }

    public static let defaultTagKeys: [String: [String]] = [
        "tenant": ["tenant", "client"], "team": ["team", "owner"], "environment": ["env", "environment"],
    ]
    public static let dimensions = ["tenant", "team", "environment"]
}

/// How one category's unallocated rest reaches tenants.
public enum SharedDriver: Sendable, Equatable {
    /// In proportion to each tenant's direct cost.
    case proportional
    /// Evenly over every known tenant (placed directly or named by a driver's weights).
    case even
    /// In proportion to the given weights (a usage share such as storage bytes or VPS count,
    /// or configured weights). Empty or all-zero weights leave the rest unallocated.
    case weighted([String: Decimal])
    /// Not spread: stays visible as unallocated.
    case none
}

/// When every pattern matches (an unanchored regular expression search), set the dimensions.
/// A value may use `$1`… for the pattern's capture groups, in the order the fields are listed.
public struct AllocationRule: Sendable {
    /// Field (`name`, `source`, `account`, `project`, `region`, `service`, `provider`,
    /// `resource_type`, `category`, `tag:KEY`) → pattern.
    public var match: [(field: String, pattern: String)]
    public var set: [String: String]

    public init(match: [(field: String, pattern: String)], set: [String: String]) {
        self.match = match
        self.set = set
    }
}

/// A resource as allocation sees it: its source beside it.
public struct AllocationSubject: Sendable {
    public var source: String
    public var resource: Resource

    public init(source: String, resource: Resource) {
        self.source = source
        self.resource = resource
    }

    func field(_ name: String) -> String? {
        switch name {
        case "name": resource.name
        case "source": source
        case "account": resource.account
        // A provider without projects (or a resource no project names): its account is the project.
        case "project": resource.project.isEmpty ? resource.account : resource.project
        case "region": resource.region
        case "service": resource.service
        case "provider": resource.provider
        case "resource_type": resource.resourceType
        case "category": resource.category.rawValue
        default: name.hasPrefix("tag:") ? resource.tags[String(name.dropFirst(4))] : nil
        }
    }
}

public struct AllocationResult: Sendable {
    /// Resource ID (within its source) → dimension → value.
    public var labels: [String: [String: String]]
    /// Tenant → currency → monthly cost, shared share included.
    public var tenants: [String: [Currency: Decimal]]
    /// Provider → currency → monthly cost nothing placed (after the shared split).
    public var unallocated: [String: [Currency: Decimal]]
    /// Share of the monthly cost placed on a tenant directly (tags or rules), 0…1.
    public var directlyAllocatedRatio: Double
    /// How many resources were allocated.
    public var subjects = 0
    /// Pool → tenant (`__idle__` among them) → currency → monthly cost the pool split.
    public var pools: [String: [String: [Currency: Decimal]]] = [:]

    public init(labels: [String: [String: String]], tenants: [String: [Currency: Decimal]], unallocated: [String: [Currency: Decimal]],
                directlyAllocatedRatio: Double, subjects: Int = 0) {
        self.labels = labels
        self.tenants = tenants
        self.unallocated = unallocated
        self.directlyAllocatedRatio = directlyAllocatedRatio
        self.subjects = subjects
    }

    public static func key(source: String, resourceID: String) -> String { "\(source)/\(resourceID)" }

    public static let empty = AllocationResult(labels: [:], tenants: [:], unallocated: [:], directlyAllocatedRatio: 0)
}

public struct Allocator: Sendable {
    public var policy: AllocationPolicy
    public var hoursPerMonth: Decimal
    /// The currency the direct share is measured in (see `allocate`).
    public var reporting: Currency

    public init(policy: AllocationPolicy, hoursPerMonth: Decimal, reporting: Currency = .rub) {
        self.policy = policy
        self.hoursPerMonth = hoursPerMonth
        self.reporting = reporting
    }

    /// Invalid patterns are reported by the config loader; here they simply never match.
    /// `knownTenants`: tenants an even split includes besides those placed directly (the
    /// tenants a usage source reports).
    /// `dimensions`: each subject's tenant, team and environment when already known (from
    /// `dimensions(of:)`, which a caller can keep between runs: rules are regular expressions,
    /// and 100,000 resources through them is the slow part of allocating).
    public func allocate(_ subjects: [AllocationSubject], dimensions known: [[String: String]]? = nil,
                         knownTenants: Set<String> = []) -> AllocationResult {
        let given = known.flatMap { $0.count == subjects.count ? $0 : nil }
        let allDimensions = given ?? dimensions(of: subjects)
        // A caller that passed the dimensions keeps them itself: no second copy keyed by ID.
        var labels: [String: [String: String]] = [:]
        var directSums: [String: [Currency: ExactSum]] = [:]
        var restSums: [RestKey: ExactSum] = [:]
        var poolSums: [String: [RestKey: ExactSum]] = [:]
        let poolNames = Set(policy.pools.map(\.name))
        // The direct share, per currency: amounts of different currencies are never added.
        var totalSums: [Currency: ExactSum] = [:], placedSums: [Currency: ExactSum] = [:]

        for (subject, dims) in zip(subjects, allDimensions) {
            if given == nil { labels[AllocationResult.key(source: subject.source, resourceID: subject.resource.id)] = dims }
            let rate = subject.resource.rate
            // The monthly amount once per resource: in micro-units when exact, else Decimal.
            let micros = rate.microsOver(hours: hoursPerMonth)
            let exact = micros == nil ? rate.monthly(hoursPerMonth: hoursPerMonth).amount : 0
            func add(_ sum: inout ExactSum) { if let micros { sum.add(micros: micros) } else { sum.add(exact) } }
            add(&totalSums[rate.currency, default: ExactSum()])
            let tenant = dims["tenant"] ?? ""
            let pool = ResourcePool.pool(ofTenant: tenant)
            if let pool, poolNames.contains(pool) {
                // Placed by the pool's selector: counted as placed, split below.
                add(&poolSums[pool, default: [:]][RestKey(provider: subject.resource.provider, category: subject.resource.category,
                                                          currency: rate.currency), default: ExactSum()])
                add(&placedSums[rate.currency, default: ExactSum()])
            } else if !tenant.isEmpty && pool == nil {
                add(&directSums[tenant, default: [:]][rate.currency, default: ExactSum()])
                add(&placedSums[rate.currency, default: ExactSum()])
            } else {
                add(&restSums[RestKey(provider: subject.resource.provider, category: subject.resource.category, currency: rate.currency),
                              default: ExactSum()])
            }
        }
        let direct = directSums.mapValues { $0.mapValues(\.value) }
        var rest = restSums.mapValues(\.value)
        // The ratio of the reporting currency's amounts (into which the evaluation converted
        // whatever it has a rate for); an estate with none of it: of the currency most
        // resources are billed in.
        let ratioCurrency = totalSums[reporting] != nil ? reporting
            : subjects.reduce(into: [Currency: Int]()) { $0[$1.resource.rate.currency, default: 0] += 1 }
                .max { $0.value != $1.value ? $0.value < $1.value : $0.key.code > $1.key.code }?.key
        let total = ratioCurrency.flatMap { totalSums[$0]?.value } ?? 0
        let placed = ratioCurrency.flatMap { placedSums[$0]?.value } ?? 0
        var tenants = direct
        splitShared(&rest, into: &tenants, direct: direct, knownTenants: knownTenants)
        let pools = splitPools(poolSums.mapValues { $0.mapValues(\.value) }, into: &tenants, rest: &rest)
        var unallocated: [String: [Currency: Decimal]] = [:]
        for (key, amount) in rest { unallocated[key.provider, default: [:]][key.currency, default: 0] += amount }
        var result = AllocationResult(labels: labels, tenants: tenants, unallocated: unallocated,
                                      directlyAllocatedRatio: total > 0 ? (placed / total).doubleValue : 0, subjects: subjects.count)
        result.pools = pools
        return result
    }

    /// What no tag or rule placed, by where it came from.
    struct RestKey: Hashable {
        var provider: String
        var category: CostCategory
        var currency: Currency
    }

    /// Spreads each category's unallocated rest over the tenants by its driver, per currency,
    /// in micro-units (`shares`), so tenants plus unallocated equal the total exactly; the export
    /// rounds them once, to the rounded total. A rest with no driver, or no tenant to carry it, stays
    /// unallocated.
    private func splitShared(_ rest: inout [RestKey: Decimal], into tenants: inout [String: [Currency: Decimal]],
                             direct: [String: [Currency: Decimal]], knownTenants: Set<String>) {
        let groups = Dictionary(grouping: rest.keys) { CategoryCurrency(category: $0.category, currency: $0.currency) }
        for (group, keys) in groups {
            let amount = keys.reduce(Decimal(0)) { $0 + (rest[$1] ?? 0) }
            guard amount != 0 else { continue }
            let weights: [(tenant: String, weight: Decimal)]
            switch policy.driver(for: group.category) {
            case .none: continue
            case .proportional: weights = direct.keys.map { ($0, direct[$0]?[group.currency] ?? 0) }
            case .even: weights = Set(direct.keys).union(knownTenants).map { ($0, 1) }
            case .weighted(let table): weights = table.map { ($0.key, $0.value) }
            }
            let ordered = weights.filter { $0.weight > 0 }.sorted { $0.tenant < $1.tenant }
            let totalWeight = ordered.reduce(Decimal(0)) { $0 + $1.weight }
            guard totalWeight > 0 else { continue }
            for (entry, share) in zip(ordered, Self.shares(of: amount, weights: ordered.map(\.weight), total: totalWeight)) {
                tenants[entry.tenant, default: [:]][group.currency, default: 0] += share
            }
            for key in keys { rest[key] = 0 }
        }
    }

    /// `amount` split by `weights` in micro-units by the largest-remainder method: every share
    /// rounded down to the micro-unit, then the micro-units left over one each to the largest
    /// fractions (ties: the earlier weight); a residue below a micro-unit (an amount with more
    /// than six decimals) goes to the largest fraction. The shares add up to `amount` exactly
    /// and each is within a micro-unit of amount × weight / total, so the figures are rounded
    /// to cents once, where they are exported (`RunRateFigures`), not here too.
    static func shares(of amount: Decimal, weights: [Decimal], total: Decimal) -> [Decimal] {
        let sign: Decimal = amount < 0 ? -1 : 1
        let magnitude = amount * sign
        let unit = Decimal(sign: .plus, exponent: -6, significand: 1)
        let exact = weights.map { magnitude * $0 / total }
        var shares = exact.map { $0.rounded(scale: 6, mode: .down) }
        let byFraction = exact.indices.sorted { (exact[$0] - shares[$0], $1) > (exact[$1] - shares[$1], $0) }
        var left = magnitude - shares.reduce(0, +)
        for index in byFraction where left >= unit {
            shares[index] += unit
            left -= unit
        }
        if left != 0, let first = byFraction.first { shares[first] += left }
        return shares.map { $0 * sign }
    }

    private struct CategoryCurrency: Hashable {
        var category: CostCategory
        var currency: Currency
    }
}
