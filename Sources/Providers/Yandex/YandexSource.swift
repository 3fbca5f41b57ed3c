import AsyncHTTPClient
import CostModel
import Foundation
import Ingest
import SourceKit
import Synchronization

/// `type: yandex`: cost from the detailed billing export (the export bucket's CSV files in a
/// local directory, re-read when they change, since Yandex rewrites a day's file for a month),
/// the billing account's balance, and Compute instances of the configured folders for
/// inventory. Authenticates with a service-account authorised key (PS256 JWT → IAM token).
package final class YandexSource: Source {
    struct Settings: SourceSettings {
        var key: Secret
        var billingAccountID: String
        var exportDirectory: String
        var folderIDs: [String]
        var iamURL: String
        var billingURL: String
        var computeURL: String
    }

    package static let kind = SourceKind(
        settingKeys: ["key_file", "key_env", "billing_account_id", "billing_export", "folder_ids", "base_url"],
        readSettings: { fields, reader in
            let key = reader.secret(fields, "key")
            if key == nil && fields["key_file"] == nil && fields["key_env"] == nil {
                reader.fail(at: fields.node, fields.path("key_file"), "one of key_file or key_env is required (a service-account authorised key)")
            }
            if reader.required(fields, "billing_account_id") == nil || reader.required(fields, "billing_export") == nil {
                return Settings(key: Secret(""), billingAccountID: "", exportDirectory: "", folderIDs: [], iamURL: "", billingURL: "", computeURL: "")
            }
            let directory = reader.string(fields, "billing_export") ?? ""
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
                reader.fail(at: fields["billing_export"], fields.path("billing_export"), "\(directory) is not a directory")
            }
            let base = reader.credentialURL(fields, "base_url").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            return Settings(
                key: key ?? Secret(""), billingAccountID: reader.string(fields, "billing_account_id") ?? "", exportDirectory: directory,
                folderIDs: reader.sequence(fields, "folder_ids").compactMap { $0.scalar?.string },
                iamURL: (base ?? "https://iam.api.cloud.yandex.net") + "/iam/v1/tokens",
                billingURL: (base ?? "https://billing.api.cloud.yandex.net") + "/billing/v1/billingAccounts",
                computeURL: (base ?? "https://compute.api.cloud.yandex.net") + "/compute/v1/instances")
        },
        make: { config in
            let settings = config.settings as? Settings
                ?? Settings(key: Secret(""), billingAccountID: "", exportDirectory: "", folderIDs: [], iamURL: "", billingURL: "", computeURL: "")
            return YandexSource(settings: settings, http: ProviderClient(timeout: config.timeout, retries: config.retries, source: "yandex"))
        }
    )

    let settings: Settings
    let http: ProviderClient
    private let iam = Mutex<YandexIAM?>(nil)
    private let files = FileCache<YandexExportFile>()
    package var provider: String { "yandex" }
    package var retriesRequests: Bool { true }

    init(settings: Settings, http: ProviderClient) {
        self.settings = settings
        self.http = http
    }

    package func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        var snapshot = SourceSnapshot()
        var failures = EndpointFailures()        // The export is the cost; without it nothing is committed and the last good data stays.
        try exportFiles(into: &snapshot, window: window)
        var token: String?
        try await failures.attempt { token = try await bearer(now: window.now) }
        if let token {
            try await failures.attempt { try await balance(token: token, into: &snapshot) }
            snapshot.inventoriedTypes = settings.folderIDs.isEmpty ? [] : ["server"]
            for folder in settings.folderIDs {
                try await failures.attempt { try await instances(folder: folder, token: token, into: &snapshot, window: window) }
            }
            if failures.all.contains(where: { $0.endpoint.hasPrefix("compute") }) { snapshot.inventoriedTypes = [] }
        }
        snapshot.endpointFailures = failures.all
        return snapshot
    }

    private func bearer(now: Date) async throws -> String {
        let client = try iam.withLock { client in
            if let client { return client }
            let created = try YandexIAM(keyJSON: settings.key.value, url: settings.iamURL, http: http)
            client = created
            return created
        }
        return try await client.bearer(now: now)
    }

    private func get(_ url: String, token: String, endpoint: String) async throws -> ProviderClient.Response {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        return try await http.send(request, endpoint: endpoint)
    }

    private func balance(token: String, into snapshot: inout SourceSnapshot) async throws {
        typealias Account = YandexModels.Account
        let response = try await get("\(settings.billingURL)/\(settings.billingAccountID)", token: token, endpoint: "billing_account")
        let account = try http.decode(Account.self, from: response, endpoint: "billing_account")
        guard let balance = account.balance?.value else {
            throw SyncFailure(endpoint: "billing_account", reason: "refused", message: "billing_account: no balance (does the service account have billing.accounts.viewer?)")
        }
        snapshot.accounts.append(AccountBalance(provider: provider, account: settings.billingAccountID,
                                                balance: Money(balance, Currency(account.currency ?? "RUB"))))
    }

    private func instances(folder: String, token: String, into snapshot: inout SourceSnapshot, window: CollectionWindow) async throws {
        typealias Page = YandexModels.Page
        var pageToken = ""
        repeat {
            let url = "\(settings.computeURL)?folderId=\(URLQuery.escape(folder))&pageSize=1000"
                + (pageToken.isEmpty ? "" : "&pageToken=\(URLQuery.escape(pageToken))")
            let page = try http.decode(Page.self, from: try await get(url, token: token, endpoint: "compute/\(folder)"), endpoint: "compute/\(folder)")
            for instance in page.instances ?? [] {
                let cores = instance.resources?.cores?.value ?? 0
                let gib = (instance.resources?.memory?.value ?? 0) / 1_073_741_824
                snapshot.inventory.append(InventoryItem(
                    provider: provider, resourceID: instance.id, name: instance.name ?? instance.id, resourceType: "server",
                    region: instance.zoneId ?? "", status: instance.status ?? "",
                    flavor: "\(instance.platformId ?? "")/\(cores.plainString)vCPU/\(gib.plainString)GiB",
                    createdAt: instance.createdAt.flatMap(DateText.iso8601) ?? window.now, tags: CredentialKeys.dropCredentials(instance.labels ?? [:])))
            }
            pageToken = page.nextPageToken ?? ""
        } while !pageToken.isEmpty
    }

    private func exportFiles(into snapshot: inout SourceSnapshot, window: CollectionWindow) throws {
        let directory = URL(fileURLWithPath: settings.exportDirectory)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".csv") || $0.hasSuffix(".csv.gz") }.sorted()
        guard !names.isEmpty else {
            throw SyncFailure(endpoint: "billing_export", reason: "no_files", message: "no .csv files in \(settings.exportDirectory)")
        }
        let read = try files.parse(names.map { directory.appendingPathComponent($0).path }) {
            try YandexExportFile.read(path: $0)
        }
        let merged = YandexExportFile.snapshot(of: read, account: settings.billingAccountID)
        snapshot.billing = merged.billing
        snapshot.dailyCosts = merged.dailyCosts
        snapshot.unclassifiedLineItems = merged.unclassifiedLineItems
        snapshot.endpointFailures += merged.endpointFailures
    }
}

/// One file of the detailed billing export: net cost (cost + credit) per day, resource and
/// service. A row's `date` is a calendar day of Yandex's billing (Moscow time), and it is filed
/// under that same date whatever the reporting zone: the day it is dated is the day it counts
/// for (docs/providers/yandex.md).
package struct YandexExportFile: Sendable {
    struct Key: Hashable, Sendable {
        var day: LocalDay
        var resourceID: String
        var service: String
        var currency: Currency
    }

    var daily: [Key: Decimal] = [:]
    var tags: [String: [String: String]] = [:]
    var badRows: [BadRow] = []

    static let required = ["date", "currency", "cost", "service_name"]

    static func read(path: String) throws -> YandexExportFile {
        var file = YandexExportFile()
        let name = URL(fileURLWithPath: path).lastPathComponent
        let reader = path.hasSuffix(".gz") ? AnyCSVReader(CSVReader(try ReadAheadChunks.gzipFile(path: path, name: name), file: name))
                                           : AnyCSVReader(CSVReader(try FileChunks(path: path), file: name))
        guard let header = try reader.next()?.fields else { return file }
        let column = Dictionary(header.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let missing = required.filter { column[$0] == nil }
        guard missing.isEmpty else {
            throw SyncFailure(endpoint: "billing_export", reason: "bad_file", message: "\(name):1: missing columns \(missing.joined(separator: ", "))")
        }
        let labels = header.enumerated().filter { $0.element.hasPrefix("label.user_labels.") }
        while true {
            let record: (line: Int, fields: [String])
            do {
                guard let next = try reader.next() else { break }
                record = next
            } catch let error as CSVError {
                file.badRows.append(.init(file: name, line: error.line, reason: error.message))
                break
            }
            let fields = record.fields
            func field(_ key: String) -> String { column[key].flatMap { $0 < fields.count ? fields[$0] : nil } ?? "" }
            guard fields.count == header.count, let cost = Decimal.exact(field("cost")),
                  let day = LocalDay(field("date")) else {
                file.badRows.append(.init(file: name, line: record.line, reason: "cost \"\(field("cost"))\" or date \"\(field("date"))\" unreadable, or \(fields.count) fields for \(header.count) columns"))
                continue
            }
            let credit = Decimal.exact(field("credit")) ?? 0
            let service = field("service_name")
            let resource = field("resource_id").isEmpty ? "\(field("service_id"))|\(field("folder_id"))" : field("resource_id")
            file.daily[Key(day: day, resourceID: resource, service: service, currency: Currency(field("currency"))), default: 0] += cost + credit
            if !labels.isEmpty {
                var resourceTags: [String: String] = [:]
                for (index, label) in labels where index < fields.count && !fields[index].isEmpty {
                    let key = String(label.dropFirst("label.user_labels.".count))
                    if !CredentialKeys.namesCredential(key) { resourceTags[key] = fields[index] }
                }
                if !resourceTags.isEmpty { file.tags[resource] = resourceTags }
            }
        }
        return file
    }

    /// Daily costs of every file, and a run rate from each resource's latest day.
    static func snapshot(of files: [YandexExportFile], account: String) -> SourceSnapshot {
        var snapshot = SourceSnapshot()
        var daily: [Key: Decimal] = [:]
        for file in files { daily.merge(file.daily, uniquingKeysWith: { _, newer in newer }) }
        for (key, amount) in daily.sorted(by: { ($0.key.day, $0.key.resourceID) < ($1.key.day, $1.key.resourceID) }) {
            let entry = Taxonomy.lookup(provider: "yandex", service: key.service)
            snapshot.dailyCosts.append(DailyCost(day: key.day, provider: "yandex", resourceID: key.resourceID, service: key.service,
                                                 category: entry?.category ?? .other, account: account, cost: Money(amount, key.currency)))
        }
        if let lastDay = daily.keys.map(\.day).max() {
            for (key, amount) in daily where key.day == lastDay {
                let entry = Taxonomy.lookup(provider: "yandex", service: key.service)
                if entry == nil { snapshot.unclassifiedLineItems += 1 }
                snapshot.billing.append(BillingLineItem(
                    provider: "yandex", resourceID: key.resourceID, resourceName: key.resourceID, resourceType: entry?.resourceType ?? "other",
                    service: key.service, category: entry?.category ?? .other, region: "", account: account,
                    rate: Rate(Money(amount, key.currency), per: .daily)))
            }
            snapshot.billing.sort { $0.resourceID < $1.resourceID }
        }
        snapshot.endpointFailures = files.flatMap { $0.badRows.map { SyncFailure(endpoint: "billing_export", reason: "bad_row", message: $0.description) } }
        return snapshot
    }
}

/// A CSV reader over either kind of chunks.
struct AnyCSVReader {
    private let nextRecord: () throws -> (line: Int, fields: [String])?
    init<Source: ByteChunks>(_ reader: CSVReader<Source>) {
        var reader = reader
        nextRecord = { try reader.next() }
    }
    func next() throws -> (line: Int, fields: [String])? { try nextRecord() }
}

/// Compute and billing answers, only the fields the exporter reads (at file scope so that the
/// fuzz targets can decode them).
package enum YandexModels {
    struct Account: Decodable { var currency: String?; var balance: FlexibleDecimal? }

    struct Page: Decodable {
        struct Instance: Decodable {
            struct Resources: Decodable { var memory: FlexibleDecimal?; var cores: FlexibleDecimal? }
            var id: String
            var name: String?
            var status: String?
            var zoneId: String?
            var platformId: String?
            var createdAt: String?
            var labels: [String: String]?
            var resources: Resources?
        }
        var instances: [Instance]?
        var nextPageToken: String?
    }
}
