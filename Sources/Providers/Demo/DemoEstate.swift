import CostModel
import Foundation
import SourceKit

/// The seed's demo estate (InfraZen 7.1.4): Yandex Cloud in ru-central1-a/b and Selectel in
/// msk-a/spb-a; 4 VMs, 2 volumes, 2 buckets; 3905.00 ₽ a day, which is 117,150 ₽ over a
/// 720-hour month; CPU 67 %, RAM 81 %, storage 43 %, network 29 % utilised.
///
/// What it exercises on purpose:
/// - `sel-legacy-02` is billed but absent from the inventory: a zombie.
/// - `sel-vol-archive` is attached to nothing and 40 days old: an orphan volume.
/// - `disk-for-sel-app-01` folds into `sel-app-01` by attachment.
/// - `yc-static` carries no tags at all.
/// - `sel-app-01` (staging) idles at 7 % CPU and 39 % memory: rightsize to SL1.2-8192, and
///   switch it off outside working hours.
/// - Storage grows 3 GB a day and memory 0.1 GiB a day, so capacity has an exhaustion date.
/// - 90 days of daily history: buckets follow a weekday pattern and grow slowly; on the most
///   recent full day Object Storage spikes (a restore drill pulled the backups out: ×5).
package enum DemoEstate {
    struct Entry {
        var provider: String
        var id: String
        var name: String
        var type: String
        var service: String
        var region: String
        var account: String
        /// Price per day in roubles, kopeck-exact.
        var daily: Decimal
        /// nil: not in the inventory (the zombie).
        var inventory: Inventory?
    }

    struct Inventory {
        var status: String
        var flavor: String
        var attachedTo: String?
        var ageDays: Int
        var tags: [String: String]
        var cpu: Double?
        var memory: Double?
        var vcpus: Int = 0
        var memoryGiB: Int = 0
    }

    static func kopecks(_ amount: Int) -> Decimal { Decimal(amount) / 100 }

    static let yandexAccount = "b1g8demo0cloud0folder"
    static let selectelAccount = "284761"

    static let entries: [Entry] = [
        Entry(provider: "yandex", id: "fhm1web01demo0000001", name: "yc-web-01", type: "server", service: "Compute Cloud",
              region: "ru-central1-a", account: yandexAccount, daily: kopecks(61200),
              inventory: Inventory(status: "RUNNING", flavor: "standard-v3.4-16", ageDays: 210,
                                   tags: ["env": "prod", "team": "web", "tenant": "shop"], cpu: 0.75, memory: 0.95, vcpus: 4, memoryGiB: 16)),
        Entry(provider: "yandex", id: "epd2db01demo00000002", name: "yc-db-01", type: "server", service: "Compute Cloud",
              region: "ru-central1-b", account: yandexAccount, daily: kopecks(108650),
              inventory: Inventory(status: "RUNNING", flavor: "memory-v3.8-32", ageDays: 340,
                                   tags: ["env": "prod", "team": "data"], cpu: 0.93, memory: 0.95, vcpus: 8, memoryGiB: 32)),
        Entry(provider: "yandex", id: "yc-backups", name: "yc-backups", type: "bucket", service: "Object Storage",
              region: "ru-central1-a", account: yandexAccount, daily: kopecks(16170),
              inventory: Inventory(status: "ACTIVE", flavor: "standard", ageDays: 400, tags: ["team": "data", "env": "prod"])),
        Entry(provider: "yandex", id: "yc-static", name: "yc-static", type: "bucket", service: "Object Storage",
              region: "ru-central1-b", account: yandexAccount, daily: kopecks(7680),
              inventory: Inventory(status: "ACTIVE", flavor: "cold", ageDays: 150, tags: [:])),
        Entry(provider: "selectel", id: "6f1c2a3b-0001-4d5e-8f90-5e1ec7e1a001", name: "sel-app-01", type: "server", service: "Cloud Servers",
              region: "msk-a", account: selectelAccount, daily: kopecks(88340),
              inventory: Inventory(status: "ACTIVE", flavor: "SL1.4-16384", ageDays: 120,
                                   tags: ["env": "staging", "team": "app", "tenant": "chom"], cpu: 0.07, memory: 0.39, vcpus: 4, memoryGiB: 16)),
        Entry(provider: "selectel", id: "6f1c2a3b-0002-4d5e-8f90-5e1ec7e1a002", name: "disk-for-sel-app-01", type: "volume", service: "Network Volumes",
              region: "msk-a", account: selectelAccount, daily: kopecks(17330),
              inventory: Inventory(status: "in-use", flavor: "fast.200GB", attachedTo: "6f1c2a3b-0001-4d5e-8f90-5e1ec7e1a001", ageDays: 120, tags: ["env": "staging"])),
        Entry(provider: "selectel", id: "6f1c2a3b-0003-4d5e-8f90-5e1ec7e1a003", name: "sel-legacy-02", type: "server", service: "Cloud Servers",
              region: "spb-a", account: selectelAccount, daily: kopecks(49320),
              inventory: nil),
        Entry(provider: "selectel", id: "6f1c2a3b-0004-4d5e-8f90-5e1ec7e1a004", name: "sel-vol-archive", type: "volume", service: "Network Volumes",
              region: "spb-a", account: selectelAccount, daily: kopecks(41810),
              inventory: Inventory(status: "available", flavor: "universal.1000GB", ageDays: 40, tags: ["env": "dev", "team": "app"])),
    ]

    /// The service whose most recent full day spikes, and by how much.
    static let spikedService = "Object Storage"
    static let spikeFactor: Decimal = 5

    /// The estate as a source reports it. `scale` > 1 repeats it with suffixed IDs and names
    /// (copy 0 is the seed's own), for benchmarks and crash tests that need a long sync.
    static func snapshot(now: Date, historyDays: Int, timeZone: TimeZone, scale: Int = 1) -> SourceSnapshot {
        var snapshot = SourceSnapshot()
        snapshot.inventoriedTypes = ["server", "volume", "bucket"]
        let entries = copies(scale)
        for entry in entries {
            let taxonomy = Taxonomy.classify(provider: entry.provider, service: entry.service)
            snapshot.billing.append(BillingLineItem(
                provider: entry.provider, resourceID: entry.id, resourceName: entry.name, resourceType: taxonomy.resourceType,
                service: entry.service, category: taxonomy.category, region: entry.region, account: entry.account,
                rate: Rate(Money(entry.daily, .rub), per: .daily)
            ))
            guard let inventory = entry.inventory else { continue }
            snapshot.inventory.append(InventoryItem(
                provider: entry.provider, resourceID: entry.id, name: entry.name, resourceType: entry.type, region: entry.region,
                status: inventory.status, flavor: inventory.flavor, attachedTo: inventory.attachedTo,
                createdAt: now.addingTimeInterval(-Double(inventory.ageDays) * 86_400), tags: inventory.tags
            ))
            if let cpu = inventory.cpu { snapshot.utilization.append(UtilizationSample(resourceID: entry.id, dimension: .cpu, ratio: cpu)) }
            if let memory = inventory.memory { snapshot.utilization.append(UtilizationSample(resourceID: entry.id, dimension: .memory, ratio: memory)) }
        }
        snapshot.costs = dailyCostTable(entries, now: now, days: historyDays, timeZone: timeZone)
        snapshot.capacity = capacity
        snapshot.capacityHistory = capacityHistory(now: now, days: historyDays, timeZone: timeZone)
        snapshot.flavors = flavors
        snapshot.unclassifiedLineItems = snapshot.billing.count { Taxonomy.lookup(provider: $0.provider, service: $0.service) == nil }
        snapshot.accounts = [
            AccountBalance(provider: "yandex", account: yandexAccount, balance: Money(kopecks(15_230_000), .rub)),
            AccountBalance(provider: "selectel", account: selectelAccount, balance: Money(kopecks(4_825_000), .rub)),
        ]
        return snapshot
    }

    /// Server sizes and daily prices, per provider: the price lists rightsizing reads.
    static let flavors: [String: [Flavor]] = {
        func flavor(_ name: String, _ vcpus: Int, _ memoryGiB: Int, kopecksPerDay: Int) -> Flavor {
            Flavor(name: name, vcpus: vcpus, memoryGiB: Decimal(memoryGiB), rate: Rate(Money(Decimal(kopecksPerDay) / 100, .rub), per: .daily))
        }
        return [
            "selectel": [flavor("SL1.1-4096", 1, 4, kopecksPerDay: 22085), flavor("SL1.2-8192", 2, 8, kopecksPerDay: 44170),
                         flavor("SL1.4-16384", 4, 16, kopecksPerDay: 88340), flavor("SL1.8-32768", 8, 32, kopecksPerDay: 176680)],
            "yandex": [flavor("standard-v3.2-8", 2, 8, kopecksPerDay: 30600), flavor("standard-v3.4-16", 4, 16, kopecksPerDay: 61200),
                       flavor("memory-v3.4-32", 4, 32, kopecksPerDay: 72400), flavor("memory-v3.8-32", 8, 32, kopecksPerDay: 108650)],
        ]
    }()

    /// Estate-wide capacity behind the seed's utilisation bars: 10.72 of 16 cores (67 %),
    /// 51.84 of 64 GiB (81 %), 860 of 2000 GB (43 %), 290 of 1000 Mbit/s (29 %).
    static let capacity: [CapacitySample] = {
        let gib = 1_073_741_824.0
        return [
            CapacitySample(scope: "demo", dimension: "cpu_cores", used: 10.72, total: 16),
            CapacitySample(scope: "demo", dimension: "memory_bytes", used: 51.84 * gib, total: 64 * gib),
            CapacitySample(scope: "demo", dimension: "storage_bytes", used: 860e9, total: 2000e9),
            CapacitySample(scope: "demo", dimension: "network_bytes_per_second", used: 36_250_000, total: 125_000_000),
        ]
    }()

    /// Daily used amounts ending at today's `capacity`: storage grew 3 GB a day and memory
    /// 0.1 GiB a day; CPU and network held level.
    static func capacityHistory(now: Date, days: Int, timeZone: TimeZone) -> [CapacityPoint] {
        let today = LocalDay(now, in: timeZone)
        let growthPerDay = ["storage_bytes": 3e9, "memory_bytes": 0.1 * 1_073_741_824.0]
        return capacity.flatMap { sample in
            stride(from: days, through: 0, by: -1).map { daysAgo in
                CapacityPoint(scope: sample.scope, dimension: sample.dimension, day: today.adding(days: -daysAgo),
                              used: sample.used - Double(daysAgo) * (growthPerDay[sample.dimension] ?? 0))
            }
        }
    }

    /// Billed cost per local day: `days` full days before today plus today so far.
    static func copies(_ scale: Int) -> [Entry] {
        guard scale > 1 else { return entries }
        return (0..<scale).flatMap { copy in
            entries.map { entry in
                guard copy > 0 else { return entry }
                var clone = entry
                clone.id += "-\(copy)"
                clone.name += "-\(copy)"
                clone.inventory?.attachedTo = entry.inventory?.attachedTo.map { "\($0)-\(copy)" }
                return clone
            }
        }
    }

    static func dailyHistory(_ entries: [Entry] = entries, now: Date, days: Int, timeZone: TimeZone) -> [DailyCost] {
        dailyCostTable(entries, now: now, days: days, timeZone: timeZone).rows
    }

    /// The same, by column. Copies of the estate cost what their original costs, so each
    /// original's day is computed once (in exact decimals, rounded to the kopeck) and
    /// repeated: at `scale: 1000` that is 8 amounts a day instead of 8,000.
    static func dailyCostTable(_ entries: [Entry] = entries, now: Date, days: Int, timeZone: TimeZone) -> DailyCostTable {
        let today = LocalDay(now, in: timeZone)
        let elapsedToday = Decimal(Int(now.timeIntervalSince(today.start(in: timeZone)) / 60)) / 1440
        var table = DailyCostTable()
        table.reserveCapacity(entries.count * (days + 1))
        let lines = entries.map { entry in
            table.intern(DailyCostTable.Line(resourceID: entry.id, service: entry.service, currency: .rub, provider: entry.provider,
                                             account: entry.account, category: Taxonomy.classify(provider: entry.provider, service: entry.service).category))
        }
        struct Cost: Hashable { var daily: Decimal; var bucket: Bool; var spiked: Bool }
        var memo: [Cost: Int64] = [:]
        for offset in stride(from: days, through: 0, by: -1) {
            let day = today.adding(days: -offset)
            memo.removeAll(keepingCapacity: true)
            for (entry, line) in zip(entries, lines) {
                let spiked = offset == 1 && entry.service == spikedService && entry.name.hasPrefix("yc-backups")
                let key = Cost(daily: entry.daily, bucket: entry.type == "bucket", spiked: spiked)
                let micros: Int64
                if let known = memo[key] {
                    micros = known
                } else {
                    var cost = entry.daily * usageFactor(entry, day: day, daysAgo: offset)
                    if spiked { cost *= spikeFactor }
                    if offset == 0 { cost *= elapsedToday }
                    micros = Micros.from(Money(cost, .rub).rounded().amount) ?? 0
                    memo[key] = micros
                }
                table.append(day: Int32(day.ordinal), line: line, micros: micros)
            }
        }
        return table
    }

    /// Compute and volumes bill by the hour whatever happens; buckets bill by use: busier on
    /// weekdays, growing 0.1 % a day, and swinging 0, +2, −2, +4, −4 % in a five-day cycle
    /// that moves all buckets together (a busy day is busy everywhere). A bounded swing, not
    /// random noise: ordinary days then stay ordinary for the anomaly score, by construction.
    static func usageFactor(_ entry: Entry, day: LocalDay, daysAgo: Int) -> Decimal {
        guard entry.type == "bucket" else { return 1 }
        let weekday: Decimal = day.isoWeekday >= 6 ? kopecks(80) : kopecks(108)
        let growth = 1 - Decimal(daysAgo) * Decimal(sign: .plus, exponent: -3, significand: 1)
        let swing: [Decimal] = [0, 2, -2, 4, -4]
        let noise = swing[((LocalDay(year: 2000, month: 1, day: 1).days(until: day) % 5) + 5) % 5] / 100
        return weekday * growth * (1 + noise)
    }
}
