import CostModel
import Foundation

/// The seed's demo estate (InfraZen 7.1.4): Yandex Cloud in ru-central1-a/b and Selectel in
/// msk-a/spb-a; 4 VMs, 2 volumes, 2 buckets; 3905.00 ₽ a day, which is 117,150 ₽ over a
/// 720-hour month; CPU 67 %, RAM 81 %, storage 43 %, network 29 % utilised.
///
/// What it exercises on purpose:
/// - `sel-legacy-02` is billed but absent from the inventory: a zombie.
/// - `sel-vol-archive` is attached to nothing and 40 days old: an orphan volume.
/// - `disk-for-sel-app-01` folds into `sel-app-01` by attachment.
/// - `yc-static` carries no tags at all.
/// - 90 days of daily history: buckets follow a weekday pattern and grow slowly; on the most
///   recent full day Object Storage spikes (a restore drill pulled the backups out: ×5).
enum DemoEstate {
    struct Entry {
        var provider: String
        var id: String
        var name: String
        var type: String
        var service: String
        var category: CostCategory
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

    static let yandexAccount = "b1g8demo0cloud0folder"
    static let selectelAccount = "284761"

    static let entries: [Entry] = [
        Entry(provider: "yandex", id: "fhm1web01demo0000001", name: "yc-web-01", type: "server", service: "Compute Cloud",
              category: .compute, region: "ru-central1-a", account: yandexAccount, daily: Decimal(sign: .plus, exponent: -2, significand: 61200),
              inventory: Inventory(status: "RUNNING", flavor: "standard-v3.4-16", ageDays: 210,
                                   tags: ["env": "prod", "team": "web", "tenant": "shop"], cpu: 0.55, memory: 0.70, vcpus: 4, memoryGiB: 16)),
        Entry(provider: "yandex", id: "epd2db01demo00000002", name: "yc-db-01", type: "server", service: "Compute Cloud",
              category: .compute, region: "ru-central1-b", account: yandexAccount, daily: Decimal(sign: .plus, exponent: -2, significand: 108650),
              inventory: Inventory(status: "RUNNING", flavor: "memory-v3.8-32", ageDays: 340,
                                   tags: ["env": "prod", "team": "data"], cpu: 0.80, memory: 0.90, vcpus: 8, memoryGiB: 32)),
        Entry(provider: "yandex", id: "yc-backups", name: "yc-backups", type: "bucket", service: "Object Storage",
              category: .storage, region: "ru-central1-a", account: yandexAccount, daily: Decimal(sign: .plus, exponent: -2, significand: 16170),
              inventory: Inventory(status: "ACTIVE", flavor: "standard", ageDays: 400, tags: ["team": "data", "env": "prod"])),
        Entry(provider: "yandex", id: "yc-static", name: "yc-static", type: "bucket", service: "Object Storage",
              category: .storage, region: "ru-central1-b", account: yandexAccount, daily: Decimal(sign: .plus, exponent: -2, significand: 7680),
              inventory: Inventory(status: "ACTIVE", flavor: "cold", ageDays: 150, tags: [:])),
        Entry(provider: "selectel", id: "6f1c2a3b-0001-4d5e-8f90-5e1ec7e1a001", name: "sel-app-01", type: "server", service: "Cloud Servers",
              category: .compute, region: "msk-a", account: selectelAccount, daily: Decimal(sign: .plus, exponent: -2, significand: 88340),
              inventory: Inventory(status: "ACTIVE", flavor: "SL1.4-16384", ageDays: 120,
                                   tags: ["env": "staging", "team": "app", "tenant": "chom"], cpu: 0.53, memory: 0.74, vcpus: 4, memoryGiB: 16)),
        Entry(provider: "selectel", id: "6f1c2a3b-0002-4d5e-8f90-5e1ec7e1a002", name: "disk-for-sel-app-01", type: "volume", service: "Network Volumes",
              category: .storage, region: "msk-a", account: selectelAccount, daily: Decimal(sign: .plus, exponent: -2, significand: 17330),
              inventory: Inventory(status: "in-use", flavor: "fast.200GB", attachedTo: "6f1c2a3b-0001-4d5e-8f90-5e1ec7e1a001", ageDays: 120, tags: ["env": "staging"])),
        Entry(provider: "selectel", id: "6f1c2a3b-0003-4d5e-8f90-5e1ec7e1a003", name: "sel-legacy-02", type: "server", service: "Cloud Servers",
              category: .compute, region: "spb-a", account: selectelAccount, daily: Decimal(sign: .plus, exponent: -2, significand: 49320),
              inventory: nil),
        Entry(provider: "selectel", id: "6f1c2a3b-0004-4d5e-8f90-5e1ec7e1a004", name: "sel-vol-archive", type: "volume", service: "Network Volumes",
              category: .storage, region: "spb-a", account: selectelAccount, daily: Decimal(sign: .plus, exponent: -2, significand: 41810),
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
            snapshot.billing.append(BillingLineItem(
                provider: entry.provider, resourceID: entry.id, resourceName: entry.name, resourceType: entry.type,
                service: entry.service, category: entry.category, region: entry.region, account: entry.account,
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
        snapshot.dailyCosts = dailyHistory(entries, now: now, days: historyDays, timeZone: timeZone)
        snapshot.capacity = capacity
        snapshot.accounts = [
            AccountBalance(provider: "yandex", account: yandexAccount, balance: Money(Decimal(sign: .plus, exponent: -2, significand: 15230000), .rub)),
            AccountBalance(provider: "selectel", account: selectelAccount, balance: Money(Decimal(sign: .plus, exponent: -2, significand: 4825000), .rub)),
        ]
        return snapshot
    }

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
        let today = LocalDay(now, in: timeZone)
        let elapsedToday = Decimal(Int(now.timeIntervalSince(today.start(in: timeZone)) / 60)) / 1440
        var history: [DailyCost] = []
        for offset in stride(from: days, through: 0, by: -1) {
            let day = today.adding(days: -offset)
            for entry in entries {
                var cost = entry.daily * usageFactor(entry, day: day, daysAgo: offset)
                if offset == 1 && entry.service == spikedService && entry.name.hasPrefix("yc-backups") { cost *= spikeFactor }
                if offset == 0 { cost *= elapsedToday }
                history.append(DailyCost(day: day, provider: entry.provider, resourceID: entry.id, service: entry.service,
                                         category: entry.category, account: entry.account, cost: Money(cost, .rub).rounded()))
            }
        }
        return history
    }

    /// Compute and volumes bill by the hour whatever happens; buckets bill by use: busier on
    /// weekdays, growing 0.2 % a day, with ±4 % of deterministic noise.
    static func usageFactor(_ entry: Entry, day: LocalDay, daysAgo: Int) -> Decimal {
        guard entry.type == "bucket" else { return 1 }
        let weekday: Decimal = day.isoWeekday >= 6 ? Decimal(sign: .plus, exponent: -2, significand: 80) : Decimal(sign: .plus, exponent: -2, significand: 108)
        let growth = 1 - Decimal(daysAgo) * Decimal(sign: .plus, exponent: -3, significand: 2)
        let noise = Decimal(noiseHash("\(entry.id)|\(day)") % 81) / 1000 - Decimal(sign: .plus, exponent: -2, significand: 4)
        return weekday * growth * (1 + noise)
    }

    /// FNV-1a: stable across runs and platforms, unlike `Hasher`.
    static func noiseHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
