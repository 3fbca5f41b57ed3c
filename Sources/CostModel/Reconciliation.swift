import Foundation

/// Billing-first reconciliation: billing line items are the truth about money; inventory
/// only enriches them. Billed but absent from inventory is a zombie; an unattached volume
/// older than `orphanMinAge`, or an address bound to nothing, is an orphan; volumes attached to a server (by attachment or by
/// the `disk-for-<server name>` convention) fold into that server's cost.
public struct Reconciliation: Sendable {
    /// Resource types the inventory lists. A billed resource of another type cannot be a
    /// zombie: the source simply has no inventory to check it against.
    public var inventoriedTypes: Set<String>
    /// Regions whose inventory could not be read this time: nothing billed there is a zombie.
    public var uninventoriedRegions: Set<String>
    /// For a source whose inventory is read per project (Selectel): the project × region
    /// inventories that answered. A billed resource is a zombie only when its own project's
    /// inventory of its region is here (answered) and lacks it; a project not configured, or
    /// whose token could not be issued, has no entry, so nothing of it is judged. nil: the
    /// source's inventory is not per project.
    public var inventoriedScopes: Set<InventoryScope>?
    public var orphanMinAge: TimeInterval
    public var now: Date

    public init(inventoriedTypes: Set<String>, uninventoriedRegions: Set<String> = [], inventoriedScopes: Set<InventoryScope>? = nil,
                orphanMinAge: TimeInterval, now: Date) {
        self.inventoriedTypes = inventoriedTypes
        self.uninventoriedRegions = uninventoriedRegions
        self.inventoriedScopes = inventoriedScopes
        self.orphanMinAge = orphanMinAge
        self.now = now
    }

    public static let serverType = "server"
    public static let volumeType = "volume"

    /// Resources sorted by ID. `currency` prices inventory that no line item bills.
    public func reconcile(billing: [BillingLineItem], inventory: [InventoryItem], currency: Currency) -> [Resource] {
        let inventoryByID = InventoryByID(inventory)
        var resources = Resources(capacity: max(billing.count, inventory.count))

        for item in billing {
            var resourceID = item.resourceID
            if let existing = resources.index(of: resourceID) {
                if resources.list[existing].rate.currency == item.rate.currency {
                    resources.list[existing].rate = resources.list[existing].rate.adding(item.rate)
                    continue
                }
                // Billed in a second currency: its own series, never summed across currencies.
                resourceID += "|\(item.rate.currency.code)"
                if let other = resources.index(of: resourceID) {
                    resources.list[other].rate = resources.list[other].rate.adding(item.rate)
                    continue
                }
            }
            // The describing item's position: its fields are read where it lies, not copied.
            let known = inventoryByID.position(of: resourceID) ?? (resourceID == item.resourceID ? nil : inventoryByID.position(of: item.resourceID))
            resources.append(Resource(
                provider: item.provider,
                id: resourceID,
                name: known.map { inventory[$0].name } ?? item.resourceName,
                resourceType: item.resourceType,
                service: item.service,
                category: item.category,
                region: known.map { inventory[$0].region } ?? item.region,
                account: item.account,
                status: known.map { ResourceStatus(provider: inventory[$0].status) } ?? .missing,
                flavor: known.map { inventory[$0].flavor } ?? "",
                tags: known.map { inventory[$0].tags } ?? [:],
                rate: item.rate,
                isZombie: known == nil && judged(item),
                isOrphan: false,
                folded: [],
                project: item.project.isEmpty ? known.map { inventory[$0].project } ?? "" : item.project
            ))
        }
        for item in inventory where resources.index(of: item.resourceID) == nil {
            resources.append(Resource(
                provider: item.provider,
                id: item.resourceID, name: item.name, resourceType: item.resourceType, service: "",
                category: Self.category(ofType: item.resourceType), region: item.region, account: "",
                status: ResourceStatus(provider: item.status), flavor: item.flavor, tags: item.tags,
                rate: Rate(amount: 0, currency: currency, periodHours: 1),
                isZombie: false, isOrphan: false, folded: [], project: item.project
            ))
        }

        foldBilledChildren(into: &resources, billing: billing)
        let facts = InventoryFacts { id in inventoryByID.position(of: id).map { (inventory[$0].attachedTo, inventory[$0].createdAt) } }
        foldVolumes(into: &resources, facts: facts)
        markOrphans(&resources, facts: facts)
        return resources.sortedByID()
    }

    /// Resources that billing describes itself, one per ID (a FOCUS export names, places and
    /// tags each resource in its rows; its inventory would be the same rows again): the
    /// reconciliation of line items against an inventory that lists each of them as it is,
    /// at the same position, attached to nothing and created at `listedAt`, without building
    /// either. Volumes fold into servers by name; unattached volumes listed `orphanMinAge` ago
    /// are orphans. Resources sorted by ID.
    public func reconcile(described: [Resource], listedAt: Date) -> [Resource] {
        var resources = Resources(capacity: described.count)
        for resource in described { resources.append(resource) }
        let facts = InventoryFacts { _ in (attachedTo: nil, createdAt: listedAt) }
        foldVolumes(into: &resources, facts: facts)
        markOrphans(&resources, facts: facts)
        return resources.sortedByID()
    }

    /// What the inventory says of a resource for the folds and the orphans: the server it is
    /// attached to and when it was created; nil when it does not list it.
    private struct InventoryFacts {
        let of: (_ id: String) -> (attachedTo: String?, createdAt: Date)?
    }

    /// Inventory items by ID (the first listed wins), the table holding their positions: an
    /// item is a dozen strings and a dictionary of tags, so it is read where it lies rather
    /// than copied into and out of the table (at 100,000 resources those copies were 28 ms of
    /// reconciliation's 140). A source whose billing describes its resources itself (FOCUS)
    /// builds neither (`reconcile(described:listedAt:)`).
    private struct InventoryByID {
        private var index: [String: Int] = [:]

        init(_ items: [InventoryItem]) {
            index.reserveCapacity(items.count)
            for position in items.indices.reversed() { index[items[position].resourceID] = position }
        }

        /// The position of the first item listed as `id`.
        func position(of id: String) -> Int? { index[id] }
    }

    /// The resources being reconciled, in the order they were added, with an index by ID; a
    /// resource folded into another is marked removed rather than moved out, so that a
    /// resource (a few hundred bytes) is never moved while its ID is looked up.
    private struct Resources {
        var list: [Resource] = []
        /// Positions by ID of the first `indexed` resources: brought up to date when an ID is
        /// looked up, so that a reconciliation that looks up none (described resources without
        /// folds) hashes no ID.
        private var indexByID: [String: Int] = [:]
        private var indexed = 0
        private var removed: [Bool] = []

        init(capacity: Int) {
            list.reserveCapacity(capacity)
            removed.reserveCapacity(capacity)
        }

        /// The index of the resource with `id`, nil when there is none or it was folded away.
        mutating func index(of id: String) -> Int? {
            if indexed < list.count {
                if indexed == 0 { indexByID.reserveCapacity(list.capacity) }
                for position in indexed..<list.count { indexByID[list[position].id] = position }
                indexed = list.count
            }
            guard let index = indexByID[id], !removed[index] else { return nil }
            return index
        }

        mutating func append(_ resource: Resource) {
            list.append(resource)
            removed.append(false)
        }

        mutating func remove(at index: Int) { removed[index] = true }

        func indices(where body: (Resource) -> Bool) -> [Int] {
            list.indices.filter { !removed[$0] && body(list[$0]) }
        }

        /// What is left, sorted by ID. Sources that hand their line items over sorted (FOCUS)
        /// need no sort here: checking the order is one pass.
        func sortedByID() -> [Resource] {
            var order = list.indices.filter { !removed[$0] }
            if !zip(order, order.dropFirst()).allSatisfy({ list[$0].id < list[$1].id }) {
                order.sort { list[$0].id < list[$1].id }
            }
            return order.map { list[$0] }
        }
    }

    /// Whether an inventory that answered could have listed `item`: only then does its absence
    /// make it a zombie.
    private func judged(_ item: BillingLineItem) -> Bool {
        guard inventoriedTypes.contains(item.resourceType), !uninventoriedRegions.contains(item.region) else { return false }
        guard let inventoriedScopes else { return true }
        return inventoriedScopes.contains(InventoryScope(project: item.project, region: item.region))
    }

    private func foldVolumes(into resources: inout Resources, facts: InventoryFacts) {
        let volumes = resources.indices { $0.resourceType == Self.volumeType }.sorted { resources.list[$0].id < resources.list[$1].id }
        // Servers by name only when a volume is named after one (`disk-for-<server>`).
        let serverIDByName = !volumes.contains(where: { resources.list[$0].name.hasPrefix("disk-for-") }) ? [:] : Dictionary(
            resources.indices { $0.resourceType == Self.serverType }.map { (resources.list[$0].name, resources.list[$0].id) },
            uniquingKeysWith: { first, _ in first }
        )
        for volumeIndex in volumes {
            let volume = resources.list[volumeIndex]
            let byAttachment = facts.of(volume.id)?.attachedTo.flatMap { resources.index(of: $0) }
            let byName = volume.name.hasPrefix("disk-for-")
                ? serverIDByName[String(volume.name.dropFirst("disk-for-".count))].flatMap { resources.index(of: $0) } : nil
            guard let server = byAttachment ?? byName, server != volumeIndex,
                  resources.list[server].rate.currency == volume.rate.currency else { continue }
            resources.list[server].rate = resources.list[server].rate.adding(volume.rate)
            resources.list[server].folded.append(volume.id)
            resources.remove(at: volumeIndex)
        }
    }

    /// Billing is the truth: whatever the bill puts under a parent resource is part of its cost.
    private func foldBilledChildren(into resources: inout Resources, billing: [BillingLineItem]) {
        let parents = Dictionary(billing.compactMap { item in item.parentID.flatMap { $0.isEmpty ? nil : (item.resourceID, $0) } },
                                 uniquingKeysWith: { first, _ in first })
        for (childID, parentID) in parents.sorted(by: { $0.key < $1.key }) where childID != parentID {
            guard let child = resources.index(of: childID), let parent = resources.index(of: parentID),
                  resources.list[parent].rate.currency == resources.list[child].rate.currency else { continue }
            resources.list[parent].rate = resources.list[parent].rate.adding(resources.list[child].rate)
            resources.list[parent].folded.append(childID)
            resources.remove(at: child)
        }
    }

    /// Unattached volumes once old enough (a volume between two servers is briefly loose), and
    /// addresses bound to nothing as soon as they are listed so: providers give no time of
    /// unbinding, and an unbound address is billed for nothing from that moment.
    private func markOrphans(_ resources: inout Resources, facts: InventoryFacts) {
        for index in resources.indices(where: { $0.isUnboundAddress && !$0.isZombie }) {
            resources.list[index].isOrphan = true
        }
        for index in resources.indices(where: { $0.resourceType == Self.volumeType }) {
            guard let known = facts.of(resources.list[index].id), known.attachedTo == nil,
                  now.timeIntervalSince(known.createdAt) >= orphanMinAge else { continue }
            resources.list[index].isOrphan = true
        }
    }

    /// The category a bare inventory type belongs to, for resources no line item describes.
    public static func category(ofType type: String) -> CostCategory {
        switch type {
        case "server": .compute
        case "volume", "bucket", "file_storage": .storage
        case "ip", "load_balancer": .network
        case "database": .database
        case "kubernetes_cluster": .kubernetes
        default: .other
        }
    }
}

/// One project's inventory of one region (a Selectel project-scoped token's view).
public struct InventoryScope: Hashable, Sendable {
    public var project: String
    public var region: String

    public init(project: String, region: String) {
        self.project = project
        self.region = region
    }
}
