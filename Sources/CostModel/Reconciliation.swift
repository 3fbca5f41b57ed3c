import Foundation

/// Billing-first reconciliation: billing line items are the truth about money; inventory
/// only enriches them. Billed but absent from inventory is a zombie; an unattached volume
/// older than `orphanMinAge` is an orphan; volumes attached to a server (by attachment or by
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
        let inventoryByID = Dictionary(inventory.map { ($0.resourceID, $0) }, uniquingKeysWith: { first, _ in first })
        var resources: [String: Resource] = [:]
        resources.reserveCapacity(max(billing.count, inventory.count))

        for var item in billing {
            if var existing = resources[item.resourceID] {
                if existing.rate.currency == item.rate.currency {
                    existing.rate = existing.rate.adding(item.rate)
                    resources[item.resourceID] = existing
                    continue
                }
                // Billed in a second currency: its own series, never summed across currencies.
                item.resourceID += "|\(item.rate.currency.code)"
                if var other = resources[item.resourceID] {
                    other.rate = other.rate.adding(item.rate)
                    resources[item.resourceID] = other
                    continue
                }
            }
            let known = inventoryByID[item.resourceID] ?? inventoryByID[String(item.resourceID.prefix { $0 != "|" })]
            resources[item.resourceID] = Resource(
                provider: item.provider,
                id: item.resourceID,
                name: known?.name ?? item.resourceName,
                resourceType: item.resourceType,
                service: item.service,
                category: item.category,
                region: known?.region ?? item.region,
                account: item.account,
                status: known.map { ResourceStatus(provider: $0.status) } ?? .missing,
                flavor: known?.flavor ?? "",
                tags: known?.tags ?? [:],
                rate: item.rate,
                isZombie: known == nil && judged(item),
                isOrphan: false,
                folded: [],
                project: item.project.isEmpty ? known?.project ?? "" : item.project
            )
        }
        for item in inventory where resources[item.resourceID] == nil {
            resources[item.resourceID] = Resource(
                provider: item.provider,
                id: item.resourceID, name: item.name, resourceType: item.resourceType, service: "",
                category: Self.category(ofType: item.resourceType), region: item.region, account: "",
                status: ResourceStatus(provider: item.status), flavor: item.flavor, tags: item.tags,
                rate: Rate(amount: 0, currency: currency, periodHours: 1),
                isZombie: false, isOrphan: false, folded: [], project: item.project
            )
        }

        foldBilledChildren(into: &resources, billing: billing)
        foldVolumes(into: &resources, inventory: inventoryByID)
        markOrphans(&resources, inventory: inventoryByID)
        // Sorting the IDs, not the values: a resource is a few hundred bytes to move.
        return resources.keys.sorted().compactMap { resources[$0] }
    }

    /// Whether an inventory that answered could have listed `item`: only then does its absence
    /// make it a zombie.
    private func judged(_ item: BillingLineItem) -> Bool {
        guard inventoriedTypes.contains(item.resourceType), !uninventoriedRegions.contains(item.region) else { return false }
        guard let inventoriedScopes else { return true }
        return inventoriedScopes.contains(InventoryScope(project: item.project, region: item.region))
    }

    private func foldVolumes(into resources: inout [String: Resource], inventory: [String: InventoryItem]) {
        let volumes = resources.values.filter { $0.resourceType == Self.volumeType }.sorted { $0.id < $1.id }
        // Servers by name only when a volume is named after one (`disk-for-<server>`).
        let serverIDByName = !volumes.contains(where: { $0.name.hasPrefix("disk-for-") }) ? [:] : Dictionary(
            resources.values.filter { $0.resourceType == Self.serverType }.map { ($0.name, $0.id) },
            uniquingKeysWith: { first, _ in first }
        )
        for volume in volumes {
            let byAttachment = inventory[volume.id]?.attachedTo.flatMap { resources[$0] != nil ? $0 : nil }
            let byName = volume.name.hasPrefix("disk-for-") ? serverIDByName[String(volume.name.dropFirst("disk-for-".count))] : nil
            guard let serverID = byAttachment ?? byName, var server = resources[serverID],
                  server.rate.currency == volume.rate.currency else { continue }
            server.rate = server.rate.adding(volume.rate)
            server.folded.append(volume.id)
            resources[serverID] = server
            resources[volume.id] = nil
        }
    }

    /// Billing is the truth: whatever the bill puts under a parent resource is part of its cost.
    private func foldBilledChildren(into resources: inout [String: Resource], billing: [BillingLineItem]) {
        let parents = Dictionary(billing.compactMap { item in item.parentID.flatMap { $0.isEmpty ? nil : (item.resourceID, $0) } },
                                 uniquingKeysWith: { first, _ in first })
        for (childID, parentID) in parents.sorted(by: { $0.key < $1.key }) where childID != parentID {
            guard let child = resources[childID], var parent = resources[parentID], parent.rate.currency == child.rate.currency else { continue }
            parent.rate = parent.rate.adding(child.rate)
            parent.folded.append(childID)
            resources[parentID] = parent
            resources[childID] = nil
        }
    }

    private func markOrphans(_ resources: inout [String: Resource], inventory: [String: InventoryItem]) {
        for (id, resource) in resources where resource.resourceType == Self.volumeType {
            guard let known = inventory[id], known.attachedTo == nil,
                  now.timeIntervalSince(known.createdAt) >= orphanMinAge else { continue }
            resources[id]?.isOrphan = true
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
