import CostModel
import SourceKit
import Yams

extension ExporterConfig {
    /// The part of the config this shard runs (`shard`): the sources it owns, the `items` list
    /// when it owns the source name `items`, the budgets scoped to one of its sources, and, on
    /// the shard that owns estate figures (0), the budgets scoped to no source, the usage
    /// sources, capacity scopes, unit metrics and revenue. A figure another shard serves is
    /// left out here so that summing over shards counts it once.
    var ownedByShard: ExporterConfig {
        guard shard.count > 1 else { return self }
        var owned = self
        let assignment = shardAssignment(count: shard.count)
        owned.sources = sources.filter { assignment.shard(of: $0.name) == shard.index }
        if assignment.shard(of: ManualItemsSource.sourceName) != shard.index { owned.items = [] }
        owned.budgets = budgets.filter { budget in
            budget.scope["source"].map { assignment.shard(of: $0) == shard.index } ?? shard.ownsEstateFigures
        }
        if !shard.ownsEstateFigures {
            owned.usage = []
            owned.capacity = []
            owned.unitMetrics = []
            owned.revenue = nil
            // Drivers name usage queries this shard does not run; its tenants are not served.
            owned.sharedDrivers = [:]
        }
        return owned
    }

    /// Every source's shard for `count` shards: the configured sources with their pins, and
    /// `items` when the config has items (`ShardAssignment`).
    func shardAssignment(count: Int) -> ShardAssignment {
        ShardAssignment(sources.map { ($0.name, $0.shard) } + (items.isEmpty ? [] : [(ManualItemsSource.sourceName, nil)]), count: count)
    }

    /// The names of the sources this shard owns, `items` included when it has items: logged at start.
    var shardSourceNames: [String] {
        let owned = ownedByShard
        return owned.sources.map(\.name) + (owned.items.isEmpty ? [] : [ManualItemsSource.sourceName])
    }
}

extension ConfigReader {
    /// `shard: 0/2` or `shard: {index: 0, count: 2}`.
    func shard(_ fields: Fields, _ key: String) -> Shard? {
        guard let node = fields[key], !node.isNull else { return nil }
        let path = fields.path(key)
        switch node {
        case let .scalar(scalar):
            do { return try Shard(parsing: scalar.string) } catch { fail(at: node, path, "\(error)") }
        case .mapping:
            guard let parts = mapping(node, at: path, allowed: ["index", "count"]),
                  required(parts, "index") != nil, required(parts, "count") != nil,
                  let index = int(parts, "index", range: 0...(Shard.maximumCount - 1)),
                  let count = int(parts, "count", range: 1...Shard.maximumCount) else { return nil }
            do { return try Shard(index: index, count: count) } catch { fail(at: parts["index"], parts.path("index"), "\(error)") }
        default:
            fail(at: node, path, "expected INDEX/COUNT such as 0/2, or {index: 0, count: 2}; got \(node.kindName)")
        }
        return nil
    }
}
