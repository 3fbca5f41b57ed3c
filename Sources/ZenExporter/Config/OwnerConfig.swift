import CostModel
import Foundation
import SourceKit
import Storage
import Yams

/// `health:`: the weights of the health score's components.
struct HealthConfig: Sendable {
    var weights = HealthWeights()
}

/// One `unit_metrics:` entry: a business metric that cost is divided by (sites hosted,
/// orders, active users, GB served), from a usage query or a constant.
struct UnitMetricConfig: Sendable {
    enum ScopeKind: String, Sendable, CaseIterable { case total, provider, service, tenant }
    var unit: String
    /// The units: a usage query's values (its total row, else the sum of its tenants'; per
    /// tenant for the `tenant` scope)…
    var from: UsageReference?
    /// …or a constant.
    var value: Decimal?
    var scopes: [ScopeKind] = [.total]
}

/// `revenue:`: what each tenant pays a month (the MSP case), from a usage query such as a plan
/// price in the operator's database, or fixed per tenant; a fixed amount wins over the query.
struct RevenueConfig: Sendable {
    var from: UsageReference?
    var currency: Currency
    var tenants: [String: Decimal] = [:]
}

extension ConfigLoader {
    static func readHealth(_ node: Node, _ reader: ConfigReader) -> HealthConfig {
        var health = HealthConfig()
        guard let fields = reader.mapping(node, at: "health", allowed: ["weights"]),
              let weightsNode = fields["weights"],
              let weights = reader.mapping(weightsNode, at: "health.weights", allowed: Set(HealthComponent.allCases.map(\.rawValue))) else { return health }
        for (key, entry) in weights.entries {
            guard let component = HealthComponent(rawValue: key), let weight = reader.decimal(entry.value, weights.path(key), positive: false) else { continue }
            guard weight >= 0 else {
                reader.fail(at: entry.value, weights.path(key), "a weight is a number of 0 or more, got \(weight.plainString)")
                continue
            }
            health.weights.weights[component] = weight
        }
        if health.weights.weights.values.allSatisfy({ $0 == 0 }) {
            reader.fail(at: weightsNode, "health.weights", "at least one weight must be above 0")
        }
        return health
    }

    static let unitPattern = "^[a-z][a-z0-9_]*$"

    static func readUnitMetric(_ node: Node, at path: String, _ reader: ConfigReader) -> UnitMetricConfig? {
        guard let fields = reader.mapping(node, at: path, allowed: ["unit", "from", "value", "scopes"]),
              reader.required(fields, "unit") != nil, let unit = reader.string(fields, "unit") else { return nil }
        if unit.range(of: unitPattern, options: .regularExpression) == nil {
            reader.fail(at: fields["unit"], fields.path("unit"), "a unit is a lower-case name such as site, order or active_user, got \"\(unit)\"")
        }
        var metric = UnitMetricConfig(unit: unit)
        metric.from = reference(fields, "from", reader)
        metric.value = reader.decimal(fields, "value")
        switch (fields["from"], fields["value"]) {
        case (nil, nil): reader.fail(at: fields.node, fields.path("from"), "one of from (usage/<source>/<dimension>) or value is required")
        case (.some, .some(let node)): reader.fail(at: node, fields.path("value"), "give from or value, not both")
        default: break
        }
        if fields["scopes"] != nil {
            metric.scopes = reader.sequence(fields, "scopes").enumerated().compactMap { index, item in
                guard let text = item.scalar?.string, let scope = UnitMetricConfig.ScopeKind(rawValue: text) else {
                    reader.fail(at: item, "\(path).scopes[\(index)]", "expected one of: \(UnitMetricConfig.ScopeKind.allCases.map(\.rawValue).joined(separator: ", ")), got \(item.describedValue)")
                    return nil
                }
                if scope == .tenant && metric.value != nil {
                    reader.fail(at: item, "\(path).scopes[\(index)]", "the tenant scope needs units per tenant: from a usage query, not a constant value")
                }
                return scope
            }
        }
        return metric
    }

    static func readRevenue(_ node: Node, _ reader: ConfigReader, defaultCurrency: Currency) -> RevenueConfig? {
        guard let fields = reader.mapping(node, at: "revenue", allowed: ["from", "currency", "tenants"]) else { return nil }
        var revenue = RevenueConfig(from: reference(fields, "from", reader), currency: reader.currency(fields, "currency") ?? defaultCurrency)
        if let tenantsNode = fields["tenants"],
           let table = reader.mapping(tenantsNode, at: "revenue.tenants", allowed: Set(tenantsNode.mapping?.keys.compactMap(\.string) ?? [])) {
            for (tenant, entry) in table.entries {
                guard TenantID.isValid(tenant) else {
                    reader.fail(at: entry.key, table.path(tenant), "a tenant is an ID such as t-1042 or acme (letters, digits, . _ : -)")
                    continue
                }
                if let amount = reader.decimal(entry.value, table.path(tenant), positive: false) {
                    if amount < 0 { reader.fail(at: entry.value, table.path(tenant), "revenue must not be negative, got \(amount.plainString)") } else {
                        revenue.tenants[tenant] = amount
                    }
                }
            }
        }
        if fields["from"] == nil && fields["tenants"] == nil {
            reader.fail(at: fields.node, "revenue.from", "one of from (usage/<source>/<dimension>) or tenants is required")
        }
        return revenue
    }

    /// Units must be unique: each is one `unit` label value.
    static func checkUnits(_ config: ExporterConfig, _ root: Node, _ reader: ConfigReader) {
        var seen: Set<String> = []
        for (index, metric) in config.unitMetrics.enumerated() where !seen.insert(metric.unit).inserted {
            reader.fail(at: root.mapping?["unit_metrics"]?.sequence?[index], "unit_metrics[\(index)].unit", "duplicate unit \"\(metric.unit)\"")
        }
    }
}
