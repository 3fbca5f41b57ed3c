import Foundation

/// Bounds the `tenant` label: an operator with thousands of tenants gets the largest
/// `maxTenants` by cost as their own series and the rest summed into `tenant="other"`, so
/// sums over tenants stay exact while Prometheus stores a bounded number of series.
public struct TenantLimit: Sendable {
    public static let other = "other"
    public var maxTenants: Int

    public init(maxTenants: Int) { self.maxTenants = maxTenants }

    /// The tenants that keep their own label: the largest by cost, then (for tenants known
    /// only by usage) by name. A tenant literally called "other" joins the rest.
    ///
    /// Amounts of different currencies are never added: tenants are compared by their cost
    /// in `reporting` first (the evaluation has converted what it has a rate for), then in
    /// each other currency in code order.
    public func kept(costs: [String: [Currency: Decimal]], alsoKnown: Set<String> = [], reporting: Currency) -> Set<String> {
        let names = Set(costs.keys).union(alsoKnown).subtracting([Self.other])
        guard names.count > maxTenants else { return names }
        let others = Set(costs.values.flatMap(\.keys)).subtracting([reporting]).sorted { $0.code < $1.code }
        let currencies = [reporting] + others
        let ranked: [(name: String, costs: [Decimal])] = names.map { name in
            (name, currencies.map { costs[name]?[$0] ?? 0 })
        }
        let ordered = ranked.sorted { a, b in
            for (x, y) in zip(a.costs, b.costs) where x != y { return x > y }
            return a.name < b.name
        }
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
