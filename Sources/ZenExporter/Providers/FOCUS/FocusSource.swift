import CostModel
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `type: focus`: FinOps Open Cost and Usage Specification (1.0–1.2) CSV exports, plain or
/// gzip, from a glob of files. Files are streamed with constant memory; a file whose size and
/// modification time are unchanged is not read again, a changed (re-exported) one replaces its
/// earlier rows. Bad rows are counted and reported with file:line and never stop the file.
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
    /// What was read of each file, kept between syncs of this process.
    let files = FileCache<FocusFile>()
    var provider: String { "focus" }

    init(settings: Settings) { self.settings = settings }

    func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        let paths = Self.glob(settings.path)
        guard !paths.isEmpty else {
            throw SyncFailure(endpoint: "files", reason: "no_files", message: "no file matches \(settings.path)")
        }
        try Task.checkCancellation()
        let files = try self.files.parse(paths) { try FocusFile.read(path: $0, timeZone: window.reporting.timeZone) }
        return FocusFile.snapshot(of: files)
    }

    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { index in result.gl_pathv[index].map { String(cString: $0) } }.sorted()
    }
}

/// One FOCUS file, aggregated: daily cost per resource and service, the latest day's usage
/// per resource (the run rate), totals per currency and charge category, and its bad rows.
struct FocusFile: Sendable {
    struct Key: Hashable, Sendable {
        var day: LocalDay
        var resourceID: String
        var service: String
        var currency: Currency
    }

    struct Resource: Sendable {
        var provider: String
        var name: String
        var type: String
        var service: String
        var category: CostCategory
        var region: String
        var account: String
        var tags: [String: String]
    }

    struct BadRow: Sendable, Equatable, CustomStringConvertible {
        var file: String
        var line: Int
        var reason: String
        var description: String { "\(file):\(line): \(reason)" }
    }

    var path: String
    var daily: [Key: Decimal] = [:]
    var usageByResourceDay: [Key: Decimal] = [:]
    var resources: [String: Resource] = [:]
    var categories: [String: CostCategory] = [:]
    var totals: [String: Decimal] = [:]  // "<currency>|<ChargeCategory>"
    var badRows: [BadRow] = []
    var badRowCount = 0
    var rows = 0

    static let required = ["BilledCost", "BillingCurrency", "ChargePeriodStart"]
    static let chargeCategories: Set<String> = ["Usage", "Purchase", "Tax", "Credit", "Adjustment"]
    /// Bad rows kept with their reason; beyond this only counted.
    static let keptBadRows = 100

    static func read(path: String, timeZone: TimeZone) throws -> FocusFile {
        var file = FocusFile(path: path)
        let name = URL(fileURLWithPath: path).lastPathComponent
        if path.hasSuffix(".gz") {
            var reader = CSVReader(GzipChunks(try FileChunks(path: path), file: name), file: name)
            try file.ingest(&reader, name: name, timeZone: timeZone)
        } else {
            var reader = CSVReader(try FileChunks(path: path), file: name)
            try file.ingest(&reader, name: name, timeZone: timeZone)
        }
        return file
    }

    private mutating func ingest<Source: ByteChunks>(_ reader: inout CSVReader<Source>, name: String, timeZone: TimeZone) throws {
        let header: [String]
        do {
            guard let first = try reader.next() else { throw CSVError(file: name, line: 1, message: "the file is empty") }
            header = first.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        } catch let error as CSVError {
            throw SyncFailure(endpoint: name, reason: "bad_file", message: "\(name):\(error.line): \(error.message)")
        }
        let column = Dictionary(header.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let missing = Self.required.filter { column[$0] == nil }
        guard missing.isEmpty else {
            throw SyncFailure(endpoint: name, reason: "bad_file", message: "\(name):1: missing FOCUS columns \(missing.joined(separator: ", "))")
        }
        // Exports repeat a handful of period starts millions of times: parse each once.
        var days: [String: LocalDay] = [:]
        func field(_ fields: [String], _ name: String) -> String {
            guard let index = column[name], index < fields.count else { return "" }
            return fields[index]
        }
        while true {
            let record: (line: Int, fields: [String])
            do {
                guard let next = try reader.next() else { break }
                record = next
            } catch let error as CSVError {
                bad(name, error.line, error.message)
                break
            }
            rows += 1
            let fields = record.fields
            guard fields.count == header.count else {
                bad(name, record.line, "\(fields.count) fields where the header has \(header.count)")
                continue
            }
            guard let cost = Decimal.exact(field(fields, "BilledCost")) else {
                bad(name, record.line, "BilledCost \"\(field(fields, "BilledCost"))\" is not a number")
                continue
            }
            let currencyCode = field(fields, "BillingCurrency").uppercased()
            guard currencyCode.count == 3 else {
                bad(name, record.line, "BillingCurrency \"\(currencyCode)\" is not a currency code")
                continue
            }
            let startText = field(fields, "ChargePeriodStart")
            let day: LocalDay
            if let known = days[startText] {
                day = known
            } else if let start = Self.parseTime(startText) {
                day = LocalDay(start, in: timeZone)
                days[startText] = day
            } else {
                bad(name, record.line, "ChargePeriodStart \"\(startText)\" is not an ISO 8601 time")
                continue
            }
            let chargeCategory = field(fields, "ChargeCategory").isEmpty ? "Usage" : field(fields, "ChargeCategory")
            guard Self.chargeCategories.contains(chargeCategory) else {
                bad(name, record.line, "ChargeCategory \"\(chargeCategory)\" is not one of Usage, Purchase, Tax, Credit, Adjustment")
                continue
            }
            let currency = Currency(currencyCode)
            let service = field(fields, "ServiceName").isEmpty ? chargeCategory : field(fields, "ServiceName")
            let account = field(fields, "SubAccountId")
            let resourceID = field(fields, "ResourceId").isEmpty ? "\(service)|\(account)" : field(fields, "ResourceId")
            let key = Key(day: day, resourceID: resourceID, service: service, currency: currency)
            daily[key, default: 0] += cost
            totals["\(currencyCode)|\(chargeCategory)", default: 0] += cost
            if chargeCategory == "Usage" { usageByResourceDay[key, default: 0] += cost }
            if resources[resourceID] == nil {
                let entry = Taxonomy.lookup(provider: "focus", service: field(fields, "ServiceCategory"))
                let provider = field(fields, "ProviderName").lowercased()
                resources[resourceID] = Resource(
                    provider: provider.isEmpty ? "focus" : provider,
                    name: field(fields, "ResourceName").isEmpty ? resourceID : field(fields, "ResourceName"),
                    type: field(fields, "ResourceType").isEmpty ? (entry?.resourceType ?? "other") : field(fields, "ResourceType").lowercased(),
                    service: service, category: entry?.category ?? .other, region: field(fields, "RegionId"), account: account,
                    tags: Self.tags(field(fields, "Tags")))
            }
        }
    }

    private mutating func bad(_ file: String, _ line: Int, _ reason: String) {
        badRowCount += 1
        if badRows.count < Self.keptBadRows { badRows.append(BadRow(file: file, line: line, reason: reason)) }
    }

    static func parseTime(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        // "2026-11-01 00:00:00" (no zone: UTC, as FOCUS requires) and plain dates.
        let plain = DateFormatter()
        plain.locale = Locale(identifier: "en_US_POSIX")
        plain.timeZone = TimeZone(identifier: "UTC")
        for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd"] {
            plain.dateFormat = format
            if let date = plain.date(from: text) { return date }
        }
        return nil
    }

    static func tags(_ json: String) -> [String: String] {
        guard !json.isEmpty, let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [:] }
        return object.reduce(into: [:]) { result, entry in result[entry.key] = "\(entry.value)" }
    }

    /// All files together as one source snapshot. The run rate of a resource is its usage on
    /// the latest day the files cover; resources not billed that day are gone.
    static func snapshot(of files: [FocusFile]) -> SourceSnapshot {
        var snapshot = SourceSnapshot()
        var daily: [Key: Decimal] = [:]
        var usage: [Key: Decimal] = [:]
        var resources: [String: Resource] = [:]
        for file in files {
            daily.merge(file.daily, uniquingKeysWith: +)
            usage.merge(file.usageByResourceDay, uniquingKeysWith: +)
            resources.merge(file.resources, uniquingKeysWith: { first, _ in first })
        }
        for (key, amount) in daily.sorted(by: { ($0.key.day, $0.key.resourceID, $0.key.service) < ($1.key.day, $1.key.resourceID, $1.key.service) }) {
            let resource = resources[key.resourceID]
            snapshot.dailyCosts.append(DailyCost(day: key.day, provider: resource?.provider ?? "focus", resourceID: key.resourceID,
                                                 service: key.service, category: resource?.category ?? .other,
                                                 account: resource?.account ?? "", cost: Money(amount, key.currency)))
        }
        if let lastDay = usage.keys.map(\.day).max() {
            for (key, amount) in usage where key.day == lastDay {
                guard let resource = resources[key.resourceID] else { continue }
                snapshot.billing.append(BillingLineItem(
                    provider: resource.provider, resourceID: key.resourceID, resourceName: resource.name, resourceType: resource.type,
                    service: key.service, category: resource.category, region: resource.region, account: resource.account,
                    rate: Rate(Money(amount, key.currency), per: .daily)))
                snapshot.inventory.append(InventoryItem(
                    provider: resource.provider, resourceID: key.resourceID, name: resource.name, resourceType: resource.type,
                    region: resource.region, status: "ACTIVE", createdAt: lastDay.start(in: TimeZone(identifier: "UTC") ?? .current),
                    tags: resource.tags))
            }
            snapshot.billing.sort { $0.resourceID < $1.resourceID }
        }
        snapshot.unclassifiedLineItems = snapshot.billing.count { $0.category == .other }
        snapshot.endpointFailures = files.flatMap { file in
            file.badRows.map { SyncFailure(endpoint: URL(fileURLWithPath: file.path).lastPathComponent, reason: "bad_row", message: $0.description) }
        }
        return snapshot
    }
}
