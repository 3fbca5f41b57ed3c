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
    public var shared: SharedSplit

    public init(tagKeys: [String: [String]] = Self.defaultTagKeys, rules: [AllocationRule] = [], shared: SharedSplit = .none) {
        self.tagKeys = tagKeys
        self.rules = rules
        self.shared = shared
    }

    public static let defaultTagKeys: [String: [String]] = [
        "tenant": ["tenant", "client"], "team": ["team", "owner"], "environment": ["env", "environment"],
    ]
    public static let dimensions = ["tenant", "team", "environment"]
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
        case "account", "project": resource.account
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

    public static func key(source: String, resourceID: String) -> String { "\(source)/\(resourceID)" }

    public static let empty = AllocationResult(labels: [:], tenants: [:], unallocated: [:], directlyAllocatedRatio: 0)
}

public struct Allocator: Sendable {
    public var policy: AllocationPolicy
    public var hoursPerMonth: Decimal

    public init(policy: AllocationPolicy, hoursPerMonth: Decimal) {
        self.policy = policy
        self.hoursPerMonth = hoursPerMonth
    }

    /// Invalid patterns are reported by the config loader; here they simply never match.
    public func allocate(_ subjects: [AllocationSubject]) -> AllocationResult {
        let compiled = policy.rules.map { rule in
            (rule, rule.match.map { ($0.field, try? NSRegularExpression(pattern: $0.pattern)) })
        }
        var labels: [String: [String: String]] = [:]
        var direct: [String: [Currency: Decimal]] = [:]
        var rest: [String: [Currency: Decimal]] = [:]
        var total: Decimal = 0, placed: Decimal = 0

        for subject in subjects {
            let dims = dimensions(of: subject, rules: compiled)
            labels[AllocationResult.key(source: subject.source, resourceID: subject.resource.id)] = dims
            let monthly = subject.resource.rate.monthly(hoursPerMonth: hoursPerMonth)
            total += monthly.amount
            if let tenant = dims["tenant"], !tenant.isEmpty {
                direct[tenant, default: [:]][monthly.currency, default: 0] += monthly.amount
                placed += monthly.amount
            } else {
                rest[subject.resource.provider, default: [:]][monthly.currency, default: 0] += monthly.amount
            }
        }
        var result = AllocationResult(labels: labels, tenants: direct, unallocated: rest,
                                      directlyAllocatedRatio: total > 0 ? (placed / total).doubleValue : 0)
        splitShared(&result, direct: direct)
        return result
    }

    private func dimensions(of subject: AllocationSubject, rules: [(AllocationRule, [(String, NSRegularExpression?)])]) -> [String: String] {
        var dims: [String: String] = [:]
        for dimension in AllocationPolicy.dimensions {
            for key in policy.tagKeys[dimension] ?? [] {
                if let value = subject.resource.tags[key], !value.isEmpty {
                    dims[dimension] = value
                    break
                }
            }
        }
        for (rule, patterns) in rules {
            var captures: [String] = []
            let matches = patterns.allSatisfy { field, regex in
                guard let regex, let value = subject.field(field) else { return false }
                let range = NSRange(value.startIndex..., in: value)
                guard let match = regex.firstMatch(in: value, range: range) else { return false }
                for group in 1..<max(1, match.numberOfRanges) {
                    captures.append(Range(match.range(at: group), in: value).map { String(value[$0]) } ?? "")
                }
                return true
            }
            guard matches else { continue }
            for (dimension, template) in rule.set where dims[dimension] == nil {
                dims[dimension] = Self.substitute(template, captures)
            }
        }
        return dims
    }

    /// `$1`… replaced by capture groups, last first so that `$10` is not read as `$1`.
    static func substitute(_ template: String, _ captures: [String]) -> String {
        var value = template
        for (index, capture) in captures.enumerated().reversed() {
            value = value.replacingOccurrences(of: "$\(index + 1)", with: capture)
        }
        return value
    }

    /// Spreads the unallocated rest over the tenants, per currency. The last tenant takes the
    /// remainder of the division, so tenants plus unallocated equal the total exactly.
    private func splitShared(_ result: inout AllocationResult, direct: [String: [Currency: Decimal]]) {
        guard policy.shared != .none, !direct.isEmpty else { return }
        var restByCurrency: [Currency: Decimal] = [:]
        for (_, amounts) in result.unallocated { for (currency, amount) in amounts { restByCurrency[currency, default: 0] += amount } }
        for (currency, rest) in restByCurrency where rest != 0 {
            let tenants = direct.keys.sorted()
            let weights: [Decimal] = tenants.map { policy.shared == .even ? 1 : direct[$0]?[currency] ?? 0 }
            let totalWeight = weights.reduce(0, +)
            guard totalWeight > 0 else { continue }
            var given: Decimal = 0
            for (index, tenant) in tenants.enumerated() {
                let share = index == tenants.count - 1 ? rest - given : (rest * weights[index] / totalWeight).rounded(scale: 10)
                given += share
                result.tenants[tenant, default: [:]][currency, default: 0] += share
            }
            for provider in result.unallocated.keys { result.unallocated[provider]?[currency] = 0 }
        }
    }
}
