import CostModel
import Foundation
import Ingest
import SourceKit
#if canImport(Glibc)
import Glibc
#endif

/// One or more FOCUS files read together: daily cost per line (resource × service ×
/// currency) in micro-units, each line's usage on its latest day (the run rate), and the bad
/// rows.
package struct FocusExport: Sendable {
    package init() {}

    package struct Resource: Sendable {
        package var provider: String
        package var name: String
        package var type: String
        package var category: CostCategory
        package var region: String
        package var account: String
        package var tags: [String: String]
        /// `HostProviderName` where it is not the provider (a marketplace or reseller charge).
        package var hostProvider = ""

        /// Provider, type and category as a row's `ServiceProviderName` (FOCUS 1.3 and later;
        /// `ProviderName` before it), `ResourceType` and `ServiceCategory` give them; the same for
        /// every resource of one kind, so a reader derives each kind once. A row without a
        /// provider is the source's `provider:`, else "focus".
        package struct Kind: Sendable {
            package var provider: String
            package var type: String
            package var category: CostCategory

            package init(provider: String, type: String, serviceCategory: String, fallback: String = "focus") {
                let entry = Taxonomy.lookup(provider: "focus", service: serviceCategory)
                let provider = provider.lowercased()
                self.provider = provider.isEmpty ? fallback : provider
                self.type = type.isEmpty ? (entry?.resourceType ?? "other") : type.lowercased()
                category = entry?.category ?? .other
            }
        }

        /// A resource as a FOCUS row (or a warehouse's row of the same columns) describes it:
        /// the provider in lower case, "focus" without one; the ID for a missing name; the
        /// type and category from `ServiceCategory` when `ResourceType` is empty.
        package init(id: String, provider: String, name: String, type: String, serviceCategory: String, region: String, account: String,
             tags: [String: String]) {
            self.init(id: id, name: name, kind: Kind(provider: provider, type: type, serviceCategory: serviceCategory), region: region,
                      account: account, tags: tags)
        }

        package init(id: String, name: String, kind: Kind, region: String, account: String, tags: [String: String], hostProvider: String = "") {
            provider = kind.provider
            self.name = name.isEmpty ? id : name
            type = kind.type
            category = kind.category
            self.region = region
            self.account = account
            self.tags = tags
            // FOCUS 1.3: `Not Applicable` where no infrastructure is involved (licences,
            // professional services): no host, as an empty column is.
            let host = hostProvider.lowercased()
            self.hostProvider = host == provider || host == "not applicable" ? "" : host
        }
    }

    /// Lines and their rows, sorted by day and line.
    package var costs = DailyCostTable()
    /// Per line: the latest day with usage and the usage that day.
    package var lastUsageDay: [Int32] = []
    package var lastUsage: [Int64] = []
    /// Per line: the EffectiveCost of its usage on that day (the effective run rate).
    package var lastEffective: [Int64] = []
    /// Each resource once, as its first row describes it; per line, its resource's index
    /// here (-1 when no row describes it).
    package var entries: [Resource] = []
    package var lineEntry: [Int32] = []
    /// Files with neither `ServiceProviderName` nor `ProviderName`, read while the source
    /// names no `provider:`: their rows are provider "focus", which the sync reports.
    package var filesWithoutProvider: [String] = []
    package var badRows: [BadRow] = []
    package var badRowCount = 0
    /// EffectiveCost per scope and day, where the files have the column.
    package var effectiveDays: [DailyCost]?
    /// Commitment discounts, coverage and invoices, where the files have those columns.
    package var commitments = CommitmentLedger()
    /// Where the read first met more distinct invoice IDs (2²⁰) or issuers (2¹²) than the
    /// tally holds (`file:line`); nil when it never did.
    package var tallyOverflow: (file: String, line: Int)?
    package var rows = 0

    package static let required = ["BilledCost", "BillingCurrency", "ChargePeriodStart"]
    package static let chargeCategories = ["Usage", "Purchase", "Tax", "Credit", "Adjustment"]

    package static func read(path: String, timeZone: TimeZone) throws -> FocusExport {
        try read(paths: [path], timeZone: timeZone)
    }

    /// Plain files of at least this size are read in two halves on two threads.
    package static let halvesMinimumSize: UInt64 = 8 << 20

    package static func read(paths: [String], timeZone: TimeZone, threads: Int = min(2, ProcessInfo.processInfo.activeProcessorCount),
                     halvesMinimumSize: UInt64 = FocusExport.halvesMinimumSize, provider: String? = nil,
                     isCancelled: @escaping @Sendable () -> Bool = { false }) throws -> FocusExport {
        var ingest = FocusIngest(timeZone: timeZone, isCancelled: isCancelled, fallbackProvider: provider?.lowercased() ?? "focus")
        for path in paths {
            let name = URL(fileURLWithPath: path).lastPathComponent
            if path.hasSuffix(".gz") {
                var reader = CSVReader(try ReadAheadChunks.gzipFile(path: path, name: name), file: name)
                try ingest.ingest(&reader, name: name)
            } else if threads > 1, let middle = FileChunks.middleLineStart(path: path, minimumSize: halvesMinimumSize) {
                try ingest.ingestInHalves(path: path, name: name, middle: middle)
            } else {
                var reader = CSVReader(try FileChunks(path: path), file: name)
                try ingest.ingest(&reader, name: name)
            }
        }
        return ingest.finish()
    }

    /// The run rate of a line is its usage on the latest day any usage was billed; lines
    /// without usage that day are gone. The export describes its resources itself (name,
    /// region, tags): listed once per ID, as most exports bill them (one service and currency
    /// each), they are made here as `described` resources, which reconciliation takes as they
    /// are (`Reconciliation.reconcile(described:listedAt:)`); otherwise, and with
    /// `selfDescribed: false`, as line items and an inventory of the same rows, so that the
    /// tags of the export reach allocation either way.
    package func snapshot(selfDescribed: Bool = true) -> SourceSnapshot {
        var snapshot = SourceSnapshot()
        snapshot.costs = costs
        let utc = TimeZone(identifier: "UTC") ?? .current
        let latest = lastUsageDay.max() ?? Int32.min
        if latest > Int32.min {
            let lastDayStart = LocalDay(ordinal: Int(latest)).start(in: utc)
            // Sorted by resource ID: the lines' order, sorted only when it is not already (an
            // export that lists resources in ID order needs no sort).
            let lines = costs.lines
            let used = lines.indices.filter { lastUsageDay[$0] == latest && lineEntry[$0] >= 0 }
            let order = zip(used, used.dropFirst()).allSatisfy({ lines[$0].resourceID <= lines[$1].resourceID })
                ? used : Self.sortedByResourceID(used, lines: lines)
            let (entries, lineEntries, lastUsage) = (self.entries, self.lineEntry, self.lastUsage)
            // Line `index`'s run rate: its usage on the last day, a day's price.
            func runRate(_ index: Int) -> Rate { Rate(Money(Micros.decimal(lastUsage[index]), lines[index].currency), per: .daily) }
            // Strictly ascending IDs (as `String` compares them) are IDs listed once each.
            if selfDescribed, zip(order, order.dropFirst()).allSatisfy({ lines[$0].resourceID < lines[$1].resourceID }) {
                var resources: [CostModel.Resource] = []
                resources.reserveCapacity(order.count)
                for index in order {
                    let line = lines[index]
                    let resource = entries[Int(lineEntries[index])]
                    resources.append(CostModel.Resource(
                        provider: resource.provider, id: line.resourceID, name: resource.name, resourceType: resource.type,
                        service: line.service, category: resource.category, region: resource.region, account: resource.account,
                        status: Self.listedStatus, flavor: "", tags: resource.tags,
                        rate: runRate(index), isZombie: false, isOrphan: false, folded: [], hostProvider: resource.hostProvider))
                }
                snapshot.unclassifiedLineItems = resources.count { $0.category == .other }
                snapshot.described = (resources, lastDayStart)
            } else {
                // The line items on this thread, the inventory on another: each is tens of
                // thousands of values of a dozen strings at a large estate.
                let inventory = SecondThread {
                    var inventory: [InventoryItem] = []
                    inventory.reserveCapacity(order.count)
                    for index in order {
                        let resource = entries[Int(lineEntries[index])]
                        inventory.append(InventoryItem(
                            provider: resource.provider, resourceID: lines[index].resourceID, name: resource.name, resourceType: resource.type,
                            region: resource.region, status: Self.listedStatus.value, createdAt: lastDayStart, tags: resource.tags))
                    }
                    return inventory
                }
                snapshot.billing.reserveCapacity(order.count)
                for index in order {
                    let line = lines[index]
                    let resource = entries[Int(lineEntries[index])]
                    snapshot.billing.append(BillingLineItem(
                        provider: resource.provider, resourceID: line.resourceID, resourceName: resource.name, resourceType: resource.type,
                        service: line.service, category: resource.category, region: resource.region, account: resource.account,
                        rate: runRate(index)))
                }
                snapshot.inventory = inventory.result()
                snapshot.unclassifiedLineItems = snapshot.billing.count { $0.category == .other }
            }
        }
        if effectiveDays != nil, latest > Int32.min {
            // The effective run rate as the billed one is taken: each line's usage on the last day.
            var rates: [EffectiveRate.Key: Int64] = [:]
            for index in costs.lines.indices where lastUsageDay[index] == latest && lineEntry[index] >= 0 {
                let resource = entries[Int(lineEntry[index])]
                rates[EffectiveRate.Key(provider: resource.provider, category: resource.category, resourceType: resource.type,
                                        currency: costs.lines[index].currency), default: 0] &+= lastEffective[index]
            }
            snapshot.effectiveRates = rates.sorted { $0.key < $1.key }.map { EffectiveRate(key: $0.key, dailyMicros: $0.value) }
        }
        snapshot.formerResources = formerResources(latest: latest)
        if !commitments.isEmpty { snapshot.commitments = commitments }
        snapshot.effectiveDays = effectiveDays
        snapshot.endpointFailures = badRows.map { SyncFailure(endpoint: $0.file, reason: "bad_row", message: $0.description) }
        snapshot.endpointFailures += filesWithoutProvider.map { file in
            SyncFailure(endpoint: file, reason: "no_provider", message: "\(file):1: neither ServiceProviderName nor ProviderName: its rows are provider \"focus\"; name the provider with provider: on the source")
        }
        if let overflow = tallyOverflow {
            snapshot.endpointFailures.append(SyncFailure(endpoint: overflow.file, reason: "too_many", message: "\(overflow.file):\(overflow.line): over 1,048,576 invoice IDs or 4,096 issuers: from here the rest are summed under the last ones"))
        }
        return snapshot
    }

    /// The resources billed in the export but not on its last usage day, as their first row
    /// describes them, costing nothing now: a tenant's server deleted on the 10th still
    /// carries its tags on the 1st to the 10th.
    package func formerResources(latest: Int32) -> [CostModel.Resource] {
        var seen: Set<String> = []
        var former: [CostModel.Resource] = []
        for (index, line) in costs.lines.enumerated() where lastUsageDay[index] != latest && lineEntry[index] >= 0 {
            guard seen.insert(line.resourceID).inserted else { continue }
            let resource = entries[Int(lineEntry[index])]
            former.append(CostModel.Resource(
                provider: resource.provider, id: line.resourceID, name: resource.name, resourceType: resource.type, service: line.service,
                category: resource.category, region: resource.region, account: resource.account, status: Self.listedStatus, flavor: "",
                tags: resource.tags, rate: Rate(Money(0, line.currency), per: .daily), isZombie: false, isOrphan: false, folded: [],
                hostProvider: resource.hostProvider))
        }
        return former
    }

    /// The status of every resource an export lists: billed on its last day, so running.
    package static let listedStatus = ResourceStatus(provider: "ACTIVE")

    /// `order` (indices into `lines`) sorted by resource ID, ties in index order. Compared by
    /// the first eight bytes of each ID past the prefix all of them share, as one integer,
    /// and by the whole ID only when those are equal: at 100,000 resources the string
    /// comparisons of a plain sort took 35 ms. For IDs in NFC (all that providers send), byte
    /// order is `String` order; for any other, reconciliation finds the order wrong and sorts.
    package static func sortedByResourceID(_ order: [Int], lines: [DailyCostTable.Line]) -> [Int] {
        guard let first = order.first else { return order }
        var common = Array(lines[first].resourceID.utf8)
        for index in order where !common.isEmpty {
            var shared = 0
            for (a, b) in zip(common, lines[index].resourceID.utf8) {
                guard a == b else { break }
                shared += 1
            }
            if shared < common.count { common.removeLast(common.count - shared) }
        }
        let skip = common.count
        var keyed = order.map { index -> (key: UInt64, index: Int) in
            var key: UInt64 = 0, taken = 0
            for byte in lines[index].resourceID.utf8.dropFirst(skip).prefix(8) {
                key = key << 8 | UInt64(byte)
                taken += 1
            }
            return (key << (8 * UInt64(8 - taken)), index)
        }
        keyed.sort { a, b in
            if a.key != b.key { return a.key < b.key }
            let idA = lines[a.index].resourceID, idB = lines[b.index].resourceID
            return idA != idB ? idA.utf8.lexicographicallyPrecedes(idB.utf8) : a.index < b.index
        }
        return keyed.map(\.index)
    }
}
