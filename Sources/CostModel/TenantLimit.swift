import Foundation

/// Bounds the `tenant` label: an operator with thousands of tenants gets the largest
/// `maxTenants` by cost as their own series and the rest summed into `tenant="other"`, so
/// sums over tenants stay exact while Prometheus stores a bounded number of series.
public struct TenantLimit: Sendable {
    public static let other = "other"
    public var maxTenants: Int

    public init(maxTenants: Int) { self.maxTenants = maxTenants }

    /// The tenants that keep their own label: the largest by total cost, then (for tenants
    /// known only by usage) by name. A tenant literally called "other" joins the rest.
    public func kept(costs: [String: [Currency: Decimal]], alsoKnown: Set<String> = []) -> Set<String> {
        let names = Set(costs.keys).union(alsoKnown).subtracting([Self.other])
        guard names.count > maxTenants else { return names }
        let ranked: [(name: String, cost: Decimal)] = names.map { name in
            let cost: Decimal = (costs[name] ?? [:]).values.reduce(Decimal(0), +)
            return (name, cost)
        }
        let ordered = ranked.sorted { $0.cost != $1.cost ? $0.cost > $1.cost : $0.name < $1.name }
        return Set(ordered.prefix(maxTenants).map { $0.name })
    }

    /// `values` with every tenant outside `kept` merged into `other` by `merge`.
    public static func fold<Value>(_ values: [String: Value], kept: Set<String>, merge: (inout Value, Value) -> Void) -> [String: Value] {
        var folded: [String: Value] = [:]
        for (tenant, value) in values {
            let label = kept.contains(tenant) ? tenant : other
            if var existing = folded[label] {
                merge(&existing, value)
                folded[label] = existing
            } else {
                folded[label] = value
            }
        }
        return folded
    }
}
