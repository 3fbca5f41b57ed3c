import CostModel
import Foundation
import Testing

@Suite("Recommendations")
struct RecommendationTests {
    let flavors = [
        Flavor(name: "m-1-4", vcpus: 1, memoryGiB: 4, rate: Rate(Money(6, .rub), per: .daily)),
        Flavor(name: "m-2-8", vcpus: 2, memoryGiB: 8, rate: Rate(Money(12, .rub), per: .daily)),
        Flavor(name: "m-4-16", vcpus: 4, memoryGiB: 16, rate: Rate(Money(24, .rub), per: .daily)),
    ]
    let policy = RecommendationPolicy()

    func subject(_ resource: Resource, cpu: Double? = nil, memory: Double? = nil, environment: String = "prod") -> RecommendationSubject {
        var utilization: [UtilizationSample.Dimension: Double] = [:]
        utilization[.cpu] = cpu
        utilization[.memory] = memory
        return RecommendationSubject(resource: resource, environment: environment, utilization: utilization, flavors: flavors)
    }

    @Test("an idle server moves to the largest cheaper flavour that still fits: 720 − 360 = 360 a month")
    func rightsize() throws {
        // Needs 0.05 × 4 / 0.8 = 0.25 cores and 0.3 × 16 / 0.8 = 6 GiB: m-2-8 fits, m-1-4 does not.
        let found = policy.recommend([subject(server("vm", monthly: 720, flavor: "m-4-16"), cpu: 0.05, memory: 0.3)])
        let rightsize = try #require(found.first { $0.kind == .rightsize })
        #expect(rightsize.savingsMonthly == Money(360, .rub))
        #expect(rightsize.detail == "m-4-16 → m-2-8")
    }

    @Test("a busy server, or one without utilisation data, is left alone")
    func notIdle() {
        #expect(policy.recommend([subject(server("vm", monthly: 720, flavor: "m-4-16"), cpu: 0.5, memory: 0.3)]).isEmpty)
        #expect(policy.recommend([subject(server("vm", monthly: 720, flavor: "m-4-16"), cpu: 0.05, memory: 0.5)]).isEmpty)
        #expect(policy.recommend([subject(server("vm", monthly: 720, flavor: "m-4-16"))]).isEmpty)
    }

    @Test("off-hours saves the flavour's price for 108 of 168 hours: 720 × 108 / 168")
    func offHours() throws {
        let found = policy.recommend([subject(server("vm", monthly: 900, flavor: "m-4-16"), environment: "staging")])
        let offHours = try #require(found.first { $0.kind == .offHours })
        #expect(offHours.savingsMonthly == Money(Decimal(string: "462.86")!, .rub))
    }

    @Test("zombie, orphan volume and unused IP save their whole monthly cost")
    func wholeCost() {
        let found = policy.recommend([
            subject(server("z", monthly: 300, zombie: true)),
            subject(server("o", monthly: 150, type: "volume", orphan: true)),
            subject(server("ip", monthly: 90, status: "DOWN", type: "ip")),
            subject(server("ip2", monthly: 90, status: "ACTIVE", type: "ip")),
        ])
        #expect(found.map(\.kind) == [.zombie, .orphanVolume, .unusedIP])
        #expect(found.map(\.savingsMonthly.amount) == [300, 150, 90])
    }

    @Test("waste kinds: zombie, orphan volume, stopped but billed")
    func waste() {
        #expect(Waste.kind(of: server("z", monthly: 1, zombie: true)) == .zombie)
        #expect(Waste.kind(of: server("o", monthly: 1, type: "volume", orphan: true)) == .orphanVolume)
        #expect(Waste.kind(of: server("s", monthly: 1, status: "SHUTOFF")) == .stoppedBilled)
        #expect(Waste.kind(of: server("free", monthly: 0, status: "SHUTOFF")) == nil)
        #expect(Waste.kind(of: server("ok", monthly: 1)) == nil)
    }
}

@Suite("Capacity")
struct CapacityTests {
    @Test("headroom 0.4; growing 1 a day from 50 to 60, the remaining 40 last 40 days")
    func growing() throws {
        let start = LocalDay(year: 2026, month: 11, day: 10)
        let history = (0...10).map { (day: start.adding(days: $0), used: Double(50 + $0)) }
        let status = CapacityStatus(sample: CapacitySample(scope: "s", dimension: "storage_bytes", used: 60, total: 100), history: history)
        #expect(status.headroomRatio == 0.4)
        #expect(abs(try #require(status.exhaustionDays) - 40) < 1e-9)
    }

    @Test("flat or shrinking use never runs out")
    func flat() {
        let start = LocalDay(year: 2026, month: 11, day: 10)
        let flat = (0...10).map { (day: start.adding(days: $0), used: 60.0) }
        let shrinking = (0...10).map { (day: start.adding(days: $0), used: Double(70 - $0)) }
        let sample = CapacitySample(scope: "s", dimension: "d", used: 60, total: 100)
        #expect(CapacityStatus(sample: sample, history: flat).exhaustionDays == nil)
        #expect(CapacityStatus(sample: sample, history: shrinking).exhaustionDays == nil)
        #expect(CapacityStatus(sample: sample, history: []).exhaustionDays == nil)
    }
}

@Suite("Taxonomy and periods")
struct TaxonomyTests {
    @Test("provider service names map to category and type", arguments: [
        ("selectel", "Cloud Servers", CostCategory.compute, "server"), ("selectel", "network volumes", .storage, "volume"),
        ("yandex", "Object Storage", .storage, "bucket"), ("yandex", "Managed Service for PostgreSQL", .database, "database"),
        ("beget", "VPS", .compute, "server"), ("focus", "AI and Machine Learning", .ai, "subscription"),
    ])
    func known(provider: String, service: String, category: CostCategory, type: String) throws {
        let entry = try #require(Taxonomy.lookup(provider: provider, service: service))
        #expect(entry.category == category && entry.resourceType == type)
    }

    @Test("an unknown service is other, not dropped")
    func unknown() {
        #expect(Taxonomy.lookup(provider: "selectel", service: "Quantum Annealer") == nil)
        #expect(Taxonomy.classify(provider: "selectel", service: "Quantum Annealer") == Taxonomy.unknown)
        #expect(Taxonomy.classify(provider: "nobody", service: "x").category == .other)
    }

    @Test("a one-time charge is spread over its month: 720 once is 1 an hour at 720 hours a month")
    func oneTime() {
        let rate = Rate(Money(720, .rub), per: .oneTime, hoursPerMonth: 720)
        #expect(rate.perHour.amount == 1)
        #expect(rate.monthly(hoursPerMonth: 720).amount == 720)
    }

    @Test("property: the total scope equals the sum of the provider scopes and of the costs")
    func seriesSums() {
        var generator = SplitMix(seed: 7)
        let first = LocalDay(year: 2026, month: 11, day: 1)
        let costs = (0..<500).map { index in
            DailyCost(day: first.adding(days: Int(generator.next() % 20)), provider: ["a", "b", "c"][Int(generator.next() % 3)],
                      resourceID: "r\(index)", service: ["s1", "s2"][Int(generator.next() % 2)], category: .compute, account: "x",
                      cost: Money(Decimal(Int(generator.next() % 100_000)) / 100, .rub))
        }
        let series = DailySeries.scopes(of: costs)
        let total = series.first { $0.scope == .total }?.amounts.values.reduce(0, +) ?? -1
        let byProvider = series.filter { $0.scope.name.hasPrefix("provider:") }.flatMap(\.amounts.values).reduce(0, +)
        let byService = series.filter { $0.scope.name.hasPrefix("service:") }.flatMap(\.amounts.values).reduce(0, +)
        let direct = costs.map(\.cost.amount).reduce(0, +)
        #expect(total == direct && byProvider == direct && byService == direct)
    }
}
