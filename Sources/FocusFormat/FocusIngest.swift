import CostModel
import Foundation
import Ingest
import SourceKit
#if canImport(Glibc)
import Glibc
#endif

/// The state of reading FOCUS files: byte-level, with every repeated string (resource IDs,
/// services, period starts) interned once, so a row costs hashing a few byte ranges and
/// adding an integer.
package struct FocusIngest: Sendable {
    package let timeZone: TimeZone
    package let isCancelled: @Sendable () -> Bool
    /// A later part of a file, read on its own thread and merged into the first part's
    /// state: its resources and lines are kept as interned numbers and raw bytes only, and
    /// described (strings, kind, tags) at the merge for the few the first part lacks: nearly
    /// every resource appears in both parts, and the later one described each again only for
    /// the merge to drop it.
    package let isLaterPart: Bool
    package var export = FocusExport()
    package var resourceIDs: ByteInterner
    package var services = ByteInterner()
    package var currencies = ByteInterner()
    package var periodStarts = ByteInterner()
    /// Per interned period start: its local day's ordinal, or nil when it is not a time.
    package var startDays: [Int32?] = []
    /// Interned resource ID → index of its resource entry's ID string.
    package var resourceNames: [String] = []
    /// (resource, service, currency) packed → line index.
    package var lineIndex = PackedKeyTable()
    /// Per line: its interned service and canonical currency, and the line that followed its
    /// last row (its interned resource ID is `export.lineEntry`: interned IDs number
    /// `export.entries`).
    package var lineService: [Int32] = []
    package var lineCurrency: [Int32] = []
    package var successor: [Int32] = []
    /// The line of the previous row, -1 before the first.
    package var previousLine: Int32 = -1
    /// Micro-units per line and day.
    package var sums = LineDaySums()
    /// EffectiveCost per line and day, where the files have the column.
    package var effectiveSums = LineDaySums()
    package var hasEffectiveCost = false
    /// Per interned currency: its code, upper-case, and the first interned currency with
    /// that code (`usd` and `USD` are one currency, and their rows one line).
    package var currencyCodes: [String] = []
    package var canonicalCurrency: [Int32] = []
    /// Each resource kind (provider × type × service category, as interned bytes) derived once.
    package var kindTexts = ByteInterner()
    package var kinds: [UInt64: FocusExport.Resource.Kind] = [:]
    /// Each distinct `Tags` text parsed once (up to `FocusTags.cachedTexts` of them).
    package var tagTexts = ByteInterner()
    package var parsedTags: [[String: String]] = []
    /// A later part's resources as their first row describes them: per resource, the end in
    /// `describingBytes` of each of the `Describing` fields, back to back.
    package var describingBytes: [UInt8] = []
    package var describingEnds: [Int] = []
    /// A later part's lines past 255 currencies, which `lineIndex`'s keys cannot hold.
    package var wideLines: [SIMD3<Int32>: Int32] = [:]
    /// Commitment and invoice columns, summed as read.
    package var commitments = CommitmentTally()
    /// More invoices or issuers than the tally's keys hold: reported, not silently merged.
    package var tallyOverflow: (file: String, line: Int)?

    /// The fields that describe a resource, in the order a later part keeps them.
    package enum Describing: Int, CaseIterable {
        case name, provider, type, serviceCategory, region, account, tags, hostProvider
    }

    /// The provider of rows that name none: the source's `provider:`, else "focus".
    package let fallbackProvider: String

    package init(timeZone: TimeZone, isCancelled: @escaping @Sendable () -> Bool, isLaterPart: Bool = false, fallbackProvider: String = "focus") {
        self.timeZone = timeZone
        self.isCancelled = isCancelled
        self.isLaterPart = isLaterPart
        self.fallbackProvider = fallbackProvider
        resourceIDs = ByteInterner(keepsStrings: !isLaterPart)
    }

    /// Resources interned so far (their IDs number them).
    package var resourceCount: Int { isLaterPart ? describingEnds.count / Describing.allCases.count : resourceNames.count }

    package mutating func bad(_ file: String, _ line: Int, _ reason: @autoclosure () -> String) {
        export.badRowCount += 1
        if export.badRows.count < BadRow.kept { export.badRows.append(.init(file: file, line: line, reason: reason())) }
    }

    package mutating func ingest<Source: ByteChunks>(_ reader: inout CSVReader<Source>, name: String) throws {
        let columns = try Self.header(&reader, name: name)
        noteProvider(columns, file: name)
        hasEffectiveCost = hasEffectiveCost || columns.effectiveCost >= 0
        _ = try rows(&reader, columns, name: name, endsAtCut: false)
    }

    /// Reads a plain file as two halves on two threads: the first into this state, the
    /// second into a state of its own, merged when both are done. The results are those of
    /// reading the file whole. When the cut fell inside a quoted field (a line break in a
    /// quoted value), the first half ends inside quotes; the halves are then discarded and
    /// the file is read whole.
    package mutating func ingestInHalves(path: String, name: String, middle: UInt64) throws {
        var first = CSVReader(try FileChunks(path: path, range: 0..<middle), file: name)
        let columns = try Self.header(&first, name: name)
        noteProvider(columns, file: name)
        hasEffectiveCost = hasEffectiveCost || columns.effectiveCost >= 0
        let (timeZone, isCancelled, fallbackProvider) = (self.timeZone, self.isCancelled, self.fallbackProvider)
        let second = SecondThread(name: "zen-exporter.parse-half") {
            Result { () throws -> FocusIngest in
                var ingest = FocusIngest(timeZone: timeZone, isCancelled: isCancelled, isLaterPart: true, fallbackProvider: fallbackProvider)
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

    package static func header<Source: ByteChunks>(_ reader: inout CSVReader<Source>, name: String) throws -> Columns {
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
    package mutating func rows<Source: ByteChunks>(_ reader: inout CSVReader<Source>, _ columns: Columns, name: String, endsAtCut: Bool) throws -> Bool {
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
    package mutating func merge(_ later: FocusIngest, lineOffset: Int) {
        export.rows += later.export.rows
        export.badRowCount += later.export.badRowCount
        for var row in later.export.badRows where export.badRows.count < BadRow.kept {
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
            let day = later.export.lastUsageDay[index], usage = later.export.lastUsage[index], effective = later.export.lastEffective[index]
            if day > export.lastUsageDay[Int(mine)] {
                export.lastUsageDay[Int(mine)] = day
                export.lastUsage[Int(mine)] = usage
                export.lastEffective[Int(mine)] = effective
            } else if day == export.lastUsageDay[Int(mine)], day > Int32.min {
                export.lastUsage[Int(mine)] &+= usage
                export.lastEffective[Int(mine)] &+= effective
            }
        }
        later.sums.forEachByDayThenLine { day, line, micros in sums.add(line: lineMap[Int(line)], day: day, micros) }
        later.effectiveSums.forEachByDayThenLine { day, line, micros in effectiveSums.add(line: lineMap[Int(line)], day: day, micros) }
        hasEffectiveCost = hasEffectiveCost || later.hasEffectiveCost
        mergeCommitments(later, serviceMap: serviceMap, currencyMap: currencyMap, lineOffset: lineOffset)
    }

    /// The interned index of a currency as read (`text`), adding it with its upper-case `code`.
    package mutating func internedCurrency(_ text: String, code: String) -> Int32 {
        let currency = currencies.intern(text)
        if Int(currency) == currencyCodes.count { addCurrency(code: code) }
        return currency
    }

    package mutating func addCurrency(code: String) {
        canonicalCurrency.append(currencyCodes.firstIndex(of: code).map { Int32($0) } ?? Int32(currencyCodes.count))
        currencyCodes.append(code)
    }

    /// A file that names no provider, read without a `provider:` to stand in: said, not silent.
    package mutating func noteProvider(_ columns: Columns, file: String) {
        if columns.provider < 0, fallbackProvider == "focus" { export.filesWithoutProvider.append(file) }
    }

    /// Column positions of the fields read; -1 when the file lacks the column. The provider is
    /// FOCUS 1.3's `ServiceProviderName` where the file has it (1.4 removed `ProviderName`).
    package struct Columns: Sendable {
        package var cost, currency, start, chargeCategory, service, serviceCategory, account, resourceID, resourceName, resourceType, region, provider, tags: Int
        /// FOCUS 1.1 and later: amortised cost, commitment discounts, invoices.
        package var effectiveCost, commitmentID, commitmentName, commitmentType, commitmentCategory, commitmentStatus, invoiceID, invoiceIssuer: Int
        /// FOCUS 1.3: where a marketplace or reseller charge runs.
        package var hostProvider: Int
        /// The header's number of fields.
        package var width: Int
        package init(_ column: [String: Int], width: Int) {
            self.width = width
            func at(_ name: String) -> Int { column[name] ?? -1 }
            cost = at("BilledCost"); currency = at("BillingCurrency"); start = at("ChargePeriodStart")
            chargeCategory = at("ChargeCategory"); service = at("ServiceName"); serviceCategory = at("ServiceCategory")
            account = at("SubAccountId"); resourceID = at("ResourceId"); resourceName = at("ResourceName")
            resourceType = at("ResourceType"); region = at("RegionId"); provider = column["ServiceProviderName"] ?? at("ProviderName"); tags = at("Tags")
            effectiveCost = at("EffectiveCost"); commitmentID = at("CommitmentDiscountId"); commitmentName = at("CommitmentDiscountName")
            commitmentType = at("CommitmentDiscountType"); commitmentCategory = at("CommitmentDiscountCategory")
            commitmentStatus = at("CommitmentDiscountStatus"); invoiceID = at("InvoiceId"); invoiceIssuer = at("InvoiceIssuerName")
            hostProvider = at("HostProviderName")
        }

        /// Whether rows need the commitment and invoice tally.
        package var tallies: Bool { commitmentID >= 0 || invoiceID >= 0 }
    }

    /// `FocusExport.chargeCategories` as bytes, compared with each row's.
    package static let chargeCategoryBytes = FocusExport.chargeCategories.map { Array($0.utf8) }

    package func text<S>(_ reader: CSVReader<S>, _ column: Int) -> String { column < 0 ? "" : reader.string(column) }
    package func isEmpty<S>(_ reader: CSVReader<S>, _ column: Int) -> Bool { column < 0 || reader.length(of: column) == 0 }

}
