import CostModel
import Foundation
import Testing

/// A pool's split of one day, checked against fractions worked out by hand.
@Suite("Pool drivers")
struct PoolDriverTests {
    let day = LocalDay(year: 2026, month: 11, day: 20)

    func days(_ values: [String: Decimal], on day: LocalDay? = nil) -> UsageDays { UsageDays([day ?? self.day: values]) }

    func weights(_ shares: PoolDriver.Shares) -> [String: Decimal] {
        Dictionary(uniqueKeysWithValues: shares.weights.map { ($0.tenant, $0.weight) })
    }

    @Test("requests over allocatable: 3 and 1 of 8 cores are 3/8 and 1/8, idle 4/8")
    func capacityLeavesIdle() {
        let driver = PoolDriver(components: [.init(name: "cpu", driver: days(["a": 3, "b": 1]), capacity: .constant(8))])
        let shares = driver.shares(on: day)
        #expect(weights(shares) == ["a": Decimal(3) / 8, "b": Decimal(1) / 8, "__idle__": Decimal(4) / 8])
        #expect(shares.idleRatio == Decimal(1) / 2)
    }

    @Test("without a capacity the driver's total is the whole: nothing is idle")
    func noCapacity() {
        let shares = PoolDriver(components: [.init(name: "cpu", driver: days(["a": 3, "b": 1]))]).shares(on: day)
        #expect(weights(shares) == ["a": Decimal(3) / 4, "b": Decimal(1) / 4])
        #expect(shares.idleRatio == 0)
    }

    @Test("idle: spread leaves no __idle__ tenant, and still reports the idle ratio")
    func spread() {
        let shares = PoolDriver(components: [.init(name: "cpu", driver: days(["a": 3, "b": 1]), capacity: .constant(8))], idle: .spread)
            .shares(on: day)
        #expect(Set(weights(shares).keys) == ["a", "b"])
        #expect(shares.weights[0].weight / shares.weights[1].weight == 3)
        #expect(shares.idleRatio == Decimal(1) / 2)
    }

    @Test("a capacity below the driver's total: idle 0, split by the driver alone, and said")
    func overCapacity() {
        let shares = PoolDriver(components: [.init(name: "usage/k8s/cpu", driver: days(["a": 3, "b": 1]), capacity: .constant(2))])
            .shares(on: day)
        #expect(weights(shares) == ["a": Decimal(3) / 4, "b": Decimal(1) / 4])
        #expect(shares.idleRatio == 0)
        #expect(shares.overCapacity == ["usage/k8s/cpu"])
    }

    @Test("CPU 60 % and memory 40 %: a = 0.6×2/8 + 0.4×8/32, b = 0.6×4/8 + 0.4×4/32, idle the rest")
    func blend() {
        let driver = PoolDriver(components: [
            .init(name: "cpu", driver: days(["a": 2, "b": 4]), capacity: .constant(8), weight: Decimal(string: "0.6")!),
            .init(name: "memory", driver: days(["a": 8, "b": 4]), capacity: .constant(32), weight: Decimal(string: "0.4")!),
        ])
        let shares = weights(driver.shares(on: day))
        // a: 0.15 + 0.1 = 0.25; b: 0.3 + 0.05 = 0.35; idle: 0.6×2/8 + 0.4×20/32 = 0.15 + 0.25 = 0.4.
        #expect(shares["a"] == Decimal(string: "0.25"))
        #expect(shares["b"] == Decimal(string: "0.35"))
        #expect(shares["__idle__"] == Decimal(string: "0.4"))
    }

    @Test("a capacity from a usage query by day, borrowed from the last earlier day and said so")
    func capacityByDay() {
        let earlier = LocalDay(year: 2026, month: 11, day: 10)
        let driver = PoolDriver(components: [.init(name: "req", driver: days(["a": 1]), capacity: .usage("alloc", UsageDays([earlier: ["": 4]])))])
        let shares = driver.shares(on: day)
        #expect(weights(shares) == ["a": Decimal(1) / 4, "__idle__": Decimal(3) / 4])
        #expect(shares.borrowed == ["alloc": earlier])
    }

    @Test("no values for the day at all: no weights, the pool stays unallocated")
    func nothingYet() {
        #expect(PoolDriver(components: [.init(name: "cpu", driver: UsageDays([:]), capacity: .constant(8))]).shares(on: day).weights.isEmpty)
    }

    @Test("the billed split: a day's 100.00 over 3/8, 1/8 and idle 4/8 is 37.50, 12.50 and 50.00, exactly, kept apart per pool")
    func billedDay() {
        let driver = PoolDriver(components: [.init(name: "cpu", driver: days(["a": 3, "b": 1]), capacity: .constant(8))])
        let rows = [AttributedCost(source: "s", cost: DailyCost(day: day, provider: "aws", resourceID: "", service: "EC2", category: .compute,
                                                                account: "1", micros: 100_000_000, currency: .rub), tenant: "pool:k8s")]
        let spend = BilledSpend(rows, from: day, through: day, allocation: DailyAllocation(pools: ["k8s": driver]))
        #expect(spend.tenants == ["a": [.rub: 37_500_000], "b": [.rub: 12_500_000], "__idle__": [.rub: 50_000_000]])
        #expect(spend.pools["k8s"] == spend.tenants)
        #expect(spend.unallocated == ["aws": [.rub: 0]])
    }

    @Test("a pool selects by tags and by a whole-value pattern; its resources take the pool's tenant over their own tag")
    func membership() {
        let policy = AllocationPolicy(pools: [ResourcePool(name: "k8s", tags: ["cluster": "prod"], match: [("name", "node-.*")])])
        let subjects = [
            AllocationSubject(source: "s", resource: server("node-1", monthly: 10, tags: ["cluster": "prod", "tenant": "acme"])),
            AllocationSubject(source: "s", resource: server("my-node-1", monthly: 10, tags: ["cluster": "prod"])),
            AllocationSubject(source: "s", resource: server("node-2", monthly: 10, tags: ["tenant": "acme"])),
        ]
        let dims = Allocator(policy: policy, hoursPerMonth: 720).dimensions(of: subjects)
        #expect(dims.map { $0["tenant"] } == ["pool:k8s", nil, "acme"])
    }

    @Test("a resource two pools select is reported with both, and counted in the first")
    func conflict() {
        let policy = AllocationPolicy(pools: [ResourcePool(name: "a", tags: ["cluster": "prod"]), ResourcePool(name: "b", tags: ["team": "x"])])
        var conflicts: [PoolConflict] = []
        let dims = Allocator(policy: policy, hoursPerMonth: 720)
            .dimensions(of: [AllocationSubject(source: "s", resource: server("n", monthly: 1, tags: ["cluster": "prod", "team": "x"]))], conflicts: &conflicts)
        #expect(dims[0]["tenant"] == "pool:a")
        #expect(conflicts == [PoolConflict(source: "s", resourceID: "n", pools: ["a", "b"])])
    }
}
