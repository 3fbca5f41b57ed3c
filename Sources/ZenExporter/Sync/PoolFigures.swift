import CostModel
import Foundation

/// Each configured pool as exported: its run rate per tenant (`__idle__` among them) and
/// today's idle share. The split itself is the allocation's (`Allocator.splitPools`, with
/// today's `PoolDriver.shares`); this only folds tenants past `max_tenants` and rounds.
struct PoolFigures: Sendable {
    struct Pool: Sendable {
        var name: String
        /// Nil while the pool's driver has no values: its cost is unallocated.
        var idleRatio: Decimal?
        /// Usage queries whose total today was below the driver's (idle 0 for them).
        var overCapacity: [String]
        /// Tenant → currency → monthly cost, rounded per currency to the pool's total.
        var tenants: [String: [Currency: Decimal]]
    }

    private(set) var pools: [Pool] = []

    init() {}

    init(_ configs: [PoolConfig], today: [String: PoolDriver.Shares], allocated: [String: [String: [Currency: Decimal]]], kept: Set<String>) {
        for config in configs {
            let shares = today[config.name]
            let exact = TenantLimit.fold(allocated[config.name] ?? [:], kept: kept) { into, more in into.merge(more, uniquingKeysWith: +) }
            pools.append(Pool(name: config.name, idleRatio: shares.flatMap { $0.weights.isEmpty ? nil : $0.idleRatio },
                              overCapacity: shares?.overCapacity ?? [], tenants: LargestRemainder.round(groups: [exact], to: [:])[0]))
        }
    }
}
