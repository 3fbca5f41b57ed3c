import CostModel
import Foundation
import Testing

func storageVolume(_ id: String, provider: String = "yandex", monthly: Decimal) -> Resource {
    Resource(provider: provider, id: id, name: id, resourceType: "volume", service: "svc", category: .storage, region: "r", account: "a",
             status: ResourceStatus(provider: "ACTIVE"), flavor: "", tags: [:], rate: Rate(Money(monthly, .rub), per: .monthly),
             isZombie: false, isOrphan: false, folded: [])
}

/// CHOM tenant cost: each category's unallocated rest spread by its own driver.
@Suite("Shared cost drivers")
struct SharedDriverTests {
    let subjects = [
        AllocationSubject(source: "s", resource: server("vm-a", monthly: 1000, tags: ["tenant": "acme"])),
        AllocationSubject(source: "s", resource: server("shared-vm", monthly: 900)),
        AllocationSubject(source: "s", resource: storageVolume("shared-disk", provider: "selectel", monthly: 600)),
    ]

    func allocate(_ drivers: [CostCategory: SharedDriver], shared: AllocationPolicy.SharedSplit = .none,
                  known: Set<String> = []) -> AllocationResult {
        Allocator(policy: AllocationPolicy(shared: shared, drivers: drivers), hoursPerMonth: 720).allocate(subjects, knownTenants: known)
    }

    @Test("storage by storage share 3:1, compute left to the default split (none)")
    func storageByShare() {
        let result = allocate([.storage: .weighted(["t1": 300, "t2": 100])])
        #expect(result.tenants == ["acme": [.rub: 1000], "t1": [.rub: 450], "t2": [.rub: 150]])
        #expect(result.unallocated == ["yandex": [.rub: 900], "selectel": [.rub: 0]])
    }

    @Test("compute by VPS count 2:1 while storage is spread evenly over the known tenants")
    func computeByCountStorageEven() {
        let result = allocate([.compute: .weighted(["t1": 2, "t2": 1]), .storage: .even], known: ["t1", "t2"])
        // compute 900: t1 600, t2 300. storage 600 over acme, t1, t2: 200 each.
        #expect(result.tenants == ["acme": [.rub: 1200], "t1": [.rub: 800], "t2": [.rub: 500]])
        #expect(result.unallocated == ["yandex": [.rub: 0], "selectel": [.rub: 0]])
    }

    @Test("a driver with no weights yet (its usage query never answered) leaves the category unallocated")
    func emptyWeights() {
        let result = allocate([.storage: .weighted([:])], shared: .proportional)
        // storage stays; compute's 900 follows the default proportional split: all to acme.
        #expect(result.tenants == ["acme": [.rub: 1900]])
        #expect(result.unallocated == ["yandex": [.rub: 0], "selectel": [.rub: 600]])
    }

    @Test("1,000 tenants by random weights: tenants plus unallocated equal the total exactly")
    func exactOverThousandTenants() {
        var generator = SplitMix(seed: 42)
        for _ in 0..<20 {
            var weights: [String: Decimal] = [:]
            for index in 0..<1000 { weights[String(format: "t-%04d", index)] = Decimal(Int(generator.next() % 5_000_000)) }
            let amounts = (0..<3).map { _ in Decimal(Int(generator.next() % 10_000_000)) / 100 }
            let subjects = [
                AllocationSubject(source: "s", resource: server("c", monthly: amounts[0])),
                AllocationSubject(source: "s", resource: storageVolume("v", monthly: amounts[1])),
                AllocationSubject(source: "s", resource: server("d", provider: "selectel", monthly: amounts[2], tags: ["tenant": "t-0001"])),
            ]
            let result = Allocator(policy: AllocationPolicy(drivers: [.storage: .weighted(weights), .compute: .even]), hoursPerMonth: 720)
                .allocate(subjects, knownTenants: Set(weights.keys))
            let tenants = result.tenants.values.compactMap { $0[.rub] }.reduce(Decimal(0), +)
            let rest = result.unallocated.values.compactMap { $0[.rub] }.reduce(Decimal(0), +)
            #expect(tenants + rest == amounts.reduce(Decimal(0), +))
        }
    }
}

@Suite("Tenant label limit")
struct TenantLimitTests {
    @Test("the largest tenants by cost keep their label; the rest sum into other exactly")
    func foldsSmallest() {
        let costs: [String: [Currency: Decimal]] = ["a": [.rub: 500], "b": [.rub: 300], "c": [.rub: 200], "d": [.rub: 100], "e": [.rub: Decimal(string: "0.01")!]]
        let kept = TenantLimit(maxTenants: 2).kept(costs: costs, reporting: .rub)
        #expect(kept == ["a", "b"])
        let folded = TenantLimit.fold(costs, kept: kept) { into, more in into.merge(more, uniquingKeysWith: +) }
        #expect(folded == ["a": [.rub: 500], "b": [.rub: 300], "other": [.rub: Decimal(string: "300.01")!]])
    }

    @Test("tenants known only by usage rank after those with cost, by name; one called other joins the rest")
    func usageOnlyAndOther() {
        let kept = TenantLimit(maxTenants: 2).kept(costs: ["z": [.rub: 1], "other": [.rub: 1000]], alsoKnown: ["b", "a"], reporting: .rub)
        #expect(kept == ["z", "a"])
    }
}
