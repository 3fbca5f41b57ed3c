import CostModel
import Foundation
import Testing

@Suite("Billing-first reconciliation")
struct ReconciliationTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func bill(_ id: String, _ type: String, daily: Decimal, name: String? = nil) -> BillingLineItem {
        BillingLineItem(provider: "selectel", resourceID: id, resourceName: name ?? id, resourceType: type, service: "svc",
                        category: type == "server" ? .compute : .storage, region: "msk-a", account: "1",
                        rate: Rate(Money(daily, .rub), per: .daily))
    }

    func inventory(_ id: String, _ type: String, status: String = "ACTIVE", attachedTo: String? = nil, ageDays: Double = 100,
                   name: String? = nil) -> InventoryItem {
        InventoryItem(provider: "selectel", resourceID: id, name: name ?? id, resourceType: type, region: "msk-a", status: status,
                      attachedTo: attachedTo, createdAt: now.addingTimeInterval(-ageDays * 86_400))
    }

    var reconciliation: Reconciliation {
        Reconciliation(inventoriedTypes: ["server", "volume"], orphanMinAge: 72 * 3600, now: now)
    }

    @Test("billed but absent from the inventory is a zombie, with its cost kept")
    func zombie() throws {
        let resources = reconciliation.reconcile(billing: [bill("vm-1", "server", daily: 48)], inventory: [], currency: .rub)
        let vm = try #require(resources.first)
        #expect(vm.isZombie)
        #expect(vm.status == .missing)
        #expect(vm.rate.perHour.amount == 2)
    }

    @Test("per project: a zombie only where its own project's inventory of its region answered; the project is kept")
    func zombiesPerProject() throws {
        func billed(_ id: String, project: String) -> BillingLineItem {
            var item = bill(id, "server", daily: 24)
            item.project = project
            return item
        }
        let perProject = Reconciliation(inventoriedTypes: ["server", "volume"], inventoriedScopes: [InventoryScope(project: "p1", region: "msk-a")],
                                        orphanMinAge: 72 * 3600, now: now)
        let resources = perProject.reconcile(billing: [billed("vm-p1", project: "p1"), billed("vm-p2", project: "p2")], inventory: [], currency: .rub)
        let byID = Dictionary(uniqueKeysWithValues: resources.map { ($0.id, $0) })
        #expect(byID["vm-p1"]?.isZombie == true)    // p1's msk-a answered without it
        #expect(byID["vm-p2"]?.isZombie == false)   // p2 was not inventoried (refused or not configured)
        #expect(byID["vm-p2"]?.project == "p2" && byID["vm-p2"]?.rate.perHour.amount == 1)
    }

    @Test("a billed type the inventory does not cover is not a zombie")
    func uncoveredType() throws {
        let resources = reconciliation.reconcile(billing: [bill("bucket-1", "bucket", daily: 24)], inventory: [], currency: .rub)
        #expect(try #require(resources.first).isZombie == false)
    }

    @Test("billing and inventory listing the same IDs in the same order reconcile as when listed in another order")
    func alignedAsAnyOrder() throws {
        // IDs in ascending order in both: a volume attached to vm-2, an old unattached one,
        // one named after the server "web".
        let billing = [bill("a-vol", "volume", daily: 24), bill("b-vol", "volume", daily: 6), bill("c-disk", "volume", daily: 12, name: "disk-for-web"),
                       bill("vm-1", "server", daily: 240, name: "web"), bill("vm-2", "server", daily: 48)]
        let inventory = [inventory("a-vol", "volume", attachedTo: "vm-2"), inventory("b-vol", "volume"), inventory("c-disk", "volume", name: "disk-for-web"),
                         inventory("vm-1", "server", name: "web"), inventory("vm-2", "server")]
        let aligned = reconciliation.reconcile(billing: billing, inventory: inventory, currency: .rub)
        // By hand: each volume folds into its server, the unattached one is an orphan.
        #expect(aligned.map(\.id) == ["b-vol", "vm-1", "vm-2"])
        #expect(aligned.map(\.rate.perHour.amount) == [Decimal(6) / 24, Decimal(252) / 24, 3])
        #expect(aligned.map(\.folded) == [[], ["c-disk"], ["a-vol"]])
        #expect(aligned.map(\.isOrphan) == [true, false, false])
        #expect(aligned == reconciliation.reconcile(billing: billing, inventory: inventory.reversed(), currency: .rub))
    }

    @Test("a volume attached to a server folds into the server's cost")
    func foldByAttachment() throws {
        let resources = reconciliation.reconcile(
            billing: [bill("vm-1", "server", daily: 240), bill("vol-1", "volume", daily: 24)],
            inventory: [inventory("vm-1", "server"), inventory("vol-1", "volume", attachedTo: "vm-1")], currency: .rub)
        #expect(resources.map(\.id) == ["vm-1"])
        #expect(resources[0].rate.perHour.amount == 11)  // (240 + 24) / 24
        #expect(resources[0].folded == ["vol-1"])
    }

    @Test("hostile attachments lose no money: a volume attached to itself stays, one attached to a volume reaches the server with it")
    func attachmentsThatAreNotServers() throws {
        // vol-a → vol-b → vm-1: 24 + 48 + 240 = 312 a day on vm-1. vol-self names itself: kept at 12.
        let resources = reconciliation.reconcile(
            billing: [bill("vm-1", "server", daily: 240), bill("vol-a", "volume", daily: 24), bill("vol-b", "volume", daily: 48),
                      bill("vol-self", "volume", daily: 12)],
            inventory: [inventory("vm-1", "server"), inventory("vol-a", "volume", attachedTo: "vol-b"),
                        inventory("vol-b", "volume", attachedTo: "vm-1"), inventory("vol-self", "volume", attachedTo: "vol-self")],
            currency: .rub)
        #expect(resources.map(\.id) == ["vm-1", "vol-self"])
        #expect(resources.first?.rate.perHour.amount == 13)
        #expect(resources.first?.folded == ["vol-b"])
        #expect(resources.last?.rate.perHour.amount == Decimal(string: "0.5"))
    }

    @Test("a line item billed under a parent folds into it, even with no inventory")
    func foldByBilledParent() throws {
        var disk = bill("disk-1", "volume", daily: 24)
        disk.parentID = "vm-1"
        var ip = bill("ip-1", "ip", daily: 48)
        ip.parentID = "vm-1"
        let resources = reconciliation.reconcile(billing: [bill("vm-1", "server", daily: 24), disk, ip], inventory: [], currency: .rub)
        #expect(resources.map(\.id) == ["vm-1"])
        #expect(resources[0].rate.perHour.amount == 4)  // (24 + 24 + 48) / 24
        #expect(resources[0].folded == ["disk-1", "ip-1"])
    }

    @Test("a volume named disk-for-<server> folds into that server")
    func foldByName() throws {
        let resources = reconciliation.reconcile(
            billing: [bill("vm-1", "server", daily: 24, name: "web"), bill("vol-9", "volume", daily: 24, name: "disk-for-web")],
            inventory: [inventory("vm-1", "server", name: "web")], currency: .rub)
        #expect(resources.count == 1)
        #expect(resources[0].rate.monthly(hoursPerMonth: 720).amount == 1440)
    }

    @Test("an unattached volume older than the orphan age is an orphan; a younger one is not")
    func orphan() {
        let resources = reconciliation.reconcile(
            billing: [bill("old", "volume", daily: 24), bill("new", "volume", daily: 24)],
            inventory: [inventory("old", "volume", status: "available", ageDays: 4), inventory("new", "volume", status: "available", ageDays: 1)],
            currency: .rub)
        #expect(resources.first { $0.id == "old" }?.isOrphan == true)
        #expect(resources.first { $0.id == "new" }?.isOrphan == false)
    }

    @Test("inventory nobody bills appears at zero cost")
    func unbilledInventory() throws {
        let resources = reconciliation.reconcile(billing: [], inventory: [inventory("vm-free", "server")], currency: .rub)
        #expect(try #require(resources.first).rate.perHour.amount == 0)
    }

    @Test("two line items for one resource add up")
    func severalLines() throws {
        let resources = reconciliation.reconcile(billing: [bill("vm-1", "server", daily: 24), bill("vm-1", "server", daily: 48)],
                                                 inventory: [inventory("vm-1", "server")], currency: .rub)
        #expect(try #require(resources.first).rate.perHour.amount == 3)
    }

    @Test("one resource billed in two currencies becomes two series, never a sum across currencies")
    func twoCurrencies() {
        let rub = bill("vm-1", "server", daily: 24)
        let usd = BillingLineItem(provider: "selectel", resourceID: "vm-1", resourceName: "vm-1", resourceType: "server", service: "svc",
                                  category: .compute, region: "msk-a", account: "1", rate: Rate(Money(48, Currency("USD")), per: .daily))
        let resources = reconciliation.reconcile(billing: [rub, usd, usd], inventory: [inventory("vm-1", "server")], currency: .rub)
        #expect(resources.map(\.id) == ["vm-1", "vm-1|USD"])
        #expect(resources.map(\.rate.perHour.amount) == [1, 4])
        #expect(resources.allSatisfy { !$0.isZombie })
    }

    @Test("an ID with '|' in it (a FOCUS row without ResourceId: service|account) billed in two currencies finds its inventory by its whole ID, in both series")
    func pipeInIDTwoCurrencies() {
        let rub = bill("svc|acct", "server", daily: 24, name: "billed")
        let usd = BillingLineItem(provider: "selectel", resourceID: "svc|acct", resourceName: "billed", resourceType: "server", service: "svc",
                                  category: .compute, region: "msk-a", account: "1", rate: Rate(Money(48, Currency("USD")), per: .daily))
        let resources = reconciliation.reconcile(billing: [rub, usd], inventory: [inventory("svc", "server", name: "other"),
                                                                              inventory("svc|acct", "server", name: "listed")], currency: .rub)
        #expect(resources.map(\.id) == ["svc", "svc|acct", "svc|acct|USD"])
        // Before, the second currency's series looked its inventory up by "svc" (the ID up to the first '|').
        #expect(resources.map(\.name) == ["other", "listed", "listed"])
        #expect(resources.allSatisfy { !$0.isZombie })
    }

    @Test("provider statuses are normalised", arguments: [
        ("ACTIVE", "RUNNING"), ("running", "RUNNING"), ("SHUTOFF", "STOPPED"), ("stopped", "STOPPED"),
        ("ERROR", "ERROR"), ("failed", "ERROR"), ("in-use", "IN-USE"), ("", "UNKNOWN"),
    ])
    func statuses(raw: String, normalised: String) {
        #expect(ResourceStatus(provider: raw).value == normalised)
    }
}

@Suite("Change detection")
struct ChangeDetectionTests {
    func resource(_ id: String, perDay: Decimal = 24, status: String = "ACTIVE", flavor: String = "m1") -> Resource {
        Resource(provider: "p", id: id, name: id, resourceType: "server", service: "s", category: .compute, region: "r", account: "a",
                 status: ResourceStatus(provider: status), flavor: flavor, tags: [:], rate: Rate(Money(perDay, .rub), per: .daily),
                 isZombie: false, isOrphan: false, folded: [])
    }

    @Test("created, updated, deleted and unchanged with their flags")
    func actions() throws {
        let before = [resource("same"), resource("pricier"), resource("stopped"), resource("gone"), resource("resized")]
        let after = [resource("same"), resource("pricier", perDay: 48), resource("stopped", status: "SHUTOFF"),
                     resource("resized", flavor: "m2"), resource("new")]
        let changes = Dictionary(uniqueKeysWithValues: detectChanges(previous: before, current: after).map { ($0.resourceID, $0) })
        #expect(changes["same"]?.action == .unchanged)
        #expect(changes["new"]?.action == .created)
        #expect(changes["gone"]?.action == .deleted)
        let pricier = try #require(changes["pricier"])
        #expect(pricier.action == .updated && pricier.costChanged && !pricier.statusChanged && !pricier.configChanged)
        let stopped = try #require(changes["stopped"])
        #expect(stopped.statusChanged && !stopped.costChanged && stopped.changedFields == ["status"])
        let resized = try #require(changes["resized"])
        #expect(resized.configChanged && resized.changedFields == ["flavor"])
    }

    @Test("the same snapshot twice changes nothing")
    func idempotent() {
        let resources = (0..<50).map { resource("r\($0)", perDay: Decimal($0)) }
        #expect(detectChanges(previous: resources, current: resources).allSatisfy { $0.action == .unchanged })
    }
}
