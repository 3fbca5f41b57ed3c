import CostModel
import Foundation
import SourceKit
import Storage
import Yams

/// One `allocation.pools` entry: which resources form the pool (`ResourcePool`, also in
/// `AllocationPolicy.pools`) and the usage that splits its cost.
struct PoolConfig: Sendable {
    enum Capacity: Sendable, Equatable {
        case none
        case constant(Decimal)
        case usage(UsageReference)
    }

    struct Component: Sendable {
        var driver: UsageReference
        var capacity: Capacity = .none
        var weight: Decimal = 1
    }

    var pool: ResourcePool
    var components: [Component]
    var idle: PoolDriver.Idle = .tenant

    var name: String { pool.name }
}

extension ConfigLoader {
    /// Fields a pool's `match:` may name besides `tags`; each a regular expression the whole
    /// value must match.
    static let poolFields: Set<String> = ["name", "source", "account", "project", "region", "service", "provider", "resource_type", "category"]

    /// `allocation.pools`: name, match {tags, fields}, driver + capacity or drivers [{driver,
    /// capacity, weight}], idle tenant | spread.
    static func readPools(_ node: Node, _ reader: ConfigReader) -> [PoolConfig] {
        guard case .sequence(let items) = node else {
            reader.fail(at: node, "allocation.pools", "expected a list of pools, got \(node.kindName)")
            return []
        }
        var pools: [PoolConfig] = []
        for (index, item) in items.enumerated() {
            let path = "allocation.pools[\(index)]"
            guard let fields = reader.mapping(item, at: path, allowed: ["name", "match", "driver", "capacity", "drivers", "idle"]),
                  reader.required(fields, "name") != nil, let name = reader.string(fields, "name") else { continue }
            guard TenantID.isValid(name) else {
                reader.fail(at: fields["name"], fields.path("name"), "a pool name is an ID such as k8s-prod (letters, digits, . _ : -)")
                continue
            }
            if pools.contains(where: { $0.name == name }) {
                reader.fail(at: fields["name"], fields.path("name"), "duplicate pool name \"\(name)\"")
                continue
            }
            guard let matchNode = reader.required(fields, "match"), let pool = readPoolMatch(matchNode, name: name, at: fields.path("match"), reader) else { continue }
            var components: [PoolConfig.Component] = []
            switch (fields["driver"], fields["drivers"]) {
            case (.some, .some):
                reader.fail(at: fields["drivers"], fields.path("drivers"), "give either driver (with capacity) or drivers, not both")
            case (.some, nil):
                if let driver = reference(fields, "driver", reader) {
                    components = [PoolConfig.Component(driver: driver, capacity: readCapacity(fields, reader))]
                }
            case (nil, .some):
                for (position, entry) in reader.sequence(fields, "drivers").enumerated() {
                    guard let component = reader.mapping(entry, at: "\(fields.path("drivers"))[\(position)]", allowed: ["driver", "capacity", "weight"]),
                          reader.required(component, "driver") != nil, let driver = reference(component, "driver", reader) else { continue }
                    components.append(PoolConfig.Component(driver: driver, capacity: readCapacity(component, reader),
                                                           weight: reader.decimal(component, "weight") ?? 1))
                }
                if components.isEmpty { reader.fail(at: fields["drivers"], fields.path("drivers"), "a pool needs at least one driver") }
            case (nil, nil):
                reader.fail(at: item, path, "a pool needs driver: usage/<usage source>/<dimension> (or drivers: [...])")
            }
            if fields["drivers"] != nil, fields["capacity"] != nil {
                reader.fail(at: fields["capacity"], fields.path("capacity"), "with drivers, each driver names its own capacity")
            }
            guard !components.isEmpty else { continue }
            var config = PoolConfig(pool: pool, components: components)
            if let idle = reader.oneOf(fields, "idle", PoolDriver.Idle.allCases.map(\.rawValue)) { config.idle = PoolDriver.Idle(rawValue: idle) ?? .tenant }
            pools.append(config)
        }
        // A resource two pools select would be split twice: where one pool's selector
        // implies the other's, every resource of the narrower pool is such a resource.
        for (later, pool) in pools.enumerated() {
            for earlier in pools[..<later] where earlier.pool.contains(pool.pool) || pool.pool.contains(earlier.pool) {
                reader.fail(at: items[later], "allocation.pools[\(later)].match",
                            "pools \"\(earlier.name)\" and \"\(pool.name)\" overlap: every resource one selects, the other selects too")
            }
        }
        return pools
    }

    private static func readPoolMatch(_ node: Node, name: String, at path: String, _ reader: ConfigReader) -> ResourcePool? {
        guard let fields = reader.mapping(node, at: path, allowed: poolFields.union(["tags"])) else { return nil }
        var pool = ResourcePool(name: name)
        if let tagsNode = fields["tags"], let tags = reader.mapping(tagsNode, at: fields.path("tags"), allowed: Set(tagsNode.mapping?.keys.compactMap(\.string) ?? [])) {
            for key in tags.entries.keys { pool.tags[key] = reader.string(tags, key) }
        }
        for field in poolFields.sorted() {
            guard let pattern = reader.string(fields, field) else { continue }
            do {
                _ = try NSRegularExpression(pattern: pattern)
                pool.match.append((field, pattern))
            } catch {
                reader.fail(at: fields[field], fields.path(field), "invalid regular expression \"\(pattern)\"")
            }
        }
        guard !pool.tags.isEmpty || !pool.match.isEmpty else {
            reader.fail(at: node, path, "a pool must select something (tags, or one of \(poolFields.sorted().joined(separator: ", "))): an empty match would take every resource")
            return nil
        }
        return pool
    }

    /// `capacity:` a usage reference (its total that day) or a constant such as 16.
    private static func readCapacity(_ fields: Fields, _ reader: ConfigReader) -> PoolConfig.Capacity {
        guard let node = fields["capacity"], !node.isNull else { return .none }
        if let text = node.scalar?.string, text.hasPrefix("usage/") || text.contains("/") {
            return reference(fields, "capacity", reader).map(PoolConfig.Capacity.usage) ?? .none
        }
        return reader.decimal(fields, "capacity").map(PoolConfig.Capacity.constant) ?? .none
    }

    /// Every usage query a pool reads must be configured; each error points at its key.
    static func checkPoolReferences(_ config: ExporterConfig, _ root: Node, known: Set<UsageReference>, _ reader: ConfigReader) {
        let nodes = root.mapping?["allocation"]?.mapping?["pools"]?.sequence
        let knownList = known.map(\.description).sorted().joined(separator: ", ")
        for (index, pool) in config.pools.enumerated() {
            let node = nodes?[index].mapping
            let blended = node?["drivers"] != nil
            for (position, component) in pool.components.enumerated() {
                let base = blended ? "allocation.pools[\(index)].drivers[\(position)]" : "allocation.pools[\(index)]"
                let fields = blended ? node?["drivers"]?.sequence?[position].mapping : node
                var checks = [("driver", component.driver)]
                if case .usage(let capacity) = component.capacity { checks.append(("capacity", capacity)) }
                for (key, reference) in checks where !known.contains(reference) {
                    reader.fail(at: fields?[key], "\(base).\(key)",
                                "pool \"\(pool.name)\": \(reference) names no configured usage query (known: \(knownList))")
                }
            }
        }
    }
}
