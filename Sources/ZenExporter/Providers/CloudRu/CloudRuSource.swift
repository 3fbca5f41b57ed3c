import AsyncHTTPClient
import CostModel
import Foundation
import NIOCore

/// `type: cloudru`: Cloud.ru Evolution. Cost from `/v1/consumption` (daily rows per resource
/// and SKU, in roubles), fetched in whole calendar days and paged; a row the provider restates
/// (a newer `updated_dt` for the same day, resource and SKU) replaces the older one, and since
/// every sync asks for the whole history window again, a restated day replaces the stored one.
/// Inventory: each project's VMs, their disks from each VM's detail (the disks list can answer
/// 403 to a service account), and floating IPs. An access key (key ID and secret) is exchanged
/// for a bearer token, re-issued when it expires or is refused. Facts and unknowns:
/// PROVIDERS.md §5 and docs/providers/cloudru.md.
struct CloudRuSource: Source {
    struct Settings: SourceSettings {
        enum VAT: String, Sendable { case exclude, include }
        var keyID: Secret
        var keySecret: Secret
        var agreementID: String
        var projectIDs: [String]
        var vat: VAT = .exclude
        var iamURL: String
        var billingURL: String
        var computeURL: String
        var pageSize = 1000

        /// Two sources on one agreement would each count all of its spend.
        var exclusiveAccount: String? { agreementID.isEmpty ? nil : agreementID }
    }

    static let kind = SourceKind(
        settingKeys: ["key_id_env", "key_id_file", "key_secret_env", "key_secret_file", "agreement_id", "project_ids", "vat", "base_url", "page_size"],
        readSettings: { fields, reader in
            let keyID = reader.secret(fields, "key_id"), keySecret = reader.secret(fields, "key_secret")
            if keyID == nil && fields["key_id_env"] == nil && fields["key_id_file"] == nil {
                reader.fail(at: fields.node, fields.path("key_id_env"), "one of key_id_env or key_id_file is required (the access key's ID)")
            }
            if keySecret == nil && fields["key_secret_env"] == nil && fields["key_secret_file"] == nil {
                reader.fail(at: fields.node, fields.path("key_secret_env"), "one of key_secret_env or key_secret_file is required (the access key's secret)")
            }
            let agreement = reader.string(fields, "agreement_id") ?? ""
            let projects = reader.sequence(fields, "project_ids").compactMap { $0.scalar?.string }.filter { !$0.isEmpty }
            if agreement.isEmpty && projects.isEmpty {
                reader.fail(at: fields.node, fields.path("agreement_id"), "give agreement_id (the whole agreement) or project_ids (those projects)")
            }
            let base = reader.credentialURL(fields, "base_url").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            return Settings(
                keyID: keyID ?? Secret(""), keySecret: keySecret ?? Secret(""), agreementID: agreement, projectIDs: projects,
                vat: reader.oneOf(fields, "vat", ["exclude", "include"]).flatMap(Settings.VAT.init(rawValue:)) ?? .exclude,
                iamURL: base ?? "https://iam.api.cloud.ru", billingURL: base ?? "https://organization.api.cloud.ru",
                computeURL: base ?? "https://compute.api.cloud.ru", pageSize: reader.int(fields, "page_size", range: 1...25_000) ?? 1000)
        },
        make: { config in
            let settings = config.settings as? Settings
                ?? Settings(keyID: Secret(""), keySecret: Secret(""), agreementID: "", projectIDs: [], iamURL: "", billingURL: "", computeURL: "")
            return CloudRuSource(settings: settings, http: ProviderClient(timeout: config.timeout, retries: config.retries, source: "cloudru"))
        }
    )

    let settings: Settings
    let http: ProviderClient
    let token: CloudRuToken
    var provider: String { "cloudru" }
    var retriesRequests: Bool { true }
    static let moscow = TimeZone(identifier: "Europe/Moscow") ?? .current

    init(settings: Settings, http: ProviderClient) {
        self.settings = settings
        self.http = http
        token = CloudRuToken(url: "\(settings.iamURL)/api/v1/auth/token", keyID: settings.keyID, secret: settings.keySecret, http: http)
    }

    /// The `account` label: the agreement, or the projects read.
    var account: String { settings.agreementID.isEmpty ? settings.projectIDs.joined(separator: ",") : settings.agreementID }

    func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        var snapshot = SourceSnapshot()
        var failures = EndpointFailures()
        // Consumption is the cost: without it nothing is committed and the last good data stays.
        let rows = try await consumption(window: window)
        var inventoryRead = !settings.projectIDs.isEmpty
        for project in settings.projectIDs {
            var vms: [CloudRu.VM] = []
            let listed = try await failures.attempt { vms = try await self.vms(project: project) }
            inventoryRead = inventoryRead && listed
            let disks = try await disks(of: vms, project: project, failures: &failures)
            add(vms, disks: disks, project: project, to: &snapshot, window: window)
            try await failures.attempt { try await floatingIPs(project: project, into: &snapshot, window: window) }
        }
        // Only a complete list of VMs can prove a billed one missing; disks come from VM details
        // and cannot (an unattached disk is in no VM's detail).
        snapshot.inventoriedTypes = inventoryRead ? ["server"] : []
        let inventory = snapshot.inventory
        CloudRuBilling(provider: provider, account: account, vat: settings.vat)
            .fill(&snapshot, rows: rows, inventory: inventory)
        snapshot.endpointFailures = failures.all
        return snapshot
    }

    // MARK: Requests

    /// GET with the bearer token; a 401 re-issues the token once (it expired early).
    func get(_ url: String, endpoint: String, accept: Set<Int> = []) async throws -> ProviderClient.Response {
        for attempt in 0..<2 {
            let bearer = try await token.value()
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await http.send(request, endpoint: endpoint, accept: accept.union([401]))
            if response.status != 401 { return response }
            if attempt == 0 { await token.invalidate(bearer) }
        }
        throw SyncFailure(endpoint: endpoint, reason: "http_401", message: "\(endpoint): token refused twice")
    }

    /// Whole calendar days (Moscow, as the console counts them) from `historyDays` ago through
    /// today, page after page until a page comes back short.
    func consumption(window: CollectionWindow) async throws -> [CloudRu.Consumption.Row] {
        let endpoint = "consumption"
        let today = LocalDay(window.now, in: Self.moscow)
        let first = today.adding(days: -max(1, window.historyDays))
        var scope = settings.agreementID.isEmpty
            ? settings.projectIDs.map { "project_ids=\(Self.escape($0))" }.joined(separator: "&")
            : "agreement_id=\(Self.escape(settings.agreementID))"
        scope += "&start_date=\(first)T00:00:00Z&end_date=\(today)T23:59:59Z"
        var rows: [CloudRu.Consumption.Row] = []
        for page in 1...10_000 {
            let url = "\(settings.billingURL)/v1/consumption?\(scope)&page_filter.page=\(page)&page_filter.limit=\(settings.pageSize)"
            let body = try http.decode(CloudRu.Consumption.self, from: try await get(url, endpoint: endpoint), endpoint: endpoint)
            rows += body.consumptions ?? []
            if (body.consumptions?.count ?? 0) < settings.pageSize { break }
        }
        return rows
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// The project's VMs, `limit`/`offset` paged.
    private func vms(project: String) async throws -> [CloudRu.VM] {
        let endpoint = "compute/vms"
        var offset = 0
        var vms: [CloudRu.VM] = []
        for _ in 0..<1000 {
            let url = "\(settings.computeURL)/api/v1/vms?project_id=\(Self.escape(project))&limit=\(settings.pageSize)&offset=\(offset)"
            let page = try http.decode(CloudRu.Page<CloudRu.VM>.self, from: try await get(url, endpoint: endpoint), endpoint: endpoint)
            vms += page.items
            offset += page.items.count
            if page.items.count < settings.pageSize || page.total.map({ offset >= $0 }) == true { break }
        }
        return vms
    }

    /// VM details in flight at once: one request per VM, since the disks list can answer 403.
    static let detailConcurrency = 8

    /// Each VM's disks, from its detail, a few VMs at a time. A detail that fails is counted
    /// (`compute/vm`) and leaves that VM without disks; the VM itself stays listed.
    private func disks(of vms: [CloudRu.VM], project: String, failures: inout EndpointFailures) async throws -> [String: [CloudRu.VM.Disk]] {
        typealias Answer = (id: String, result: Result<[CloudRu.VM.Disk], SyncFailure>)
        let endpoint = "compute/vm"
        let (disks, failed) = try await withThrowingTaskGroup(of: Answer.self) { group in
            var next = 0
            func launch(_ group: inout ThrowingTaskGroup<Answer, any Error>) {
                guard next < vms.count else { return }
                let id = vms[next].id
                next += 1
                group.addTask {
                    let url = "\(settings.computeURL)/api/v1/vms/\(Self.escape(id))?project_id=\(Self.escape(project))"
                    do {
                        let detail = try http.decode(CloudRu.VM.self, from: try await get(url, endpoint: endpoint), endpoint: endpoint)
                        return (id, .success(detail.disks ?? []))
                    } catch let failure as SyncFailure {
                        return (id, .failure(SyncFailure(endpoint: failure.endpoint, reason: failure.reason, message: "VM \(id): \(failure.message)")))
                    }
                }
            }
            for _ in 0..<Self.detailConcurrency { launch(&group) }
            var disks: [String: [CloudRu.VM.Disk]] = [:]
            var failed: [SyncFailure] = []
            while let answer = try await group.next() {
                switch answer.result {
                case let .success(found): disks[answer.id] = found
                case let .failure(failure): failed.append(failure)
                }
                launch(&group)
            }
            return (disks, failed)
        }
        for failure in failed.sorted(by: { $0.message < $1.message }) { try await failures.attempt { throw failure } }
        return disks
    }

    private func add(_ vms: [CloudRu.VM], disks: [String: [CloudRu.VM.Disk]], project: String, to snapshot: inout SourceSnapshot,
                     window: CollectionWindow) {
        let dates = ISO8601Dates()
        for vm in vms {
            let zone = vm.availability_zone?.name ?? ""
            let created = vm.created_at.flatMap(dates.date) ?? window.now
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: vm.id, name: vm.name ?? vm.id, resourceType: "server", region: zone,
                status: (vm.state ?? vm.status ?? "").uppercased(), flavor: vm.flavor?.name ?? "", createdAt: created, project: project))
            for disk in disks[vm.id] ?? [] {
                snapshot.inventory.append(InventoryItem(
                    provider: provider, resourceID: disk.id, name: disk.name ?? disk.id, resourceType: "volume", region: zone,
                    status: "IN-USE", flavor: "\(disk.disk_type?.name ?? "").\(disk.size ?? 0)GB", attachedTo: vm.id, createdAt: created,
                    project: project))
            }
        }
    }

    /// Floating IPs; one with no interface is `DOWN`, an address paid for and unused.
    private func floatingIPs(project: String, into snapshot: inout SourceSnapshot, window: CollectionWindow) async throws {
        let endpoint = "compute/floating_ips"
        let url = "\(settings.computeURL)/api/v1/floating-ips?project_id=\(Self.escape(project))&limit=\(settings.pageSize)"
        let page = try http.decode(CloudRu.Page<CloudRu.FloatingIP>.self, from: try await get(url, endpoint: endpoint), endpoint: endpoint)
        let dates = ISO8601Dates()
        for address in page.items {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: address.id, name: address.ip_address ?? address.id, resourceType: "ip", region: "",
                status: address.interface == nil ? "DOWN" : "ACTIVE", createdAt: address.created_at.flatMap(dates.date) ?? window.now,
                project: project))
        }
    }
}

/// Consumption rows → daily costs and run rates.
struct CloudRuBilling: Sendable {
    var provider: String
    var account: String
    var vat: CloudRuSource.Settings.VAT

    struct RowKey: Hashable {
        var day: String
        var resource: String
        var sku: String
    }

    struct CostKey: Hashable {
        var day: LocalDay
        var resourceID: String
        var service: String
    }

    /// The latest version of each day × resource × SKU (restated rows carry a newer
    /// `updated_dt`), summed per day, resource and service; each resource's rate is its
    /// latest day. A row's resource ID that is an inventory item's name becomes its ID.
    func fill(_ snapshot: inout SourceSnapshot, rows: [CloudRu.Consumption.Row], inventory: [InventoryItem]) {
        let dates = ISO8601Dates()
        var latest: [RowKey: CloudRu.Consumption.Row] = [:]
        for row in rows {
            let key = RowKey(day: row.usedate ?? "", resource: row.resource_id ?? "", sku: row.sku ?? "")
            if let known = latest[key],
               (known.updated_dt.flatMap(dates.date) ?? .distantPast) > (row.updated_dt.flatMap(dates.date) ?? .distantPast) { continue }
            latest[key] = row
        }
        let ids = Set(inventory.map(\.resourceID))
        let byName = Dictionary(inventory.map { ($0.name, $0.resourceID) }, uniquingKeysWith: { first, _ in first })
        var daily: [CostKey: Decimal] = [:]
        var names: [String: String] = [:]
        var bad = 0
        for row in latest.values {
            // A Moscow calendar day, filed under its own date in any reporting zone.
            guard let day = LocalDay(String((row.usedate ?? "").prefix(10))), let amount = row.amount?.value else {
                bad += 1
                continue
            }
            let raw = row.resource_id ?? ""
            let resource = raw.isEmpty ? "\(row.servname ?? "")|\(row.sku ?? "")" : ids.contains(raw) ? raw : byName[raw] ?? raw
            let cost = vat == .include ? row.amount_nds?.value ?? amount : amount
            daily[CostKey(day: day, resourceID: resource, service: row.servname ?? ""), default: 0] += cost
            names[resource] = row.resource_name ?? names[resource]
        }
        if bad > 0 {
            snapshot.endpointFailures.append(SyncFailure(endpoint: "consumption", reason: "bad_row",
                                                         message: "consumption: \(bad) rows without a usedate or amount were skipped"))
        }
        for (key, amount) in daily.sorted(by: { ($0.key.day, $0.key.resourceID, $0.key.service) < ($1.key.day, $1.key.resourceID, $1.key.service) }) {
            let entry = Taxonomy.lookup(provider: provider, service: key.service)
            snapshot.dailyCosts.append(DailyCost(day: key.day, provider: provider, resourceID: key.resourceID, service: key.service,
                                                 category: entry?.category ?? .other, account: account, cost: Money(amount, .rub)))
        }
        // Each resource's latest billed day is its run rate.
        var last: [String: LocalDay] = [:]
        for key in daily.keys { last[key.resourceID] = max(last[key.resourceID] ?? key.day, key.day) }
        for (key, amount) in daily.sorted(by: { ($0.key.resourceID, $0.key.service) < ($1.key.resourceID, $1.key.service) }) where last[key.resourceID] == key.day {
            let entry = Taxonomy.lookup(provider: provider, service: key.service)
            if entry == nil { snapshot.unclassifiedLineItems += 1 }
            snapshot.billing.append(BillingLineItem(
                provider: provider, resourceID: key.resourceID, resourceName: names[key.resourceID] ?? key.resourceID,
                resourceType: entry?.resourceType ?? "other", service: key.service, category: entry?.category ?? .other, region: "",
                account: account, rate: Rate(Money(amount, .rub), per: .daily)))
        }
    }
}

/// A bearer token from an access key (`POST /api/v1/auth/token`), kept until five minutes
/// before it expires (`expires_in`, else an assumed hour) or until a service refuses it.
/// Concurrent callers (VM details in flight) share one issuance.
actor CloudRuToken {
    private let url: String
    private let keyID: Secret
    private let secret: Secret
    private let http: ProviderClient
    private var current: (value: String, expires: Date)?
    /// Callers waiting for the issuance under way (nil when none is).
    private var waiting: [CheckedContinuation<String, any Error>]?

    init(url: String, keyID: Secret, secret: Secret, http: ProviderClient) {
        self.url = url
        self.keyID = keyID
        self.secret = secret
        self.http = http
    }

    func value(now: Date = Date()) async throws -> String {
        if let current, current.expires.timeIntervalSince(now) > 300 { return current.value }
        if waiting != nil {
            return try await withCheckedThrowingContinuation { waiting?.append($0) }
        }
        waiting = []
        let result: Result<String, any Error>
        do { result = .success(try await issue(now: now)) } catch { result = .failure(error) }
        let waiters = waiting ?? []
        waiting = nil
        for waiter in waiters { waiter.resume(with: result) }
        return try result.get()
    }

    private func issue(now: Date) async throws -> String {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["keyId": keyID.value, "secret": secret.value])))
        let answer = try http.decode(CloudRu.Token.self, from: try await http.send(request, endpoint: "iam"), endpoint: "iam")
        guard let value = answer.access_token, !value.isEmpty else {
            throw SyncFailure(endpoint: "iam", reason: "refused", message: "iam: no access_token in the answer")
        }
        current = (value, now.addingTimeInterval(Double(answer.expires_in ?? 3600)))
        return value
    }

    /// Forgets `refused` unless a newer token has replaced it already.
    func invalidate(_ refused: String) {
        if current?.value == refused { current = nil }
    }
}

/// Cloud.ru answers, only the fields the exporter reads. The consumption row is as observed by
/// integrators (PROVIDERS.md §5.2); the compute shapes (`items`, `total`) are assumed.
enum CloudRu {
    struct Token: Decodable {
        var access_token: String?
        var expires_in: Int?
    }

    struct Consumption: Decodable {
        struct Row: Decodable, Sendable {
            var sku: String?
            var servname: String?
            var resource_id: String?
            var resource_name: String?
            var usedate: String?
            var amount: FlexibleDecimal?
            var amount_nds: FlexibleDecimal?
            var updated_dt: String?
        }
        var consumptions: [Row]?
    }

    struct Page<Item: Decodable>: Decodable {
        var items: [Item]
        var total: Int?
    }

    struct Named: Decodable { var name: String? }

    struct VM: Decodable {
        struct Disk: Decodable {
            var id: String
            var name: String?
            var size: Int?
            var disk_type: Named?
        }
        var id: String
        var name: String?
        var state: String?
        var status: String?
        var created_at: String?
        var flavor: Named?
        var availability_zone: Named?
        var disks: [Disk]?
    }

    struct FloatingIP: Decodable {
        struct Interface: Decodable { var id: String? }
        var id: String
        var ip_address: String?
        var interface: Interface?
        var created_at: String?
    }
}
