import CostModel
import Foundation
@testable import ProviderDemo
import Testing
@testable import ZenExporter

@Suite("Demo estate")
struct DemoEstateTests {
    static let moscow = TimeZone(identifier: "Europe/Moscow")!
    /// A Friday noon in Moscow, mid-month.
    static let friday = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!

    let snapshot = DemoEstate.snapshot(now: friday, historyDays: 90, timeZone: moscow)

    @Test("the line items add up to the seed's 117,150 ₽ a month")
    func lineItemsTotal() {
        // Each demo line item is a daily price; a 720-hour month is 30 of them.
        let monthly = snapshot.billing.map { item -> Decimal in
            #expect(item.rate.periodHours == 24)
            #expect(item.rate.currency == .rub)
            return item.rate.amount * 30
        }.reduce(0, +)
        #expect(monthly == 117_150)
    }

    @Test("4 VMs, 2 volumes and 2 buckets across Yandex Cloud and Selectel")
    func shape() {
        let types = Dictionary(grouping: snapshot.billing, by: \.resourceType).mapValues(\.count)
        #expect(types == ["server": 4, "volume": 2, "bucket": 2])
        #expect(Set(snapshot.billing.map(\.provider)) == ["yandex", "selectel"])
        #expect(Set(snapshot.billing.map(\.region)) == ["ru-central1-a", "ru-central1-b", "msk-a", "spb-a"])
    }

    @Test("one zombie, one orphan, one folded volume and a tag-less resource")
    func flags() throws {
        let resources = Reconciliation(inventoriedTypes: snapshot.inventoriedTypes, orphanMinAge: 72 * 3600, now: Self.friday)
            .reconcile(billing: snapshot.billing, inventory: snapshot.inventory, currency: .rub)
        #expect(resources.filter(\.isZombie).map(\.name) == ["sel-legacy-02"])
        #expect(resources.filter(\.isOrphan).map(\.name) == ["sel-vol-archive"])
        let app = try #require(resources.first { $0.name == "sel-app-01" })
        #expect(app.folded.count == 1)
        #expect(app.rate.monthly(hoursPerMonth: 720).amount == Decimal(string: "31701")!)  // (883.40 + 173.30) × 30
        #expect(resources.contains { $0.tags.isEmpty && !$0.isZombie })
    }

    @Test("the seed's utilisation: CPU 67 %, RAM 81 %, storage 43 %, network 29 %")
    func utilisation() {
        let ratios = Dictionary(uniqueKeysWithValues: snapshot.capacity.map { ($0.dimension, ($0.used / $0.total * 100).rounded()) })
        #expect(ratios == ["cpu_cores": 67, "memory_bytes": 81, "storage_bytes": 43, "network_bytes_per_second": 29])
    }

    @Test("90 full days of history plus today so far, for every resource")
    func historyLength() {
        let days = Set(snapshot.dailyCosts.map(\.day))
        #expect(days.count == 91)
        #expect(days.max() == LocalDay(year: 2026, month: 11, day: 20))
        #expect(snapshot.dailyCosts.count == 91 * 8)
    }

    @Test("Object Storage spikes on the most recent full day, well above its weekday baseline")
    func spike() {
        let perDay = sum(snapshot.dailyCosts.filter { $0.service == "Object Storage" }, by: \.day, amount: \.cost.amount)
        let yesterday = LocalDay(year: 2026, month: 11, day: 19)
        // Same weekday in the four weeks before: the baseline a weekday-aware detector uses.
        let baseline = (1...4).compactMap { perDay[yesterday.adding(days: -7 * $0)] }
        #expect(baseline.count == 4)
        let spike = perDay[yesterday] ?? 0
        #expect(spike > 3 * (baseline.max() ?? 0))
        let otherServices = sum(snapshot.dailyCosts.filter { $0.service == "Compute Cloud" }, by: \.day, amount: \.cost.amount)
        #expect(otherServices[yesterday] == otherServices[yesterday.adding(days: -7)])
    }

    @Test("buckets cost more on weekdays than at weekends")
    func weekdayPattern() {
        let perDay = sum(snapshot.dailyCosts.filter { $0.resourceID == "yc-static" }, by: \.day, amount: \.cost.amount)
        let thursday = perDay[LocalDay(year: 2026, month: 11, day: 12)] ?? 0
        let sunday = perDay[LocalDay(year: 2026, month: 11, day: 15)] ?? 0
        #expect(thursday > sunday * Decimal(string: "1.2")!)
    }

    @Test("the same instant gives the same estate")
    func deterministic() {
        let again = DemoEstate.snapshot(now: Self.friday, historyDays: 90, timeZone: Self.moscow)
        #expect(again.billing == snapshot.billing)
        #expect(again.inventory == snapshot.inventory)
        #expect(again.dailyCosts == snapshot.dailyCosts)
        #expect(again.capacity == snapshot.capacity)
    }

    @Test("scale repeats the estate with distinct IDs")
    func scaled() {
        let big = DemoEstate.snapshot(now: Self.friday, historyDays: 1, timeZone: Self.moscow, scale: 3)
        #expect(big.billing.count == 24)
        #expect(Set(big.billing.map(\.resourceID)).count == 24)
        let total = big.billing.map { $0.rate.amount * 30 }.reduce(0, +)
        #expect(total == Decimal(3 * 117_150))
    }
}
