import Foundation

/// Who a resource is: its tenant, team and environment from its tags, then the rules in order,
/// then the pool that selects it (`ResourcePool`). Kept per resource between runs by the
/// caller, so that regular expressions run once per sync, not per evaluation.
extension Allocator {
    /// Each subject's dimensions (tenant, team, environment): tags first, then the rules in
    /// order; a pool's resources then take the pool's tenant (`ResourcePool.tenant`).
    public func dimensions(of subjects: [AllocationSubject]) -> [[String: String]] {
        var conflicts: [PoolConflict] = []
        return dimensions(of: subjects, conflicts: &conflicts)
    }

    /// `dimensions(of:)`, with each resource two or more pools select in `conflicts` (it is
    /// counted in the first).
    public func dimensions(of subjects: [AllocationSubject], conflicts: inout [PoolConflict]) -> [[String: String]] {
        let placed = tagAndRuleDimensions(of: subjects)
        let matcher = PoolMatcher(policy.pools)
        guard matcher.count > 0 else { return placed }
        // Pooled dimensions shared as the others are, by what is left of them: the pool, the
        // team and the environment (hashing those is a fifth of hashing the dictionary).
        struct Pooled: Hashable { var pool: Int; var team: String?; var environment: String? }
        var shared: [Pooled: [String: String]] = [:]
        return zip(subjects, placed).map { subject, dims in
            var first: Int?, others: [Int] = []
            for index in 0..<matcher.count where matcher.selects(index, subject) {
                if first == nil { first = index } else { others.append(index) }
            }
            guard let first else { return dims }
            if !others.isEmpty {
                conflicts.append(PoolConflict(source: subject.source, resourceID: subject.resource.id,
                                              pools: ([first] + others).map { policy.pools[$0].name }))
            }
            let key = Pooled(pool: first, team: dims["team"], environment: dims["environment"])
            if let known = shared[key] { return known }
            var pooled = dims
            pooled["tenant"] = policy.pools[first].tenant
            shared[key] = pooled
            return pooled
        }
    }

    private func tagAndRuleDimensions(of subjects: [AllocationSubject]) -> [[String: String]] {
        let compiled = policy.rules.map { rule in
            (rule, rule.match.map { ($0.field, try? NSRegularExpression(pattern: $0.pattern)) })
        }
        // Equal dimensions share one dictionary: an estate has far fewer distinct
        // (tenant, team, environment) than resources, and these are kept for every resource.
        if compiled.isEmpty {
            // Without rules they are the values of the configured tags: found by walking each
            // resource's few tags (no hashing) and shared by those values, which give the
            // dimensions one to one, with no dictionary built per resource (at 100,000
            // resources this took the allocation 40 ms → ~10).
            let keys = AllocationPolicy.dimensions.map { policy.tagKeys[$0] ?? [] }
            var byValues: [TagValues: [String: String]] = [:]
            return subjects.map { subject in
                let values = TagValues(subject.resource.tags, keys: keys)
                if let known = byValues[values] { return known }
                var dims: [String: String] = [:]
                for (dimension, value) in zip(AllocationPolicy.dimensions, [values.first, values.second, values.third]) {
                    if let value { dims[dimension] = value }
                }
                byValues[values] = dims
                return dims
            }
        }
        var shared: [[String: String]: [String: String]] = [:]
        return subjects.map { subject in
            let dims = dimensions(of: subject, rules: compiled)
            if let known = shared[dims] { return known }
            shared[dims] = dims
            return dims
        }
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

    /// The values the configured tag keys give the three dimensions (tenant, team,
    /// environment): per dimension, the value of the first of its keys, in the configured
    /// order, that the resource has with a non-empty value; as `policy.tagKeys` is read in
    /// `dimensions(of:rules:)`.
    struct TagValues: Hashable {
        var first: String?
        var second: String?
        var third: String?

        init(_ tags: [String: String], keys: [[String]]) {
            // Rank (position in its dimension's keys) and value of the best tag so far, per
            // dimension, without an array allocated per resource.
            var ranks = (Int.max, Int.max, Int.max)
            func offer(_ dimension: Int, _ rank: Int, _ value: String, _ values: inout TagValues) {
                switch dimension {
                case 0: if rank < ranks.0 { (ranks.0, values.first) = (rank, value) }
                case 1: if rank < ranks.1 { (ranks.1, values.second) = (rank, value) }
                default: if rank < ranks.2 { (ranks.2, values.third) = (rank, value) }
                }
            }
            let dimensions = min(3, keys.count)
            if tags.count <= 8 {
                for (key, value) in tags where !value.isEmpty {
                    for dimension in 0..<dimensions {
                        if let rank = keys[dimension].firstIndex(of: key) { offer(dimension, rank, value, &self) }
                    }
                }
            } else {
                for dimension in 0..<dimensions {
                    for (rank, key) in keys[dimension].enumerated() {
                        guard let value = tags[key], !value.isEmpty else { continue }
                        offer(dimension, rank, value, &self)
                        break
                    }
                }
            }
        }
    }

    /// `$1`… replaced by capture groups, last first so that `$10` is not read as `$1`.
    static func substitute(_ template: String, _ captures: [String]) -> String {
        var value = template
        for (index, capture) in captures.enumerated().reversed() {
            value = value.replacingOccurrences(of: "$\(index + 1)", with: capture)
        }
        return value
    }
}
