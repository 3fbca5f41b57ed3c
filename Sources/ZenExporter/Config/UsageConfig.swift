import CostModel
import Foundation
import SourceKit
import Storage
import Yams

/// One `usage:` entry: queries against the operator's own data (the CHOM case) that return a
/// value per tenant for each dimension, or a total when they name no tenant.
struct UsageSourceConfig: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        /// An SQLite file (read-only), `path:` or `dsn_env`/`dsn_file` naming it.
        case sqlite
        /// PostgreSQL, `dsn_env`/`dsn_file`: postgres://user:password@host:port/database?sslmode=…
        case postgres
        /// Prometheus' instant-query API at `url:`; the tenant is the `tenant_label` of each series.
        case prometheus
        /// The demo: writes a CHOM-like application database at `path:` and queries it as `sqlite`.
        case demo
    }

    struct Query: Sendable {
        var dimension: String
        var text: String
    }

    var name: String
    var kind: Kind
    var path: String?
    var dsn: Secret?
    var url: String?
    var tenantLabel = "tenant"
    var interval: Duration = .seconds(300)
    var timeout: Duration = .seconds(10)
    var queries: [Query] = []

    /// Where errors and logs say the data came from, never the DSN itself.
    var location: String {
        switch kind {
        case .sqlite, .demo: path ?? "(sqlite file from the secret)"
        case .postgres: "postgres"
        case .prometheus: url ?? ""
        }
    }
}

/// How one category's unallocated cost reaches tenants, before usage is known.
enum SharedDriverConfig: Sendable, Equatable {
    case proportional, even, none
    case weights([String: Decimal])
    case usage(UsageReference)
}

/// A `capacity:` scope: used and total from usage queries or constants.
struct CapacityScopeConfig: Sendable {
    var scope: String
    var dimension: String
    var used: Double?
    var usedFrom: UsageReference?
    var total: Double?
    var totalFrom: UsageReference?
}

extension ConfigLoader {
    static let dimensionPattern = "^[a-z_][a-z0-9_]*$"

    static func readUsage(_ node: Node, at path: String, _ reader: ConfigReader) -> UsageSourceConfig? {
        guard let fields = reader.mapping(node, at: path, allowed: [
            "name", "type", "path", "dsn_env", "dsn_file", "url", "tenant_label", "interval", "timeout", "queries",
        ]),
            reader.required(fields, "name") != nil, let name = reader.string(fields, "name"),
            reader.required(fields, "type") != nil,
            let type = reader.oneOf(fields, "type", UsageSourceConfig.Kind.allCases.map(\.rawValue)),
            let kind = UsageSourceConfig.Kind(rawValue: type) else { return nil }
        var usage = UsageSourceConfig(name: name, kind: kind)
        usage.path = reader.string(fields, "path")
        usage.dsn = reader.secret(fields, "dsn")
        usage.url = reader.string(fields, "url")
        usage.tenantLabel = reader.string(fields, "tenant_label") ?? usage.tenantLabel
        usage.interval = reader.duration(fields, "interval") ?? usage.interval
        usage.timeout = reader.duration(fields, "timeout") ?? usage.timeout
        let hasDSNKey = fields["dsn_env"] != nil || fields["dsn_file"] != nil
        switch kind {
        case .sqlite where usage.path == nil && !hasDSNKey:
            reader.fail(at: fields.node, fields.path("path"), "an sqlite usage source needs path: (or dsn_env/dsn_file naming the file)")
        case .demo where usage.path == nil:
            reader.fail(at: fields.node, fields.path("path"), "the demo usage source needs path: where it writes its database")
        case .postgres where !hasDSNKey:
            reader.fail(at: fields.node, fields.path("dsn_env"), "one of dsn_env or dsn_file is required (postgres://user:password@host:port/database)")
        case .postgres:
            if let dsn = usage.dsn, PostgresDSN(dsn.value) == nil {
                reader.fail(at: fields["dsn_env"] ?? fields["dsn_file"], fields.path(fields["dsn_env"] != nil ? "dsn_env" : "dsn_file"),
                            "not a postgres://user:password@host:port/database URL (the value is not shown: it is a secret)")
            }
        case .prometheus:
            if let url = usage.url {
                if URL(string: url)?.scheme?.hasPrefix("http") != true { reader.fail(at: fields["url"], fields.path("url"), "expected an http(s) URL, got \"\(url)\"") }
            } else {
                reader.fail(at: fields.node, fields.path("url"), "a prometheus usage source needs url: (such as http://127.0.0.1:9090)")
            }
        default:
            break
        }
        if let node = fields["queries"], case let .mapping(mapping) = node {
            for (key, value) in mapping {
                guard let dimension = key.string, case let .scalar(text) = value, !text.string.isEmpty else {
                    reader.fail(at: value, "\(path).queries", "expected dimension: query text")
                    continue
                }
                guard dimension.range(of: dimensionPattern, options: .regularExpression) != nil else {
                    reader.fail(at: key, "\(path).queries.\(dimension)", "a dimension is a metric-style name such as storage_bytes")
                    continue
                }
                usage.queries.append(.init(dimension: dimension, text: text.string))
            }
            if usage.queries.isEmpty && mapping.count == 0 { reader.fail(at: node, "\(path).queries", "no queries") }
        } else if let node = fields["queries"] {
            reader.fail(at: node, "\(path).queries", "expected a mapping of dimension to query, got \(node.kindName)")
        } else {
            reader.fail(at: fields.node, "\(path).queries", "required key is missing")
        }
        return usage
    }

    static func readCapacity(_ node: Node, at path: String, _ reader: ConfigReader) -> CapacityScopeConfig? {
        guard let fields = reader.mapping(node, at: path, allowed: ["scope", "dimension", "used", "used_from", "total", "total_from"]),
              reader.required(fields, "scope") != nil, let scope = reader.string(fields, "scope"),
              reader.required(fields, "dimension") != nil, let dimension = reader.string(fields, "dimension") else { return nil }
        var capacity = CapacityScopeConfig(scope: scope, dimension: dimension)
        capacity.used = quantity(fields, "used", reader)
        capacity.total = quantity(fields, "total", reader)
        capacity.usedFrom = reference(fields, "used_from", reader)
        capacity.totalFrom = reference(fields, "total_from", reader)
        for (constant, reference) in [("used", "used_from"), ("total", "total_from")] {
            switch (fields[constant], fields[reference]) {
            case (nil, nil): reader.fail(at: fields.node, fields.path(reference), "one of \(reference) or \(constant) is required")
            case (.some, .some(let node)): reader.fail(at: node, fields.path(reference), "give \(reference) or \(constant), not both")
            default: break
            }
        }
        return capacity
    }

    static func reference(_ fields: Fields, _ key: String, _ reader: ConfigReader) -> UsageReference? {
        guard let text = reader.string(fields, key) else { return nil }
        guard let reference = UsageReference(text) else {
            reader.fail(at: fields[key], fields.path(key), "expected usage/<usage source>/<dimension>, got \"\(text)\"")
            return nil
        }
        return reference
    }

    /// A number with an optional SI or binary byte suffix: 5TB, 512GiB, 1e12, 2_000.
    static func quantity(_ fields: Fields, _ key: String, _ reader: ConfigReader) -> Double? {
        guard let text = reader.string(fields, key) else { return nil }
        let units: [(String, Double)] = [("KiB", 0x1p10), ("MiB", 0x1p20), ("GiB", 0x1p30), ("TiB", 0x1p40), ("PiB", 0x1p50),
                                         ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("PB", 1e15), ("B", 1)]
        var number = text.replacingOccurrences(of: "_", with: "").trimmingCharacters(in: .whitespaces)
        var factor = 1.0
        if let unit = units.first(where: { number.hasSuffix($0.0) }) {
            number = String(number.dropLast(unit.0.count)).trimmingCharacters(in: .whitespaces)
            factor = unit.1
        }
        guard let value = Double(number), value >= 0, value.isFinite else {
            reader.fail(at: fields[key], fields.path(key), "expected a non-negative amount such as 5TB, 512GiB or 1000, got \"\(text)\"")
            return nil
        }
        return value * factor
    }

    /// `allocation.shared.drivers`: category → proportional | even | none | {usage: ref} | {weights: {tenant: n}}.
    static func readDrivers(_ node: Node, at path: String, _ reader: ConfigReader) -> [CostCategory: SharedDriverConfig] {
        guard let fields = reader.mapping(node, at: path, allowed: Set(CostCategory.allCases.map(\.rawValue))) else { return [:] }
        var drivers: [CostCategory: SharedDriverConfig] = [:]
        for (key, entry) in fields.entries {
            guard let category = CostCategory(rawValue: key) else { continue }
            let keyPath = fields.path(key)
            switch entry.value {
            case .scalar(let scalar):
                switch scalar.string {
                case "proportional": drivers[category] = .proportional
                case "even": drivers[category] = .even
                case "none": drivers[category] = SharedDriverConfig.none
                default: reader.fail(at: entry.value, keyPath, "expected proportional, even, none, {usage: …} or {weights: …}, got \"\(scalar.string)\"")
                }
            case .mapping:
                guard let driver = reader.mapping(entry.value, at: keyPath, allowed: ["usage", "weights"]) else { continue }
                if let reference = reference(driver, "usage", reader) {
                    drivers[category] = .usage(reference)
                } else if let weightsNode = driver["weights"], let table = reader.mapping(weightsNode, at: driver.path("weights"),
                                                                                            allowed: Set(weightsNode.mapping?.keys.compactMap(\.string) ?? [])) {
                    var weights: [String: Decimal] = [:]
                    for tenant in table.entries.keys {
                        guard let weight = reader.decimal(table, tenant) else { continue }
                        guard TenantID.isValid(tenant) else {
                            reader.fail(at: table.entries[tenant]?.key, table.path(tenant), "a tenant is an ID such as t-1042 or acme (letters, digits, . _ : -)")
                            continue
                        }
                        weights[tenant] = weight
                    }
                    drivers[category] = .weights(weights)
                } else if driver["usage"] == nil && driver["weights"] == nil {
                    reader.fail(at: entry.value, keyPath, "expected usage: <usage source>/<dimension> or weights: {tenant: weight}")
                }
            default:
                reader.fail(at: entry.value, keyPath, "expected a driver, got \(entry.value.kindName)")
            }
        }
        return drivers
    }

    /// References must name a configured usage source and one of its dimensions.
    static func checkReferences(_ config: ExporterConfig, _ root: Node, _ reader: ConfigReader) {
        let known = Set(config.usage.flatMap { usage in usage.queries.map { UsageReference(usage: usage.name, dimension: $0.dimension) } })
        var seen: Set<String> = []
        for (index, usage) in config.usage.enumerated() where !seen.insert(usage.name).inserted {
            reader.fail(at: root.mapping?["usage"]?.sequence?[index], "usage[\(index)].name", "duplicate usage source name \"\(usage.name)\"")
        }
        func check(_ reference: UsageReference?, _ key: String, _ node: Node?) {
            guard let reference, !known.contains(reference) else { return }
            reader.fail(at: node, key, "\(reference) names no configured usage query (known: \(known.map(\.description).sorted().joined(separator: ", ")))")
        }
        for (index, scope) in config.capacity.enumerated() {
            let node = root.mapping?["capacity"]?.sequence?[index]
            check(scope.usedFrom, "capacity[\(index)].used_from", node?.mapping?["used_from"])
            check(scope.totalFrom, "capacity[\(index)].total_from", node?.mapping?["total_from"])
        }
        for (category, driver) in config.sharedDrivers {
            guard case .usage(let reference) = driver else { continue }
            let node = root.mapping?["allocation"]?.mapping?["shared"]?.mapping?["drivers"]?.mapping?[category.rawValue]
            check(reference, "allocation.shared.drivers.\(category.rawValue).usage", node?.mapping?["usage"] ?? node)
        }
        checkPoolReferences(config, root, known: known, reader)
        for (index, metric) in config.unitMetrics.enumerated() {
            check(metric.from, "unit_metrics[\(index)].from", root.mapping?["unit_metrics"]?.sequence?[index].mapping?["from"])
        }
        check(config.revenue?.from, "revenue.from", root.mapping?["revenue"]?.mapping?["from"])
    }
}

/// Tenant label values: IDs or configured names. An e-mail address or a customer's name from
/// an application database (spaces, @) never becomes a label.
enum TenantID {
    static func isValid(_ value: String) -> Bool {
        !value.isEmpty && value.count <= 64 && value.range(of: "^[A-Za-z0-9][A-Za-z0-9._:-]*$", options: .regularExpression) != nil
    }
}
