import CostModel
import Foundation
import Ingest
#if canImport(Glibc)
import Glibc
#endif

/// One row of a FOCUS file: read, validated, interned into its line and summed into its day.
extension FocusIngest {
    package mutating func row<S>(_ reader: inout CSVReader<S>, _ columns: Columns, file: String, line: Int) throws {
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

        var effective = micros
        if columns.effectiveCost >= 0, !isEmpty(reader, columns.effectiveCost) {
            guard let parsed = reader.withField(columns.effectiveCost, { Micros.parse($0) }) else {
                bad(file, line, "EffectiveCost \"\(reader.string(columns.effectiveCost))\" is not a number")
                return
            }
            effective = parsed
        }

        let canonical = canonicalCurrency[Int(currency)]
        let lineID = predictedLine(reader, columns, currency: canonical) ?? internLine(reader, columns, currency: canonical, category: category)
        if previousLine >= 0 { successor[Int(previousLine)] = lineID }
        previousLine = lineID
        sums.add(line: lineID, day: day, micros)
        if columns.effectiveCost >= 0 { effectiveSums.add(line: lineID, day: day, effective) }
        if columns.tallies {
            tallyCommitments(reader, columns, line: lineID, day: day, billed: micros, effective: effective, isUsage: category == 0,
                             file: file, row: line)
        }
        if category == 0 {  // Usage
            let index = Int(lineID)
            if day > export.lastUsageDay[index] {
                export.lastUsageDay[index] = day
                export.lastUsage[index] = micros
                export.lastEffective[index] = effective
            } else if day == export.lastUsageDay[index] {
                export.lastUsage[index] &+= micros
                export.lastEffective[index] &+= effective
            }
        }
    }

    /// The line of this row when it is the one that followed the previous row's line last
    /// time: exports list the same resources in the same order day after day, so this
    /// mostly holds and saves hashing the resource ID and service. nil when it does not
    /// hold (or cannot be checked cheaply).
    @inline(__always)
    package func predictedLine<S>(_ reader: CSVReader<S>, _ columns: Columns, currency: Int32) -> Int32? {
        guard previousLine >= 0, columns.resourceID >= 0, columns.service >= 0 else { return nil }
        let line = successor[Int(previousLine)]
        guard line >= 0, lineCurrency[Int(line)] == currency,
              !isEmpty(reader, columns.resourceID), !isEmpty(reader, columns.service),
              reader.withField(columns.resourceID, { resourceIDs.holds(export.lineEntry[Int(line)], $0) }),
              reader.withField(columns.service, { services.holds(lineService[Int(line)], $0) }) else { return nil }
        return line
    }

    /// The line of this row by its resource, service and (canonical) currency, added when new.
    package mutating func internLine<S>(_ reader: CSVReader<S>, _ columns: Columns, currency: Int32, category: Int) -> Int32 {
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
                    account: text(reader, columns.account), tags: tags(reader, columns.tags), hostProvider: text(reader, columns.hostProvider)))
            }
        }
        return line(resource: resource, service: service, currency: currency)
    }

    /// Keeps the bytes of the fields that describe a new resource (a later part).
    package mutating func describe<S>(_ reader: CSVReader<S>, _ columns: Columns) {
        for field in Describing.allCases {
            let column = switch field {
            case .name: columns.resourceName
            case .provider: columns.provider
            case .type: columns.resourceType
            case .serviceCategory: columns.serviceCategory
            case .region: columns.region
            case .account: columns.account
            case .tags: columns.tags
            case .hostProvider: columns.hostProvider
            }
            if column >= 0 { reader.withField(column) { describingBytes.append(contentsOf: $0) } }
            describingEnds.append(describingBytes.count)
        }
    }

    /// Resource `index` of a later part as its first row described it: what the first part
    /// makes of the same row.
    package func describedResource(_ index: Int32, id: String) -> FocusExport.Resource {
        let width = Describing.allCases.count
        func text(_ field: Describing) -> String {
            let position = Int(index) * width + field.rawValue
            let start = position == 0 ? 0 : describingEnds[position - 1]
            return String(decoding: describingBytes[start..<describingEnds[position]], as: UTF8.self)
        }
        return FocusExport.Resource(
            id: id, name: text(.name), kind: .init(provider: text(.provider), type: text(.type), serviceCategory: text(.serviceCategory), fallback: fallbackProvider),
            region: text(.region), account: text(.account), tags: FocusTags.parse(text(.tags)), hostProvider: text(.hostProvider))
    }

    /// The kind of the row's resource, derived once per distinct provider, type and service
    /// category (at 100,000 resources, lower-casing and looking up each took 35 ms a thread).
    package mutating func kind<S>(_ reader: CSVReader<S>, _ columns: Columns) -> FocusExport.Resource.Kind {
        func interned(_ column: Int) -> UInt64 {
            column < 0 ? 0 : UInt64(reader.withField(column) { kindTexts.intern($0) }) + 1
        }
        let key = interned(columns.provider) << 42 | interned(columns.resourceType) << 21 | interned(columns.serviceCategory)
        // A key is exact while each text's number (its index + 1) fits its 21 bits.
        let exact = kindTexts.count < 1 << 21
        if exact, let known = kinds[key] { return known }
        let kind = FocusExport.Resource.Kind(provider: text(reader, columns.provider), type: text(reader, columns.resourceType),
                                             serviceCategory: text(reader, columns.serviceCategory), fallback: fallbackProvider)
        if exact { kinds[key] = kind }
        return kind
    }

    /// The row's tags, each distinct text parsed once.
    package mutating func tags<S>(_ reader: CSVReader<S>, _ column: Int) -> [String: String] {
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
    package mutating func line(resource: Int32, service: Int32, currency: Int32) -> Int32 {
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

    package mutating func appendLine(resource: Int32, service: Int32, currency: Int32) {
        export.lastUsageDay.append(Int32.min)
        export.lastUsage.append(0)
        export.lastEffective.append(0)
        export.lineEntry.append(resource)
        lineService.append(service)
        lineCurrency.append(currency)
        successor.append(-1)
    }

    /// The rows sorted by day and line.
    package mutating func finish() -> FocusExport {
        sums.moveRows(into: &export.costs)
        if hasEffectiveCost { export.effectiveDays = FocusExport.scopeDays(effectiveSums, lines: export.costs.lines) }
        export.commitments = commitmentLedger()
        export.tallyOverflow = tallyOverflow
        return export
    }
}
