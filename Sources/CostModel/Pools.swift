import Foundation

/// A shared pool (a Kubernetes cluster's nodes, a CHOM operator's shared servers): resources
/// whose billed cost is split only by the pool's usage driver, whatever their tags, with what
/// the driver leaves of the pool's capacity made visible as tenant `__idle__`.
///
/// Membership is decided where tenants are (`Allocator.dimensions(of:)`): a pool's resources
/// get the tenant `pool:<name>`, which is what their per-scope daily rows carry, so that every
/// billed figure (the month to date, the report) and the run rate split them with the same
/// drivers, each day with that day's values.
public struct ResourcePool: Sendable {
    public var name: String
    /// Tag key → value, each required exactly.
    public var tags: [String: String]
    /// Field (`name`, `source`, `account`, `service`, `resource_type`, …, as in
    /// `AllocationRule`) → a regular expression the whole value must match.
    public var match: [(field: String, pattern: String)]

    public init(name: String, tags: [String: String] = [:], match: [(field: String, pattern: String)] = []) {
        self.name = name
        self.tags = tags
        self.match = match
    }

    /// The tenant a pool's resources carry until the pool splits them.
    public var tenant: String { Self.tenantPrefix + name }
    public static let tenantPrefix = "pool:"
    /// The tenant that takes what the pool's driver leaves of its capacity.
    public static let idleTenant = "__idle__"

    /// The pool a tenant marks, if it marks one.
    public static func pool(ofTenant tenant: String) -> String? {
        tenant.hasPrefix(tenantPrefix) ? String(tenant.dropFirst(tenantPrefix.count)) : nil
    }

    /// True when every resource `other` selects is also selected by this pool: its tags and
    /// fields are a subset of `other`'s. Two such pools would both claim those resources.
    public func contains(_ other: ResourcePool) -> Bool {
        tags.allSatisfy { other.tags[$0.key] == $0.value }
            && match.allSatisfy { mine in other.match.contains { $0.field == mine.field && $0.pattern == mine.pattern } }
    }
}

/// The pools compiled once for matching many resources.
struct PoolMatcher {
    private let pools: [(tags: [String: String], fields: [(String, NSRegularExpression?)])]

    init(_ pools: [ResourcePool]) {
        self.pools = pools.map { pool in
            (pool.tags, pool.match.map { ($0.field, try? NSRegularExpression(pattern: "^(?:\($0.pattern))$")) })
        }
    }

    var count: Int { pools.count }

    /// Whether pool `index` selects `subject`: its tags first (cheap), then its patterns.
    func selects(_ index: Int, _ subject: AllocationSubject) -> Bool {
        let pool = pools[index]
        return pool.tags.allSatisfy { subject.resource.tags[$0.key] == $0.value } && pool.fields.allSatisfy { field, regex in
            guard let regex, let value = subject.field(field) else { return false }
            return regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
        }
    }
}

/// A resource two pools select: it is counted in the first, and the config should say which.
public struct PoolConflict: Sendable, Equatable {
    public var source: String
    public var resourceID: String
    public var pools: [String]

    public init(source: String, resourceID: String, pools: [String]) {
        self.source = source
        self.resourceID = resourceID
        self.pools = pools
    }
}

/// How a pool's cost is split on a day: its driver's values, each over the capacity of that
/// day, blended by weight when there are several (CPU and memory requests, as node prices
/// split them).
public struct PoolDriver: Sendable {
    public enum Capacity: Sendable, Equatable {
        /// The driver's own total: nothing is idle.
        case none
        case constant(Decimal)
        /// A usage query's total by day (`UsageDays` under the one key "").
        case usage(String, UsageDays)
    }

    public enum Idle: String, Sendable, CaseIterable {
        /// What the driver leaves of the capacity goes to tenant `__idle__`.
        case tenant
        /// It is spread over the tenants in proportion to their driver share.
        case spread
    }

    public struct Component: Sendable {
        /// The usage query's name (`usage/<source>/<dimension>`), for the figures' notes.
        public var name: String
        public var driver: UsageDays
        public var capacity: Capacity
        public var weight: Decimal

        public init(name: String, driver: UsageDays, capacity: Capacity = .none, weight: Decimal = 1) {
            self.name = name
            self.driver = driver
            self.capacity = capacity
            self.weight = weight
        }
    }

    public var components: [Component]
    public var idle: Idle

    public init(components: [Component], idle: Idle = .tenant) {
        self.components = components
        self.idle = idle
    }

    /// One day's split of a pool.
    public struct Shares: Sendable {
        /// Tenant → positive weight, `__idle__` among them when idle goes to a tenant; sorted
        /// by tenant. Empty when no component has values: the pool's cost stays unallocated.
        public var weights: [(tenant: String, weight: Decimal)]
        /// The share of the pool's capacity its driver leaves, 0…1 (also when idle is spread).
        public var idleRatio: Decimal
        /// Components whose capacity was below the driver's total that day (their idle is 0).
        public var overCapacity: [String]
        /// Usage queries that weighed the day with another day's values → that day.
        public var borrowed: [String: LocalDay]
    }

    /// The split on `day`: each component's tenant share is value / capacity (or / the
    /// driver's total without a capacity, or when the capacity is below it), its idle share
    /// 1 − Σ shares; components are blended by weight over those with values that day.
    public func shares(on day: LocalDay) -> Shares {
        var blended: [String: Decimal] = [:]
        var idle: Decimal = 0, weights: Decimal = 0
        var overCapacity: [String] = [], borrowed: [String: LocalDay] = [:]
        for component in components where component.weight > 0 {
            // A driver that never answered weighs nothing: its pool is not all idle, it is unknown.
            guard let found = component.driver.values(on: day) else { continue }
            if found.taken != day { borrowed[component.name] = found.taken }
            let values = found.values.filter { $0.value > 0 }
            let total = values.values.reduce(0, +)
            var capacity: Decimal?
            switch component.capacity {
            case .none: capacity = nil
            case .constant(let value): capacity = value
            case .usage(let name, let days):
                if let taken = days.values(on: day) {
                    if taken.taken != day { borrowed[name] = taken.taken }
                    capacity = taken.values[""]
                }
            }
            var denominator = total
            if let capacity, capacity > 0 {
                if capacity >= total { denominator = capacity } else { overCapacity.append(component.name) }
            }
            guard denominator > 0 else { continue }
            for (tenant, value) in values { blended[tenant, default: 0] += component.weight * value / denominator }
            idle += component.weight * (denominator - total) / denominator
            weights += component.weight
        }
        guard weights > 0 else { return Shares(weights: [], idleRatio: 0, overCapacity: overCapacity, borrowed: borrowed) }
        if self.idle == .tenant && idle > 0 { blended[ResourcePool.idleTenant, default: 0] += idle }
        return Shares(weights: blended.filter { $0.value > 0 }.map { (tenant: $0.key, weight: $0.value / weights) }.sorted { $0.tenant < $1.tenant },
                      idleRatio: idle / weights, overCapacity: overCapacity, borrowed: borrowed)
    }
}

extension Allocator {
    /// Each pool's monthly cost split by its weights (today's), per currency, in micro-units
    /// (`shares`): the figures round once, where they are exported (`RunRateFigures`), so each
    /// share is within a cent of pool × weight. A pool without weights goes to `rest`, unallocated by
    /// provider. Returns pool → tenant → currency → amount.
    func splitPools(_ sums: [String: [RestKey: Decimal]], into tenants: inout [String: [Currency: Decimal]],
                    rest: inout [RestKey: Decimal]) -> [String: [String: [Currency: Decimal]]] {
        var result: [String: [String: [Currency: Decimal]]] = [:]
        for (pool, parts) in sums {
            let weights = policy.poolWeights[pool] ?? []
            let total = weights.reduce(Decimal(0)) { $0 + $1.weight }
            guard total > 0 else {
                for (key, amount) in parts { rest[key, default: 0] += amount }
                continue
            }
            var byCurrency: [Currency: Decimal] = [:]
            for (key, amount) in parts { byCurrency[key.currency, default: 0] += amount }
            for (currency, amount) in byCurrency where amount != 0 {
                for (entry, share) in zip(weights, Self.shares(of: amount, weights: weights.map(\.weight), total: total)) {
                    tenants[entry.tenant, default: [:]][currency, default: 0] += share
                    result[pool, default: [:]][entry.tenant, default: [:]][currency, default: 0] += share
                }
            }
        }
        return result
    }
}

public extension DailyAllocation {
    /// `rows` with each pool's rows split into one row per tenant of that day's shares (the
    /// same split as `BilledSpend`, in whole micro-units), the other dimensions kept: what a
    /// budget scoped to a tenant (a namespace) sums. Rows of a day no driver has values for
    /// stay the pool's.
    func expandingPools(_ rows: [AttributedCost]) -> [AttributedCost] {
        guard !pools.isEmpty else { return rows }
        var shares: [String: [LocalDay: [(tenant: String, weight: Decimal)]]] = [:]
        var expanded: [AttributedCost] = []
        expanded.reserveCapacity(rows.count)
        for row in rows {
            guard let pool = ResourcePool.pool(ofTenant: row.tenant), let driver = pools[pool] else {
                expanded.append(row)
                continue
            }
            let day = row.cost.day
            let weights = shares[pool]?[day] ?? driver.shares(on: day).weights
            shares[pool, default: [:]][day] = weights
            guard !weights.isEmpty else {
                expanded.append(row)
                continue
            }
            for (entry, micros) in zip(weights, BilledSpend.split(row.cost.micros, weights: weights.map(\.weight))) where micros != 0 {
                var part = row
                part.tenant = entry.tenant
                part.cost.micros = micros
                expanded.append(part)
            }
        }
        return expanded
    }
}
