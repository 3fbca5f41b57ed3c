import CostModel
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `type: focus`: FinOps Open Cost and Usage Specification (1.0–1.2) CSV exports, plain or
/// gzip, from a glob of files. Files are streamed with constant memory into daily cost per
/// resource, service and currency. When every file's size and modification time are what
/// the last good sync read, nothing is read again (the fingerprint survives restarts); when
/// any changed, all are read again, so a re-exported file replaces its earlier rows. Bad rows
/// are counted and reported with file:line and never stop the file.
final class FocusSource: Source {
    struct Settings: SourceSettings {
        var path: String
    }

    static let kind = SourceKind(
        settingKeys: ["path"],
        readSettings: { fields, reader in
            if reader.required(fields, "path") == nil { return Settings(path: "") }
            return Settings(path: reader.string(fields, "path") ?? "")
        },
        make: { config in FocusSource(settings: config.settings as? Settings ?? Settings(path: "")) }
    )

    let settings: Settings
    var provider: String { "focus" }

    init(settings: Settings) { self.settings = settings }

    func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        let paths = Self.glob(settings.path)
        guard !paths.isEmpty else {
            throw SyncFailure(endpoint: "files", reason: "no_files", message: "no file matches \(settings.path)")
        }
        let timeZone = window.reporting.timeZone
        let fingerprint = FileFingerprint.of(paths, salt: "focus-v2|\(timeZone.identifier)")
        if let fingerprint, fingerprint == window.previousFingerprint {
            var snapshot = SourceSnapshot()
            snapshot.unchanged = true
            snapshot.fingerprint = fingerprint
            return snapshot
        }
        // Parsing a month of a large estate takes seconds of CPU: off the cooperative pool.
        var snapshot = try await offCooperativePool { isCancelled in
            try FocusExport.read(paths: paths, timeZone: timeZone, isCancelled: isCancelled).snapshot()
        }
        snapshot.fingerprint = fingerprint
        return snapshot
    }

    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { index in result.gl_pathv[index].map { String(cString: $0) } }.sorted()
    }
}

/// One or more FOCUS files read together: daily cost per line (resource × service ×
/// currency) in micro-units, each line's usage on its latest day (the run rate), and the bad
/// rows.
struct FocusExport: Sendable {
    struct Resource: Sendable {
        var provider: String
        var name: String
        var type: String
        var category: CostCategory
        var region: String
        var account: String
        var tags: [String: String]

        /// Provider, type and category as a row's `ProviderName`, `ResourceType` and
        /// `ServiceCategory` give them; the same for every resource of one kind, so a reader
        /// derives each kind once.
        struct Kind: Sendable {
            var provider: String
            var type: String
            var category: CostCategory

            init(provider: String, type: String, serviceCategory: String) {
                let entry = Taxonomy.lookup(provider: "focus", service: serviceCategory)
                let provider = provider.lowercased()
                self.provider = provider.isEmpty ? "focus" : provider
                self.type = type.isEmpty ? (entry?.resourceType ?? "other") : type.lowercased()
                category = entry?.category ?? .other
            }
        }

        /// A resource as a FOCUS row (or a warehouse's row of the same columns) describes it:
        /// the provider in lower case, "focus" without one; the ID for a missing name; the
        /// type and category from `ServiceCategory` when `ResourceType` is empty.
        init(id: String, provider: String, name: String, type: String, serviceCategory: String, region: String, account: String,
             tags: [String: String]) {
            self.init(id: id, name: name, kind: Kind(provider: provider, type: type, serviceCategory: serviceCategory), region: region,
                      account: account, tags: tags)
        }

        init(id: String, name: String, kind: Kind, region: String, account: String, tags: [String: String]) {
            provider = kind.provider
            self.name = name.isEmpty ? id : name
            type = kind.type
            category = kind.category
            self.region = region
            self.account = account
            self.tags = tags
        }
    }

    struct BadRow: Sendable, Equatable, CustomStringConvertible {
        var file: String
        var line: Int
        var reason: String
        var description: String { "\(file):\(line): \(reason)" }
    }

    /// Lines and their rows, sorted by day and line.
    var costs = DailyCostTable()
    /// Per line: the latest day with usage and the usage that day.
    var lastUsageDay: [Int32] = []
    var lastUsage: [Int64] = []
    /// Each resource once, as its first row describes it; per line, its resource's index
    /// here (-1 when no row describes it).
    var entries: [Resource] = []
    var lineEntry: [Int32] = []
    var badRows: [BadRow] = []
    var badRowCount = 0
    var rows = 0

    static let required = ["BilledCost", "BillingCurrency", "ChargePeriodStart"]
    static let chargeCategories = ["Usage", "Purchase", "Tax", "Credit", "Adjustment"]
    /// Bad rows kept with their reason; beyond this only counted.
    static let keptBadRows = 100

    static func read(path: String, timeZone: TimeZone) throws -> FocusExport {
        try read(paths: [path], timeZone: timeZone)
    }

    /// Plain files of at least this size are read in two halves on two threads.
    static let halvesMinimumSize: UInt64 = 8 << 20

    static func read(paths: [String], timeZone: TimeZone, threads: Int = min(2, ProcessInfo.processInfo.activeProcessorCount),
                     halvesMinimumSize: UInt64 = FocusExport.halvesMinimumSize,
                     isCancelled: @escaping @Sendable () -> Bool = { false }) throws -> FocusExport {
        var ingest = FocusIngest(timeZone: timeZone, isCancelled: isCancelled)
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
    func snapshot(selfDescribed: Bool = true) -> SourceSnapshot {
        var snapshot = SourceSnapshot()
        snapshot.costs = costs
        let utc = TimeZone(identifier: "UTC") ?? .current
        if let latest = lastUsageDay.max(), latest > Int32.min {
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
                        rate: runRate(index), isZombie: false, isOrphan: false, folded: []))
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
        snapshot.formerResources = formerResources()
        snapshot.endpointFailures = badRows.map { SyncFailure(endpoint: $0.file, reason: "bad_row", message: $0.description) }
        return snapshot
    }

    /// The resources billed in the export but not on its last usage day, as their first row
    /// describes them, costing nothing now: a tenant's server deleted on the 10th still
    /// carries its tags on the 1st to the 10th.
    func formerResources() -> [CostModel.Resource] {
        let latest = lastUsageDay.max() ?? Int32.min
        var seen: Set<String> = []
        var former: [CostModel.Resource] = []
        for (index, line) in costs.lines.enumerated() where lastUsageDay[index] != latest && lineEntry[index] >= 0 {
            guard seen.insert(line.resourceID).inserted else { continue }
            let resource = entries[Int(lineEntry[index])]
            former.append(CostModel.Resource(
                provider: resource.provider, id: line.resourceID, name: resource.name, resourceType: resource.type, service: line.service,
                category: resource.category, region: resource.region, account: resource.account, status: Self.listedStatus, flavor: "",
                tags: resource.tags, rate: Rate(Money(0, line.currency), per: .daily), isZombie: false, isOrphan: false, folded: []))
        }
        return former
    }

    /// The status of every resource an export lists: billed on its last day, so running.
    static let listedStatus = ResourceStatus(provider: "ACTIVE")

    /// `order` (indices into `lines`) sorted by resource ID, ties in index order. Compared by
    /// the first eight bytes of each ID past the prefix all of them share, as one integer,
    /// and by the whole ID only when those are equal: at 100,000 resources the string
    /// comparisons of a plain sort took 35 ms. For IDs in NFC (all that providers send), byte
    /// order is `String` order; for any other, reconciliation finds the order wrong and sorts.
    static func sortedByResourceID(_ order: [Int], lines: [DailyCostTable.Line]) -> [Int] {
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

/// The state of reading FOCUS files: byte-level, with every repeated string (resource IDs,
/// services, period starts) interned once, so a row costs hashing a few byte ranges and
/// adding an integer.
private struct FocusIngest: Sendable {
    let timeZone: TimeZone
    let isCancelled: @Sendable () -> Bool
    /// A later part of a file, read on its own thread and merged into the first part's
    /// state: its resources and lines are kept as interned numbers and raw bytes only, and
    /// described (strings, kind, tags) at the merge for the few the first part lacks: nearly
    /// every resource appears in both parts, and the later one described each again only for
    /// the merge to drop it.
    let isLaterPart: Bool
    var export = FocusExport()
    var resourceIDs: ByteInterner
    var services = ByteInterner()
    var currencies = ByteInterner()
    var periodStarts = ByteInterner()
    /// Per interned period start: its local day's ordinal, or nil when it is not a time.
    var startDays: [Int32?] = []
    /// Interned resource ID → index of its resource entry's ID string.
    var resourceNames: [String] = []
    /// (resource, service, currency) packed → line index.
    var lineIndex = PackedKeyTable()
    /// Per line: its interned service and canonical currency, and the line that followed its
    /// last row (its interned resource ID is `export.lineEntry`: interned IDs number
    /// `export.entries`).
    var lineService: [Int32] = []
    var lineCurrency: [Int32] = []
    var successor: [Int32] = []
    /// The line of the previous row, -1 before the first.
    var previousLine: Int32 = -1
    /// Micro-units per line and day.
    var sums = LineDaySums()
    /// Per interned currency: its code, upper-case, and the first interned currency with
    /// that code (`usd` and `USD` are one currency, and their rows one line).
    var currencyCodes: [String] = []
    var canonicalCurrency: [Int32] = []
    /// Each resource kind (provider × type × service category, as interned bytes) derived once.
    var kindTexts = ByteInterner()
    var kinds: [UInt64: FocusExport.Resource.Kind] = [:]
    /// Each distinct `Tags` text parsed once (up to `FocusTags.cachedTexts` of them).
    var tagTexts = ByteInterner()
    var parsedTags: [[String: String]] = []
    /// A later part's resources as their first row describes them: per resource, the end in
    /// `describingBytes` of each of the `Describing` fields, back to back.
    var describingBytes: [UInt8] = []
    var describingEnds: [Int] = []
    /// A later part's lines past 255 currencies, which `lineIndex`'s keys cannot hold.
    var wideLines: [SIMD3<Int32>: Int32] = [:]

    /// The fields that describe a resource, in the order a later part keeps them.
    enum Describing: Int, CaseIterable {
        case name, provider, type, serviceCategory, region, account, tags
    }

    init(timeZone: TimeZone, isCancelled: @escaping @Sendable () -> Bool, isLaterPart: Bool = false) {
        self.timeZone = timeZone
        self.isCancelled = isCancelled
        self.isLaterPart = isLaterPart
        resourceIDs = ByteInterner(keepsStrings: !isLaterPart)
    }

    /// Resources interned so far (their IDs number them).
    private var resourceCount: Int { isLaterPart ? describingEnds.count / Describing.allCases.count : resourceNames.count }

    private mutating func bad(_ file: String, _ line: Int, _ reason: @autoclosure () -> String) {
        export.badRowCount += 1
        if export.badRows.count < FocusExport.keptBadRows { export.badRows.append(.init(file: file, line: line, reason: reason())) }
    }

    mutating func ingest<Source: ByteChunks>(_ reader: inout CSVReader<Source>, name: String) throws {
        let columns = try Self.header(&reader, name: name)
        _ = try rows(&reader, columns, name: name, endsAtCut: false)
    }

    /// Reads a plain file as two halves on two threads: the first into this state, the
    /// second into a state of its own, merged when both are done. The results are those of
    /// reading the file whole. When the cut fell inside a quoted field (a line break in a
    /// quoted value), the first half ends inside quotes; the halves are then discarded and
    /// the file is read whole.
    mutating func ingestInHalves(path: String, name: String, middle: UInt64) throws {
        var first = CSVReader(try FileChunks(path: path, range: 0..<middle), file: name)
        let columns = try Self.header(&first, name: name)
        let (timeZone, isCancelled) = (self.timeZone, self.isCancelled)
        let second = SecondThread(name: "zen-exporter.parse-half") {
            Result { () throws -> FocusIngest in
                var ingest = FocusIngest(timeZone: timeZone, isCancelled: isCancelled, isLaterPart: true)
                var reader = CSVReader(try FileChunks(path: path, range: middle..<UInt64.max), file: name, dropsByteOrderMark: false)
                _ = try ingest.rows(&reader, columns, name: name, endsAtCut: false)
                return ingest
            }
        }
        let before = self
        let aligned: Bool
        do {
            aligned = try rows(&first, columns, name: name, endsAtCut: true)
        } catch {
            _ = second.result()
            throw error
        }
        let later = second.result()
        guard aligned else {
            self = before
            var whole = CSVReader(try FileChunks(path: path), file: name)
            try ingest(&whole, name: name)
            return
        }
        merge(try later.get(), lineOffset: first.nextLine - 1)
    }

    private static func header<Source: ByteChunks>(_ reader: inout CSVReader<Source>, name: String) throws -> Columns {
        let header: [String]
        do {
            guard let first = try reader.next() else { throw CSVError(file: name, line: 1, message: "the file is empty") }
            header = first.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        } catch let error as CSVError {
            throw SyncFailure(endpoint: name, reason: "bad_file", message: "\(name):\(error.line): \(error.message)")
        }
        let column = Dictionary(header.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let missing = FocusExport.required.filter { column[$0] == nil }
        guard missing.isEmpty else {
            throw SyncFailure(endpoint: name, reason: "bad_file", message: "\(name):1: missing FOCUS columns \(missing.joined(separator: ", "))")
        }
        return Columns(column, width: header.count)
    }

    /// Reads records to the end of `reader`. With `endsAtCut` the reader ends at a cut in
    /// the file: a record left open there (inside quotes) returns false instead of being
    /// counted as a bad row.
    private mutating func rows<Source: ByteChunks>(_ reader: inout CSVReader<Source>, _ columns: Columns, name: String, endsAtCut: Bool) throws -> Bool {
        while true {
            let line: Int
            do {
                guard let next = try reader.nextRecord() else { break }
                line = next
            } catch let error as CSVError {
                if endsAtCut { return false }
                bad(name, error.line, error.message)
                break
            }
            export.rows += 1
            if export.rows & 0xFFFF == 0, isCancelled() { throw CancellationError() }
            guard reader.fieldCount == columns.width else {
                bad(name, line, "\(reader.fieldCount) fields where the header has \(columns.width)")
                continue
            }
            try row(&reader, columns, file: name, line: line)
        }
        return true
    }

    /// Adds the state of a later part of the same file, read separately: as if its rows had
    /// followed this state's. Its lines are re-interned here (the first seen resource entry
    /// wins, as when reading in order), and its sums added to this state's.
    private mutating func merge(_ later: FocusIngest, lineOffset: Int) {
        export.rows += later.export.rows
        export.badRowCount += later.export.badRowCount
        for var row in later.export.badRows where export.badRows.count < FocusExport.keptBadRows {
            row.line += lineOffset
            export.badRows.append(row)
        }
        // The later part's interned currencies, resources and services, as interned here.
        var currencyMap: [Int32] = []
        for (index, code) in later.currencyCodes.enumerated() {
            let currency = internedCurrency(later.currencies.string(Int32(index)), code: code)
            currencyMap.append(canonicalCurrency[Int(currency)])
        }
        var resourceMap: [Int32] = []
        resourceMap.reserveCapacity(later.resourceIDs.count)
        for index in 0..<Int32(later.resourceIDs.count) {
            let resource = later.resourceIDs.withBytes(index) { resourceIDs.intern($0) }
            if Int(resource) == resourceNames.count {
                resourceNames.append(resourceIDs.string(resource))
                export.entries.append(later.describedResource(index, id: resourceIDs.string(resource)))
            }
            resourceMap.append(resource)
        }
        let serviceMap = (0..<later.services.count).map { services.intern(later.services.string(Int32($0))) }
        var lineMap: [Int32] = []
        lineMap.reserveCapacity(later.export.lineEntry.count)
        for index in 0..<later.export.lineEntry.count {
            let mine = line(resource: resourceMap[Int(later.export.lineEntry[index])], service: serviceMap[Int(later.lineService[index])],
                            currency: currencyMap[Int(later.lineCurrency[index])])
            lineMap.append(mine)
            let day = later.export.lastUsageDay[index], usage = later.export.lastUsage[index]
            if day > export.lastUsageDay[Int(mine)] {
                export.lastUsageDay[Int(mine)] = day
                export.lastUsage[Int(mine)] = usage
            } else if day == export.lastUsageDay[Int(mine)], day > Int32.min {
                export.lastUsage[Int(mine)] &+= usage
            }
        }
        later.sums.forEachByDayThenLine { day, line, micros in sums.add(line: lineMap[Int(line)], day: day, micros) }
    }

    /// The interned index of a currency as read (`text`), adding it with its upper-case `code`.
    private mutating func internedCurrency(_ text: String, code: String) -> Int32 {
        let currency = currencies.intern(text)
        if Int(currency) == currencyCodes.count { addCurrency(code: code) }
        return currency
    }

    private mutating func addCurrency(code: String) {
        canonicalCurrency.append(currencyCodes.firstIndex(of: code).map { Int32($0) } ?? Int32(currencyCodes.count))
        currencyCodes.append(code)
    }

    /// Column positions of the fields read; -1 when the file lacks the column.
    struct Columns: Sendable {
        var cost, currency, start, chargeCategory, service, serviceCategory, account, resourceID, resourceName, resourceType, region, provider, tags: Int
        /// The header's number of fields.
        var width: Int
        init(_ column: [String: Int], width: Int) {
            self.width = width
            func at(_ name: String) -> Int { column[name] ?? -1 }
            cost = at("BilledCost"); currency = at("BillingCurrency"); start = at("ChargePeriodStart")
            chargeCategory = at("ChargeCategory"); service = at("ServiceName"); serviceCategory = at("ServiceCategory")
            account = at("SubAccountId"); resourceID = at("ResourceId"); resourceName = at("ResourceName")
            resourceType = at("ResourceType"); region = at("RegionId"); provider = at("ProviderName"); tags = at("Tags")
        }
    }

    /// `FocusExport.chargeCategories` as bytes, compared with each row's.
    static let chargeCategoryBytes = FocusExport.chargeCategories.map { Array($0.utf8) }

    private func text<S>(_ reader: CSVReader<S>, _ column: Int) -> String { column < 0 ? "" : reader.string(column) }
    private func isEmpty<S>(_ reader: CSVReader<S>, _ column: Int) -> Bool { column < 0 || reader.length(of: column) == 0 }

    private mutating func row<S>(_ reader: inout CSVReader<S>, _ columns: Columns, file: String, line: Int) throws {
        guard let micros = reader.withField(columns.cost, { Micros.parse($0) }) else {
            bad(file, line, "BilledCost \"\(reader.string(columns.cost))\" is not a number")
            return
        }
        guard reader.length(of: columns.currency) == 3 else {
            bad(file, line, "BillingCurrency \"\(reader.string(columns.currency).uppercased())\" is not a currency code")
            return
        }
        let currency = reader.withField(columns.currency) { currencies.internRepeated($0) }
        if Int(currency) == currencyCodes.count { addCurrency(code: currencies.string(currency).uppercased()) }
        let start = reader.withField(columns.start) { periodStarts.internRepeated($0) }
        if Int(start) == startDays.count {
            let startText = reader.string(columns.start)
            startDays.append(FocusTime.parse(startText).map { Int32(LocalDay($0, in: timeZone).ordinal) })
        }
        guard let day = startDays[Int(start)] else {
            bad(file, line, "ChargePeriodStart \"\(reader.string(columns.start))\" is not an ISO 8601 time")
            return
        }
        // Every charge category is billed cost; an unknown one is a bad row.
        let category: Int
        if isEmpty(reader, columns.chargeCategory) {
            category = 0
        } else if let known = reader.withField(columns.chargeCategory, { bytes in
            Self.chargeCategoryBytes.firstIndex { $0.count == bytes.count && bytes.elementsEqual($0) }
        }) {
            category = known
        } else {
            bad(file, line, "ChargeCategory \"\(reader.string(columns.chargeCategory))\" is not one of Usage, Purchase, Tax, Credit, Adjustment")
            return
        }

        let canonical = canonicalCurrency[Int(currency)]
        let lineID = predictedLine(reader, columns, currency: canonical) ?? internLine(reader, columns, currency: canonical, category: category)
        if previousLine >= 0 { successor[Int(previousLine)] = lineID }
        previousLine = lineID
        sums.add(line: lineID, day: day, micros)
        if category == 0 {  // Usage
            let index = Int(lineID)
            if day > export.lastUsageDay[index] {
                export.lastUsageDay[index] = day
                export.lastUsage[index] = micros
            } else if day == export.lastUsageDay[index] {
                export.lastUsage[index] &+= micros
            }
        }
    }

    /// The line of this row when it is the one that followed the previous row's line last
    /// time: exports list the same resources in the same order day after day, so this
    /// mostly holds and saves hashing the resource ID and service. nil when it does not
    /// hold (or cannot be checked cheaply).
    @inline(__always)
    private func predictedLine<S>(_ reader: CSVReader<S>, _ columns: Columns, currency: Int32) -> Int32? {
        guard previousLine >= 0, columns.resourceID >= 0, columns.service >= 0 else { return nil }
        let line = successor[Int(previousLine)]
        guard line >= 0, lineCurrency[Int(line)] == currency,
              !isEmpty(reader, columns.resourceID), !isEmpty(reader, columns.service),
              reader.withField(columns.resourceID, { resourceIDs.holds(export.lineEntry[Int(line)], $0) }),
              reader.withField(columns.service, { services.holds(lineService[Int(line)], $0) }) else { return nil }
        return line
    }

    /// The line of this row by its resource, service and (canonical) currency, added when new.
    private mutating func internLine<S>(_ reader: CSVReader<S>, _ columns: Columns, currency: Int32, category: Int) -> Int32 {
        let service = isEmpty(reader, columns.service)
            ? services.intern(FocusExport.chargeCategories[category]) : reader.withField(columns.service) { services.intern($0) }
        let resource: Int32
        if isEmpty(reader, columns.resourceID) {
            resource = resourceIDs.intern("\(services.string(service))|\(text(reader, columns.account))")
        } else {
            resource = reader.withField(columns.resourceID) { resourceIDs.intern($0) }
        }
        if Int(resource) == resourceCount {
            if isLaterPart {
                describe(reader, columns)
            } else {
                let id = resourceIDs.string(resource)
                resourceNames.append(id)
                export.entries.append(FocusExport.Resource(
                    id: id, name: text(reader, columns.resourceName), kind: kind(reader, columns), region: text(reader, columns.region),
                    account: text(reader, columns.account), tags: tags(reader, columns.tags)))
            }
        }
        return line(resource: resource, service: service, currency: currency)
    }

    /// Keeps the bytes of the fields that describe a new resource (a later part).
    private mutating func describe<S>(_ reader: CSVReader<S>, _ columns: Columns) {
        for field in Describing.allCases {
            let column = switch field {
            case .name: columns.resourceName
            case .provider: columns.provider
            case .type: columns.resourceType
            case .serviceCategory: columns.serviceCategory
            case .region: columns.region
            case .account: columns.account
            case .tags: columns.tags
            }
            if column >= 0 { reader.withField(column) { describingBytes.append(contentsOf: $0) } }
            describingEnds.append(describingBytes.count)
        }
    }

    /// Resource `index` of a later part as its first row described it: what the first part
    /// makes of the same row.
    func describedResource(_ index: Int32, id: String) -> FocusExport.Resource {
        let width = Describing.allCases.count
        func text(_ field: Describing) -> String {
            let position = Int(index) * width + field.rawValue
            let start = position == 0 ? 0 : describingEnds[position - 1]
            return String(decoding: describingBytes[start..<describingEnds[position]], as: UTF8.self)
        }
        return FocusExport.Resource(
            id: id, name: text(.name), kind: .init(provider: text(.provider), type: text(.type), serviceCategory: text(.serviceCategory)),
            region: text(.region), account: text(.account), tags: FocusTags.parse(text(.tags)))
    }

    /// The kind of the row's resource, derived once per distinct provider, type and service
    /// category (at 100,000 resources, lower-casing and looking up each took 35 ms a thread).
    private mutating func kind<S>(_ reader: CSVReader<S>, _ columns: Columns) -> FocusExport.Resource.Kind {
        func interned(_ column: Int) -> UInt64 {
            column < 0 ? 0 : UInt64(reader.withField(column) { kindTexts.intern($0) }) + 1
        }
        let key = interned(columns.provider) << 42 | interned(columns.resourceType) << 21 | interned(columns.serviceCategory)
        // A key is exact while each text's number (its index + 1) fits its 21 bits.
        let exact = kindTexts.count < 1 << 21
        if exact, let known = kinds[key] { return known }
        let kind = FocusExport.Resource.Kind(provider: text(reader, columns.provider), type: text(reader, columns.resourceType),
                                             serviceCategory: text(reader, columns.serviceCategory))
        if exact { kinds[key] = kind }
        return kind
    }

    /// The row's tags, each distinct text parsed once.
    private mutating func tags<S>(_ reader: CSVReader<S>, _ column: Int) -> [String: String] {
        guard column >= 0, reader.length(of: column) > 0 else { return [:] }
        guard tagTexts.count < FocusTags.cachedTexts else { return FocusTags.parse(reader.string(column)) }
        let index = Int(reader.withField(column) { tagTexts.intern($0) })
        if index == parsedTags.count { parsedTags.append(FocusTags.parse(tagTexts.string(Int32(index)))) }
        return parsedTags[index]
    }

    /// The line of an interned resource, service and canonical currency, added when new.
    /// Keys are the interned numbers, so a new line is known to be new without hashing its
    /// strings; past 255 currencies the key cannot hold the currency and the table's own
    /// index decides.
    private mutating func line(resource: Int32, service: Int32, currency: Int32) -> Int32 {
        let key = UInt64(UInt32(bitPattern: resource)) << 32 | UInt64(UInt32(bitPattern: service)) << 8 | UInt64(currency & 0xFF)
        if currency < 0xFF, let known = lineIndex[key] { return Int32(truncatingIfNeeded: known) }
        if isLaterPart {
            // Numbers only: the merge makes the lines of the first part's.
            let wide = SIMD3(resource, service, currency)
            if currency >= 0xFF, let known = wideLines[wide] { return known }
            let lineID = Int32(export.lineEntry.count)
            if currency < 0xFF { lineIndex.set(key, Int64(lineID)) } else { wideLines[wide] = lineID }
            appendLine(resource: resource, service: service, currency: currency)
            return lineID
        }
        let entry = export.entries[Int(resource)]
        let line = DailyCostTable.Line(resourceID: resourceNames[Int(resource)], service: services.string(service),
                                       currency: Currency(currencyCodes[Int(currency)]), provider: entry.provider,
                                       account: entry.account, category: entry.category)
        let lineID: Int32
        if currency < 0xFF {
            lineID = export.costs.appendLine(line)
            lineIndex.set(key, Int64(lineID))
        } else {
            lineID = export.costs.intern(line)
        }
        if Int(lineID) == export.lastUsageDay.count { appendLine(resource: resource, service: service, currency: currency) }
        return lineID
    }

    private mutating func appendLine(resource: Int32, service: Int32, currency: Int32) {
        export.lastUsageDay.append(Int32.min)
        export.lastUsage.append(0)
        export.lineEntry.append(resource)
        lineService.append(service)
        lineCurrency.append(currency)
        successor.append(-1)
    }

    /// The rows sorted by day and line.
    mutating func finish() -> FocusExport {
        sums.moveRows(into: &export.costs)
        return export
    }
}

/// FOCUS times: ISO 8601 with or without fractional seconds, or without a zone (UTC, as
/// FOCUS requires), or a plain date.
enum FocusTime {
    static func parse(_ text: String) -> Date? {
        guard let text = DateText.ascii(text) else { return nil }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        let plain = DateFormatter()
        plain.locale = Locale(identifier: "en_US_POSIX")
        plain.timeZone = TimeZone(identifier: "UTC")
        for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd"] {
            plain.dateFormat = format
            if let date = plain.date(from: text) { return date }
        }
        return nil
    }
}

/// The `Tags` column: a JSON object; values that are not strings are kept as their text, and
/// keys that name a credential are dropped (`CredentialKeys`).
enum FocusTags {
    /// Distinct tag texts a reader keeps parsed; beyond them each is parsed where it is read.
    static let cachedTexts = 100_000

    /// Tags by their JSON text: resources with the same tags share one dictionary (a hundred
    /// thousand resources carry a few hundred distinct tag sets). At most `cachedTexts` are kept.
    struct Cache {
        private var parsed: [String: [String: String]] = [:]

        mutating func tags(_ json: String) -> [String: String] {
            if let known = parsed[json] { return known }
            let tags = FocusTags.parse(json)
            if parsed.count < FocusTags.cachedTexts { parsed[json] = tags }
            return tags
        }
    }

    static func parse(_ json: String) -> [String: String] {
        if json.isEmpty { return [:] }
        if let flat = flatStrings(json) { return CredentialKeys.dropCredentials(flat) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [:] }
        return object.reduce(into: [:]) { result, entry in
            if !CredentialKeys.namesCredential(entry.key) { result[entry.key] = "\(entry.value)" }
        }
    }

    /// The common case, read without Foundation's JSON parser (which was 4 % of reading a
    /// large export): an object of string values without escapes. Anything else is nil and
    /// goes to the full parser.
    static func flatStrings(_ json: String) -> [String: String]? {
        var json = json
        return json.withUTF8 { bytes -> [String: String]? in
            let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
            var index = 0
            func skipSpace() { while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D { index += 1 } }
            func expect(_ byte: UInt8) -> Bool {
                skipSpace()
                guard index < bytes.count, bytes[index] == byte else { return false }
                index += 1
                return true
            }
            func string() -> String? {
                guard expect(quote) else { return nil }
                let start = index
                while index < bytes.count, bytes[index] != quote {
                    if bytes[index] == backslash || bytes[index] < 0x20 { return nil }
                    index += 1
                }
                guard index < bytes.count else { return nil }
                index += 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
            }
            guard expect(UInt8(ascii: "{")) else { return nil }
            var result: [String: String] = [:]
            if expect(UInt8(ascii: "}")) {
                skipSpace()
                return index == bytes.count ? result : nil
            }
            while true {
                guard let key = string(), expect(UInt8(ascii: ":")), let value = string() else { return nil }
                // A repeated key: the last one wins, as in JSONSerialization.
                result[key] = value
                if expect(UInt8(ascii: ",")) { continue }
                guard expect(UInt8(ascii: "}")) else { return nil }
                skipSpace()
                return index == bytes.count ? result : nil
            }
        }
    }
}
