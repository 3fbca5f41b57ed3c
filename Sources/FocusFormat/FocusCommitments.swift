import CostModel
import Foundation
import Ingest

/// The commitment and invoice columns of a FOCUS read (1.1 and later), summed as the rows go:
/// integer keys into flat tables, so a file without these columns pays nothing and one with
/// them a table addition or two a row. `FocusIngest.finish` turns them into a
/// `CommitmentLedger`.
package struct CommitmentTally: Sendable {
    /// Commitment IDs, interned; their description from the first row of each.
    var ids = ByteInterner()
    var described: [(name: String, type: String, category: String, provider: String, currency: Int32)] = []
    /// (commitment, status, day) → EffectiveCost micro-units.
    var amounts = PackedKeyTable()
    /// (service, currency, covered, day) → EffectiveCost of Usage rows: all of them (covered 0),
    /// and those a commitment covered (1); services and currencies as the read interned them.
    /// Keyed by service, not line: a line key made a second table of every line and day (13 % of
    /// a 100k × 30 read, perf) for figures that are per service.
    var coverage = PackedKeyTable()
    /// Invoice IDs and issuers, interned; (invoice, issuer, currency, day) → BilledCost.
    var invoiceIDs = ByteInterner()
    var issuers = ByteInterner()
    var invoiced = PackedKeyTable()

    package init() {}

    static let used: UInt64 = 1, unused: UInt64 = 2

    /// 24 bits of day ordinal (days since 1970: until the year 47,900).
    static func key(_ high: UInt64, day: Int32) -> UInt64 { high << 24 | UInt64(UInt32(bitPattern: day)) & 0xFF_FFFF }
    static func day(of key: UInt64) -> Int { Int(key & 0xFF_FFFF) }
}

extension FocusIngest {
    /// The row's commitment and invoice columns; `effective` is its EffectiveCost.
    mutating func tallyCommitments<S>(_ reader: CSVReader<S>, _ columns: Columns, line: Int32, day: Int32, billed: Int64, effective: Int64,
                                      isUsage: Bool, file: String, row: Int) {
        if columns.invoiceID >= 0 {
            let invoice = UInt64(reader.withField(columns.invoiceID) { commitments.invoiceIDs.internRepeated($0) })
            let issuer = columns.invoiceIssuer < 0 ? 0 : UInt64(reader.withField(columns.invoiceIssuer) { commitments.issuers.internRepeated($0) })
            // 20 bits of invoice, 12 of issuer, 8 of currency: past them the rows are summed
            // under the last representable ones, and the read says so.
            if invoice >= 1 << 20 || issuer >= 1 << 12, tallyOverflow == nil { tallyOverflow = (file, row) }
            let currency = UInt64(lineCurrency[Int(line)]) & 0xFF
            commitments.invoiced.add(CommitmentTally.key(min(invoice, 1 << 20 - 1) << 20 | min(issuer, 1 << 12 - 1) << 8 | currency, day: day), billed)
        }
        guard columns.commitmentID >= 0 else { return }
        var status: UInt64 = 0
        if columns.commitmentStatus >= 0 {
            if reader.field(columns.commitmentStatus, equals: "Used") {
                status = CommitmentTally.used
            } else if reader.field(columns.commitmentStatus, equals: "Unused") {
                status = CommitmentTally.unused
            }
        }
        if isUsage && status != CommitmentTally.unused {
            let service = Self.coverageKey(service: lineService[Int(line)], currency: lineCurrency[Int(line)])
            commitments.coverage.add(CommitmentTally.key(service << 1, day: day), effective)
            if status == CommitmentTally.used { commitments.coverage.add(CommitmentTally.key(service << 1 | 1, day: day), effective) }
        }
        guard status != 0, !isEmpty(reader, columns.commitmentID) else { return }
        let commitment = reader.withField(columns.commitmentID) { commitments.ids.internRepeated($0) }
        if Int(commitment) == commitments.described.count {
            commitments.described.append((text(reader, columns.commitmentName), text(reader, columns.commitmentType),
                                          text(reader, columns.commitmentCategory), kind(reader, columns).provider,
                                          canonicalCurrency[Int(lineCurrency[Int(line)])]))
        }
        commitments.amounts.add(CommitmentTally.key(UInt64(commitment) << 2 | status, day: day), effective)
    }

    /// An interned service and (canonical) currency as one key: 31 bits of service, 8 of currency.
    static func coverageKey(service: Int32, currency: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: service) & 0x7FFF_FFFF) << 8 | UInt64(UInt32(bitPattern: currency) & 0xFF)
    }

    static func coverageParts(_ key: UInt64) -> (service: Int32, currency: Int32) {
        (Int32(truncatingIfNeeded: key >> 8), Int32(truncatingIfNeeded: key & 0xFF))
    }

    /// A later part's tally added to this one, its services through `serviceMap` and
    /// currencies through `currencyMap` (the merge's own).
    mutating func mergeCommitments(_ later: FocusIngest, serviceMap: [Int32], currencyMap: [Int32], lineOffset: Int) {
        let tally = later.commitments
        var commitmentMap: [Int32] = []
        for index in 0..<Int32(tally.ids.count) {
            let mine = tally.ids.withBytes(index) { commitments.ids.intern($0) }
            if Int(mine) == commitments.described.count {
                var described = tally.described[Int(index)]
                described.currency = currencyMap[Int(described.currency)]
                commitments.described.append(described)
            }
            commitmentMap.append(mine)
        }
        tally.amounts.forEach { key, micros in
            let high = key >> 24
            commitments.amounts.add(CommitmentTally.key(UInt64(commitmentMap[Int(high >> 2)]) << 2 | high & 3,
                                                        day: Int32(CommitmentTally.day(of: key))), micros)
        }
        tally.coverage.forEach { key, micros in
            let high = key >> 24, (service, currency) = Self.coverageParts(high >> 1)
            let mine = Self.coverageKey(service: serviceMap[Int(service)], currency: currencyMap[Int(currency)])
            commitments.coverage.add(CommitmentTally.key(mine << 1 | high & 1, day: Int32(CommitmentTally.day(of: key))), micros)
        }
        let invoiceMap = (0..<Int32(tally.invoiceIDs.count)).map { index in UInt64(tally.invoiceIDs.withBytes(index) { commitments.invoiceIDs.intern($0) }) }
        let issuerMap = (0..<Int32(tally.issuers.count)).map { index in UInt64(tally.issuers.withBytes(index) { commitments.issuers.intern($0) }) }
        tally.invoiced.forEach { key, micros in
            let high = key >> 24
            let (invoice, issuer, currency) = (Int(high >> 20), Int(high >> 8 & 0xFFF), Int(high & 0xFF))
            commitments.invoiced.add(CommitmentTally.key(min(invoiceMap[invoice], 1 << 20 - 1) << 20 | min(issuerMap[issuer], 1 << 12 - 1) << 8
                                                         | UInt64(currencyMap[currency]) & 0xFF, day: Int32(CommitmentTally.day(of: key))), micros)
        }
        if tallyOverflow == nil, let overflow = later.tallyOverflow { tallyOverflow = (overflow.file, overflow.line + lineOffset) }
    }

    /// The tally as a ledger, with the lines' services and currencies.
    func commitmentLedger() -> CommitmentLedger {
        let tally = commitments
        var ledger = CommitmentLedger()
        var byCommitment: [Int: CommitmentLedger.Commitment] = [:]
        tally.amounts.forEach { key, micros in
            let high = key >> 24, index = Int(high >> 2), day = CommitmentTally.day(of: key)
            let described = tally.described[index]
            var entry = byCommitment[index] ?? CommitmentLedger.Commitment(
                id: tally.ids.string(Int32(index)), name: described.name, type: described.type, category: described.category,
                provider: described.provider, currency: Currency(currencyCodes[Int(described.currency)]))
            if high & 3 == CommitmentTally.used { entry.used[day, default: 0] &+= micros } else { entry.unused[day, default: 0] &+= micros }
            byCommitment[index] = entry
        }
        ledger.commitments = byCommitment.sorted { $0.key < $1.key }.map(\.value)
        var coverage: [UInt64: CommitmentLedger.Coverage] = [:]
        tally.coverage.forEach { key, micros in
            let high = key >> 24, day = CommitmentTally.day(of: key), (service, currency) = Self.coverageParts(high >> 1)
            coverage[high >> 1, default: CommitmentLedger.Coverage(service: services.string(Int32(service)), currency: Currency(currencyCodes[Int(currency)]))]
                .add(micros, day: day, covered: high & 1 == 1)
        }
        ledger.coverage = coverage.values.sorted { ($0.service, $0.currency) < ($1.service, $1.currency) }
        struct InvoiceKey: Hashable { var id: Int; var issuer: Int; var currency: Int }
        var invoices: [InvoiceKey: CommitmentLedger.Invoice] = [:]
        tally.invoiced.forEach { key, micros in
            let high = key >> 24, day = CommitmentTally.day(of: key)
            let invoice = InvoiceKey(id: Int(high >> 20), issuer: Int(high >> 8 & 0xFFF), currency: Int(high & 0xFF))
            var entry = invoices[invoice] ?? CommitmentLedger.Invoice(
                id: tally.invoiceIDs.string(Int32(invoice.id)), issuer: tally.issuers.count > invoice.issuer ? tally.issuers.string(Int32(invoice.issuer)) : "",
                currency: Currency(currencyCodes[invoice.currency]))
            entry.billed[day, default: 0] &+= micros
            invoices[invoice] = entry
        }
        ledger.invoices = invoices.values.sorted { ($0.id, $0.issuer, $0.currency) < ($1.id, $1.issuer, $1.currency) }
        return ledger
    }
}

extension FocusExport {
    /// Sums per line and day as sums per scope (provider × account × service × category ×
    /// currency) and day, each line's scope found once: the effective days of a read.
    package static func scopeDays(_ sums: LineDaySums, lines: [DailyCostTable.Line]) -> [DailyCost] {
        struct Scope: Hashable { var provider, account, service: String; var category: CostCategory; var currency: Currency }
        var scopes: [Scope] = [], index: [Scope: Int] = [:]
        let scopeOfLine = lines.map { line -> Int in
            let scope = Scope(provider: line.provider, account: line.account, service: line.service, category: line.category, currency: line.currency)
            if let known = index[scope] { return known }
            index[scope] = scopes.count
            scopes.append(scope)
            return scopes.count - 1
        }
        var table = PackedKeyTable()
        sums.forEachByDayThenLine { day, line, micros in
            table.add(UInt64(scopeOfLine[Int(line)]) << 32 | UInt64(UInt32(bitPattern: day)), micros)
        }
        var rows: [DailyCost] = []
        table.forEach { key, micros in
            let scope = scopes[Int(key >> 32)]
            rows.append(DailyCost(day: LocalDay(ordinal: Int(Int32(bitPattern: UInt32(key & 0xFFFF_FFFF)))), provider: scope.provider,
                                  resourceID: "", service: scope.service, category: scope.category, account: scope.account,
                                  micros: micros, currency: scope.currency))
        }
        return rows.sorted { ($0.day, $0.provider, $0.account, $0.service, $0.currency.code) < ($1.day, $1.provider, $1.account, $1.service, $1.currency.code) }
    }
}
