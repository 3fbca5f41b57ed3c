import CostModel
import Foundation
import Testing

func server(_ id: String, name: String? = nil, provider: String = "yandex", monthly: Decimal, tags: [String: String] = [:],
            status: String = "ACTIVE", type: String = "server", flavor: String = "", zombie: Bool = false, orphan: Bool = false) -> Resource {
    Resource(provider: provider, id: id, name: name ?? id, resourceType: type, service: "svc", category: .compute, region: "r", account: "a",
             status: ResourceStatus(provider: status), flavor: flavor, tags: tags, rate: Rate(Money(monthly, .rub), per: .monthly),
             isZombie: zombie, isOrphan: orphan, folded: [])
}

@Suite("Allocation")
struct AllocationTests {
    let subjects = [
        AllocationSubject(source: "s", resource: server("a", monthly: 1000, tags: ["tenant": "shop"])),
        AllocationSubject(source: "s", resource: server("b", name: "acme-web-01", monthly: 500)),
        AllocationSubject(source: "s", resource: server("c", name: "misc", monthly: 300)),
        AllocationSubject(source: "s", resource: server("d", name: "shared-lb", provider: "selectel", monthly: 200)),
    ]
    let rules = [AllocationRule(match: [("name", "^([a-z]+)-(web|db)-")], set: ["tenant": "$1", "team": "$2"])]

    func allocate(_ split: AllocationPolicy.SharedSplit) -> AllocationResult {
        Allocator(policy: AllocationPolicy(rules: rules, shared: split), hoursPerMonth: 720).allocate(subjects)
    }

    @Test("tags first, then rules with capture groups; the rest stays unallocated by provider")
    func noSplit() {
        let result = allocate(.none)
        #expect(result.tenants == ["shop": [.rub: 1000], "acme": [.rub: 500]])
        #expect(result.unallocated == ["yandex": [.rub: 300], "selectel": [.rub: 200]])
        #expect(result.labels["s/b"] == ["tenant": "acme", "team": "web"])
        #expect(result.directlyAllocatedRatio == 0.75)
    }

    @Test("proportional split in micro-units: shop 1000 + 333.333333, acme 500 + 166.666667 (the larger fraction takes the spare micro-unit); rounded once for export, 1333.33 and 666.67")
    func proportional() throws {
        let result = allocate(.proportional)
        let shop = try #require(result.tenants["shop"]?[.rub])
        let acme = try #require(result.tenants["acme"]?[.rub])
        #expect(shop == Decimal(string: "1333.333333")!)
        #expect(acme == Decimal(string: "666.666667")!)
        #expect(shop + acme == 2000)
        #expect(LargestRemainder.round([shop, acme], whole: 2000) == [Decimal(string: "1333.33")!, Decimal(string: "666.67")!])
        #expect(result.unallocated.values.allSatisfy { $0[.rub] == 0 })
    }

    @Test("even split: 250 each")
    func even() {
        let result = allocate(.even)
        #expect(result.tenants == ["shop": [.rub: 1250], "acme": [.rub: 750]])
    }

    @Test("a tag wins over a rule")
    func tagBeatsRule() {
        let tagged = AllocationSubject(source: "s", resource: server("x", name: "acme-web-02", monthly: 1, tags: ["client": "globex"]))
        let result = Allocator(policy: AllocationPolicy(rules: rules), hoursPerMonth: 720).allocate([tagged])
        #expect(result.labels["s/x"]?["tenant"] == "globex")
        #expect(result.labels["s/x"]?["team"] == "web")
    }

    @Test("property: tenants plus unallocated equal the total for every split", arguments: AllocationPolicy.SharedSplit.allCases)
    func complete(split: AllocationPolicy.SharedSplit) {
        var generator = SplitMix(seed: 42)
        for _ in 0..<50 {
            let subjects = (0..<Int(generator.next() % 40 + 1)).map { index -> AllocationSubject in
                let kopecks = Decimal(Int(generator.next() % 10_000_000)) / 100
                let tenant = ["", "", "t1", "t2", "t3"][Int(generator.next() % 5)]
                return AllocationSubject(source: "s", resource: server("r\(index)", name: ["acme-db-1", "x", "y"][Int(generator.next() % 3)],
                                                                      provider: ["p1", "p2"][Int(generator.next() % 2)], monthly: kopecks,
                                                                      tags: tenant.isEmpty ? [:] : ["tenant": tenant]))
            }
            let result = Allocator(policy: AllocationPolicy(rules: rules, shared: split), hoursPerMonth: 720).allocate(subjects)
            let total = subjects.map(\.resource.rate.amount).reduce(0, +)
            let placed = result.tenants.values.compactMap { $0[.rub] }.reduce(0, +) + result.unallocated.values.compactMap { $0[.rub] }.reduce(0, +)
            #expect(placed == total)
        }
    }
}

/// A tiny deterministic generator for property tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
