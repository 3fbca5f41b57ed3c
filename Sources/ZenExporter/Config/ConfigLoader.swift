import CostModel
import Foundation
import SourceKit
import Yams

/// Loads exporter.yaml into `ExporterConfig`, reporting every problem at once.
enum ConfigLoader {
    static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigErrors) -> ExporterConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigErrors(issues: [ConfigIssue(file: path, line: 0, column: 0, key: "(file)", message: "cannot read the config file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors(issues: [ConfigIssue(file: path, line: 0, column: 0, key: "(file)", message: "the config file is not valid UTF-8")])
        }
        return try parse(text, file: path, environment: environment)
    }

    static func parse(_ text: String, file: String, environment: [String: String]) throws(ConfigErrors) -> ExporterConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigErrors(issues: [ConfigIssue(file: file, line: 1, column: 1, key: "(file)", message: "the config file is empty")])
            }
            root = node
        } catch let error as ConfigErrors {
            throw error
        } catch {
            throw ConfigErrors(issues: [syntaxIssue(error, file: file)])
        }
        let reader = ConfigReader(file: file, environment: environment)
        var config = read(root, reader)
        guard reader.issues.isEmpty else { throw ConfigErrors(issues: reader.issues) }
        config.warnings = reader.warnings
        return config
    }

    private static func syntaxIssue(_ error: any Error, file: String) -> ConfigIssue {
        var line = 1, column = 1, problem = "\(error)"
        if let yaml = error as? YamlError {
            switch yaml {
            case let .scanner(_, message, mark, _), let .parser(_, message, mark, _), let .composer(_, message, mark, _):
                (line, column, problem) = (mark.line, mark.column, message)
            case let .duplicatedKeysInMapping(duplicates, context):
                (line, column, problem) = (context.mark.line, context.mark.column, "duplicate key \(duplicates.joined(separator: ", "))")
            default:
                break
            }
        }
        return ConfigIssue(file: file, line: line, column: column, key: "(yaml)", message: "malformed YAML: \(problem)")
    }

    static let topLevelKeys: Set<String> = [
        "listen", "web", "storage", "reporting", "fx", "metrics", "sources", "usage", "budgets", "items", "allocation", "recommendations", "capacity",
        "health", "unit_metrics", "revenue", "shard",
    ]

    private static func read(_ root: Node, _ reader: ConfigReader) -> ExporterConfig {
        var config = ExporterConfig()
        guard let top = reader.mapping(root, at: "", allowed: topLevelKeys) else { return config }

        if let text = reader.string(top, "listen") {
            if let address = ListenAddress(text) { config.listen = address } else {
                reader.fail(at: top["listen"], "listen", "expected HOST:PORT such as 0.0.0.0:9469, got \"\(text)\"")
            }
        }
        if let node = top["web"], let fields = reader.mapping(node, at: "web", allowed: ["config_file", "max_connections", "idle_timeout"]) {
            config.web.configFile = reader.string(fields, "config_file")
            config.web.maxConnections = reader.int(fields, "max_connections", range: 16...1_000_000) ?? config.web.maxConnections
            config.web.idleTimeout = reader.duration(fields, "idle_timeout") ?? config.web.idleTimeout
        }
        if let node = top["storage"], let fields = reader.mapping(node, at: "storage", allowed: ["path", "retention_days", "resource_retention_days", "removed_source_days"]) {
            config.storage.path = reader.string(fields, "path") ?? config.storage.path
            config.storage.retentionDays = reader.int(fields, "retention_days", range: 1...36_500) ?? config.storage.retentionDays
            config.storage.resourceRetentionDays = reader.int(fields, "resource_retention_days", range: 35...36_500)
                ?? config.storage.resourceRetentionDays
            config.storage.removedSourceDays = reader.int(fields, "removed_source_days", range: 0...36_500) ?? config.storage.removedSourceDays
        }
        config.shard = reader.shard(top, "shard") ?? config.shard
        if let node = top["reporting"] { readReporting(node, reader, into: &config.reporting) }
        if let node = top["fx"] { readFX(node, reader, into: &config.fx) }
        if let node = top["metrics"], let fields = reader.mapping(node, at: "metrics", allowed: ["namespace", "per_resource"]) {
            if let namespace = reader.string(fields, "namespace") {
                if namespace.range(of: "^[a-zA-Z_][a-zA-Z0-9_]*$", options: .regularExpression) != nil { config.metrics.namespace = namespace } else {
                    reader.fail(at: fields["namespace"], "metrics.namespace", "\"\(namespace)\" is not a valid metric name prefix")
                }
            }
            config.metrics.perResource = reader.bool(fields, "per_resource") ?? true
        }
        config.sources = readSources(top, reader, shardCount: config.shard.count)
        config.usage = reader.sequence(top, "usage").enumerated().compactMap { readUsage($1, at: "usage[\($0)]", reader) }
        config.budgets = reader.sequence(top, "budgets").enumerated().compactMap {
            readBudget($1, at: "budgets[\($0)]", reader, defaultCurrency: config.reporting.currency)
        }
        config.items = reader.sequence(top, "items").enumerated().compactMap {
            readItem($1, at: "items[\($0)]", reader, defaultCurrency: config.reporting.currency,
                     today: LocalDay(Date(), in: config.reporting.timeZone))
        }
        if !config.items.isEmpty, let clash = config.sources.first(where: { $0.name == ManualItemsSource.sourceName }) {
            reader.fail(at: top["sources"], "sources", "source name \"\(clash.name)\" is reserved for the items: list; rename the source")
        }
        if let node = top["allocation"] { readAllocation(node, reader, into: &config) }
        config.capacity = reader.sequence(top, "capacity").enumerated().compactMap { readCapacity($1, at: "capacity[\($0)]", reader) }
        if let node = top["health"] { config.health = readHealth(node, reader) }
        config.unitMetrics = reader.sequence(top, "unit_metrics").enumerated().compactMap { readUnitMetric($1, at: "unit_metrics[\($0)]", reader) }
        if let node = top["revenue"] { config.revenue = readRevenue(node, reader, defaultCurrency: config.reporting.currency) }
        checkUnits(config, root, reader)
        checkReferences(config, root, reader)
        if let node = top["recommendations"] { readRecommendations(node, reader, into: &config.recommendations) }
        return config
    }

    private static func readReporting(_ node: Node, _ reader: ConfigReader, into reporting: inout ReportingConfig) {
        guard let fields = reader.mapping(node, at: "reporting", allowed: ["currency", "timezone", "hours_per_month"]) else { return }
        reporting.currency = reader.currency(fields, "currency") ?? reporting.currency
        if let name = reader.string(fields, "timezone") {
            if let zone = TimeZone(identifier: name) { reporting.timeZone = zone } else {
                reader.fail(at: fields["timezone"], "reporting.timezone", "unknown time zone \"\(name)\" (use an IANA name such as Europe/Moscow)")
            }
        }
        reporting.hoursPerMonth = reader.decimal(fields, "hours_per_month") ?? reporting.hoursPerMonth
    }

    private static func readFX(_ node: Node, _ reader: ConfigReader, into fx: inout FXConfig) {
        guard let fields = reader.mapping(node, at: "fx", allowed: ["source", "rates", "url", "refresh"]) else { return }
        if let source = reader.oneOf(fields, "source", FXConfig.Source.allCases.map(\.rawValue)) { fx.source = FXConfig.Source(rawValue: source) ?? .static }
        fx.url = reader.string(fields, "url") ?? fx.url
        fx.refresh = reader.duration(fields, "refresh") ?? fx.refresh
        guard let ratesNode = fields["rates"], let rates = reader.mapping(ratesNode, at: "fx.rates", allowed: CurrencyCodes.iso4217) else { return }
        for (code, entry) in rates.entries {
            if let rate = reader.decimal(entry.value, rates.path(code)) { fx.rates[Currency(code)] = rate }
        }
    }

    private static func readSources(_ top: Fields, _ reader: ConfigReader, shardCount: Int) -> [SourceConfig] {
        let nodes = reader.sequence(top, "sources")
        if top["sources"] == nil { reader.fail(at: top.node, "sources", "required key is missing: configure at least one source (type: demo runs without credentials)") }
        var firstLineByName: [String: Int] = [:]
        /// type and account → the first source that reads it whole, and its line.
        var firstByAccount: [String: (name: String, line: Int)] = [:]
        var sources: [SourceConfig] = []
        for (index, node) in nodes.enumerated() {
            let path = "sources[\(index)]"
            // The type decides which keys are known; an unknown type is reported once, not per key.
            let typeName = node.mapping?["type"]?.scalar?.string
            let allowed: Set<String> = switch typeName.map({ SourceRegistry.kinds[$0] }) {
            case let .some(.some(kind)): SourceRegistry.commonKeys.union(kind.settingKeys)
            case .some(.none): Set(node.mapping?.keys.compactMap(\.string) ?? [])
            case .none: SourceRegistry.commonKeys
            }
            guard let fields = reader.mapping(node, at: path, allowed: allowed) else { continue }
            guard let nameNode = reader.required(fields, "name"), let name = reader.string(fields, "name"), let typeNode = reader.required(fields, "type"), let type = reader.string(fields, "type") else { continue }
            if name.range(of: "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", options: .regularExpression) == nil {
                reader.fail(at: nameNode, fields.path("name"), "\"\(name)\" is not a valid source name (letters, digits, '-', '_', '.')")
            }
            if let first = firstLineByName[name] {
                reader.fail(at: nameNode, fields.path("name"), "duplicate source name \"\(name)\" (first defined on line \(first))")
            } else {
                firstLineByName[name] = nameNode.mark?.line ?? 0
            }
            guard let kind = SourceRegistry.kinds[type] else {
                reader.fail(at: typeNode, fields.path("type"), "unknown source type \"\(type)\" (known: \(SourceRegistry.kinds.keys.sorted().joined(separator: ", ")))")
                continue
            }
            var source = SourceConfig(name: name, type: type, kind: kind, settings: kind.readSettings(fields, reader))
            if let account = source.settings.exclusiveAccount {
                let line = fields["account_id"]?.mark?.line ?? nameNode.mark?.line ?? 0
                if let first = firstByAccount["\(type) \(account)"] {
                    reader.fail(at: fields["account_id"] ?? nameNode, fields.path("account_id"),
                                "sources \"\(first.name)\" (line \(first.line)) and \"\(name)\" both read \(type) account \(account), which would count its spend twice; one \(type) source covers every project of an account (list them in project_ids)")
                } else {
                    firstByAccount["\(type) \(account)"] = (name, line)
                }
            }
            source.interval = reader.duration(fields, "interval") ?? source.interval
            source.timeout = reader.duration(fields, "timeout") ?? source.timeout
            source.retries = reader.int(fields, "retries", range: 0...10) ?? source.retries
            source.shard = reader.int(fields, "shard", range: 0...(Shard.maximumCount - 1))
            if let pin = source.shard, shardCount > 1, pin >= shardCount {
                reader.fail(at: fields["shard"], fields.path("shard"), "pins the source to shard \(pin), but there are \(shardCount) shards (0…\(shardCount - 1))")
            }
            if let jitter = reader.decimal(fields, "jitter", positive: false) {
                if jitter < 0 || jitter > 1 { reader.fail(at: fields["jitter"], fields.path("jitter"), "must be a fraction of the interval between 0 and 1") } else {
                    source.jitterRatio = NSDecimalNumber(decimal: jitter).doubleValue
                }
            }
            sources.append(source)
        }
        return sources
    }

    private static func readBudget(_ node: Node, at path: String, _ reader: ConfigReader, defaultCurrency: Currency) -> Budget? {
        guard let fields = reader.mapping(node, at: path, allowed: ["name", "amount", "currency", "period", "thresholds", "scope"]),
              reader.required(fields, "name") != nil, let name = reader.string(fields, "name"),
              reader.required(fields, "amount") != nil, let amount = reader.decimal(fields, "amount") else { return nil }
        var budget = Budget(name: name, amount: Money(amount, reader.currency(fields, "currency") ?? defaultCurrency))
        if let period = reader.oneOf(fields, "period", Budget.Period.allCases.map(\.rawValue)) {
            budget.period = Budget.Period(rawValue: period) ?? .monthly
        }
        if fields["thresholds"] != nil {
            budget.thresholds = reader.sequence(fields, "thresholds").enumerated().compactMap { reader.decimal($1, "\(path).thresholds[\($0)]") }
        }
        if let scopeNode = fields["scope"],
           let scope = reader.mapping(scopeNode, at: "\(path).scope", allowed: ["source", "provider", "account", "category", "service", "tenant", "team"]) {
            for key in scope.entries.keys { budget.scope[key] = reader.string(scope, key) }
        }
        return budget
    }

    /// `renews` is a date, or `+Nd`: N days after `today` (the day the config is loaded), for
    /// demos and tests that must stay "renewing soon" whenever they run.
    private static func readItem(_ node: Node, at path: String, _ reader: ConfigReader, defaultCurrency: Currency, today: LocalDay) -> ManualItem? {
        guard let fields = reader.mapping(node, at: path, allowed: ["name", "kind", "provider", "cost", "currency", "period", "renews",
                                                                     "auto_renew", "usage", "limit", "pricing"]),
              reader.required(fields, "name") != nil, let name = reader.string(fields, "name"),
              reader.required(fields, "cost") != nil, let cost = reader.decimal(fields, "cost", positive: false) else { return nil }
        let kind = reader.oneOf(fields, "kind", ManualItem.kinds.keys.sorted()) ?? "other"
        _ = reader.oneOf(fields, "pricing", ["fixed", "pay_per_use"])
        var renews: LocalDay?
        if let text = reader.string(fields, "renews") {
            if text.hasPrefix("+"), text.hasSuffix("d"), let days = Int(text.dropFirst().dropLast()), (0...36_500).contains(days) {
                renews = today.adding(days: days)
            } else {
                renews = LocalDay(text)
            }
            if renews == nil {
                reader.fail(at: fields["renews"], fields.path("renews"), "expected a date YYYY-MM-DD or +Nd (days from today), got \"\(text)\"")
            }
        }
        let period = reader.oneOf(fields, "period", BillingPeriod.allCases.map(\.rawValue)).flatMap(BillingPeriod.init(rawValue:)) ?? .monthly
        return ManualItem(name: name, kind: kind, provider: reader.string(fields, "provider") ?? "manual",
                          cost: Money(cost, reader.currency(fields, "currency") ?? defaultCurrency), period: period, renews: renews,
                          autoRenew: reader.bool(fields, "auto_renew") ?? false,
                          usage: reader.decimal(fields, "usage", positive: false), limit: reader.decimal(fields, "limit"))
    }

    static let allocationFields: Set<String> = ["name", "source", "account", "project", "region", "service", "provider", "resource_type", "category"]

    private static func readAllocation(_ node: Node, _ reader: ConfigReader, into config: inout ExporterConfig) {
        var policy = AllocationPolicy()
        defer { config.allocation = policy }
        guard let fields = reader.mapping(node, at: "allocation", allowed: ["tag_keys", "rules", "shared", "pools", "max_tenants"]) else { return }
        config.maxTenants = reader.int(fields, "max_tenants", range: 1...100_000) ?? config.maxTenants
        if let tagNode = fields["tag_keys"], let tags = reader.mapping(tagNode, at: "allocation.tag_keys", allowed: Set(AllocationPolicy.dimensions)) {
            for key in tags.entries.keys {
                policy.tagKeys[key] = reader.sequence(tags, key).enumerated().compactMap { index, item in
                    guard case let .scalar(scalar) = item else {
                        reader.fail(at: item, "\(tags.path(key))[\(index)]", "expected a tag key, got \(item.kindName)")
                        return nil
                    }
                    return scalar.string
                }
            }
        }
        for (index, ruleNode) in reader.sequence(fields, "rules").enumerated() {
            let path = "allocation.rules[\(index)]"
            guard let rule = reader.mapping(ruleNode, at: path, allowed: ["match", "set"]),
                  let matchNode = reader.required(rule, "match"), let setNode = reader.required(rule, "set"),
                  case let .mapping(matchMapping) = matchNode else {
                if let node = ruleNode.mapping?["match"], node.mapping == nil { reader.fail(at: node, "\(path).match", "expected a mapping of field: pattern") }
                continue
            }
            var match: [(field: String, pattern: String)] = []
            for (keyNode, valueNode) in matchMapping {
                let field = keyNode.string ?? ""
                let keyPath = "\(path).match.\(field)"
                guard allocationFields.contains(field) || (field.hasPrefix("tag:") && field.count > 4) else {
                    reader.fail(at: keyNode, keyPath, "unknown field (known: \(allocationFields.sorted().joined(separator: ", ")), tag:KEY)")
                    continue
                }
                guard case let .scalar(pattern) = valueNode else {
                    reader.fail(at: valueNode, keyPath, "expected a regular expression, got \(valueNode.kindName)")
                    continue
                }
                do {
                    _ = try NSRegularExpression(pattern: pattern.string)
                    match.append((field, pattern.string))
                } catch {
                    reader.fail(at: valueNode, keyPath, "invalid regular expression \"\(pattern.string)\"")
                }
            }
            guard let set = reader.mapping(setNode, at: "\(path).set", allowed: Set(AllocationPolicy.dimensions)) else { continue }
            var values: [String: String] = [:]
            for key in set.entries.keys { values[key] = reader.string(set, key) }
            policy.rules.append(AllocationRule(match: match, set: values))
        }
        if let sharedNode = fields["shared"], let shared = reader.mapping(sharedNode, at: "allocation.shared", allowed: ["split", "drivers"]) {
            if let split = reader.oneOf(shared, "split", AllocationPolicy.SharedSplit.allCases.map(\.rawValue)) {
                policy.shared = AllocationPolicy.SharedSplit(rawValue: split) ?? .none
            }
            if let driversNode = shared["drivers"] { config.sharedDrivers = readDrivers(driversNode, at: "allocation.shared.drivers", reader) }
        }
        if let poolsNode = fields["pools"], !poolsNode.isNull {
            config.pools = readPools(poolsNode, reader)
            policy.pools = config.pools.map(\.pool)
        }
    }

    private static func readRecommendations(_ node: Node, _ reader: ConfigReader, into recommendations: inout RecommendationsConfig) {
        guard let fields = reader.mapping(node, at: "recommendations",
                                          allowed: ["cpu_idle_below", "memory_idle_below", "orphan_min_age", "off_hours"]) else { return }
        for (key, keyPath) in [("cpu_idle_below", \RecommendationsConfig.cpuIdleBelow), ("memory_idle_below", \.memoryIdleBelow)] {
            guard let value = reader.decimal(fields, key) else { continue }
            if value > 1 { reader.fail(at: fields[key], fields.path(key), "a ratio between 0 and 1, got \(value)") } else {
                recommendations[keyPath: keyPath] = NSDecimalNumber(decimal: value).doubleValue
            }
        }
        recommendations.orphanMinAge = reader.duration(fields, "orphan_min_age") ?? recommendations.orphanMinAge
        if let node = fields["off_hours"],
           let offHours = reader.mapping(node, at: "recommendations.off_hours", allowed: ["environments", "hours_per_week_off"]) {
            if offHours["environments"] != nil {
                recommendations.offHoursEnvironments = Set(reader.sequence(offHours, "environments").compactMap { $0.scalar?.string })
            }
            if let hours = reader.decimal(offHours, "hours_per_week_off", positive: false) {
                if hours > 168 || hours < 0 {
                    reader.fail(at: offHours["hours_per_week_off"], "recommendations.off_hours.hours_per_week_off", "must be between 0 and 168")
                } else {
                    recommendations.offHoursPerWeek = hours
                }
            }
        }
    }
}
