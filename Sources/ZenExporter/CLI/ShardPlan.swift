import Foundation

/// `check-config --shard-plan N`: which sources each of N shards would run, with their
/// resources at the last good sync when a database is there, and which sources would move
/// from the shard they run on now (the config's or the flag's COUNT).
struct ShardPlan {
    struct Entry {
        var source: String
        var pinned: Int?
        var resources: Int?
        var now: Int
        var planned: Int
    }

    var count: Int
    var current: Int
    var entries: [Entry]

    init(_ config: ExporterConfig, count: Int, resources: [String: Int]) {
        self.count = count
        current = config.shard.count
        var names = config.sources.map { ($0.name, $0.shard) }
        if !config.items.isEmpty { names.append((ManualItemsSource.sourceName, nil)) }
        let (now, planned) = (config.shardAssignment(count: max(1, config.shard.count)), config.shardAssignment(count: count))
        entries = names.map { name, pinned in
            Entry(source: name, pinned: pinned, resources: resources[name], now: now.shard(of: name), planned: planned.shard(of: name))
        }
    }

    var text: String {
        var lines: [String] = []
        for shard in 0..<count {
            let owned = entries.filter { $0.planned == shard }
            let total = owned.compactMap(\.resources).reduce(0, +)
            let known = owned.contains { $0.resources != nil }
            lines.append("shard \(shard)/\(count): \(owned.count) source(s)" + (known ? ", \(total) resources at the last sync" : ""))
            for entry in owned {
                let pin = entry.pinned.map { ", pinned (shard: \($0))" } ?? ""
                lines.append("  \(entry.source)\(entry.resources.map { ": \($0) resources" } ?? "")\(pin)")
            }
        }
        let moving = entries.filter { $0.now != $0.planned }
        if current != count {
            lines.append("against the current COUNT \(current): \(moving.count) of \(entries.count) source(s) move"
                + (moving.isEmpty ? "" : " (" + moving.map { "\($0.source) \($0.now)→\($0.planned)" }.joined(separator: ", ") + ")"))
        }
        return lines.joined(separator: "\n")
    }
}
