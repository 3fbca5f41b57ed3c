import AsyncHTTPClient
import CostModel
import Foundation
import NIOCore
import Synchronization

/// `type: selectel`: billing-first. The consumption statistics (kopecks per object and hour,
/// disks and addresses under their VM's `parent_id`) give cost; the balance comes from
/// `/v3/balances`; with a service user, Keystone tokens open Nova, Cinder, Neutron and
/// Gnocchi in every region of the catalog for inventory and utilisation. Each endpoint and
/// region fails alone. Built for thousands of servers: statistics come in windows that fit
/// the body limit (SelectelConsumption.swift), utilisation a few servers at a time and once
/// per `utilization_interval` (SelectelUtilization.swift).
struct SelectelSource: Source {
    struct Settings: SourceSettings {
        var token: Secret
        var username: Secret?
        var password: Secret?
        var accountID: String
        var projectID: String
        /// Regions to read; empty reads every region of the catalog.
        var regions: [String]
        var apiURL: String
        var identityURL: String
        /// How often Gnocchi is asked for each server's utilisation; syncs in between reuse
        /// the last values (see `utilization(of:…)`).
        var utilizationInterval: Duration = .seconds(3600)
        /// Gnocchi requests in flight at once.
        var utilizationConcurrency = 8
    }

    static let kind = SourceKind(
        settingKeys: ["token_env", "token_file", "username_env", "username_file", "password_env", "password_file",
                      "account_id", "project_id", "regions", "base_url", "identity_url", "utilization_interval", "utilization_concurrency"],
        readSettings: { fields, reader in
            let token = reader.secret(fields, "token")
            if token == nil && fields["token_env"] == nil && fields["token_file"] == nil {
                reader.fail(at: fields.node, fields.path("token_env"), "one of token_env or token_file is required (the static X-Token)")
            }
            let username = reader.secret(fields, "username")
            let password = reader.secret(fields, "password")
            let accountID = reader.string(fields, "account_id") ?? ""
            let projectID = reader.string(fields, "project_id") ?? ""
            if username != nil || password != nil {
                for (key, value) in [("account_id", accountID), ("project_id", projectID)] where value.isEmpty {
                    reader.fail(at: fields.node, fields.path(key), "required with a service user (username and password)")
                }
            }
            let base = reader.credentialURL(fields, "base_url").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            return Settings(
                token: token ?? Secret(""), username: username, password: password, accountID: accountID, projectID: projectID,
                regions: reader.sequence(fields, "regions").compactMap { $0.scalar?.string },
                apiURL: base ?? "https://api.selectel.ru",
                identityURL: reader.credentialURL(fields, "identity_url") ?? base.map { "\($0)/identity/v3" } ?? "https://cloud.api.selcloud.ru/identity/v3",
                utilizationInterval: reader.duration(fields, "utilization_interval") ?? .seconds(3600),
                utilizationConcurrency: reader.int(fields, "utilization_concurrency", range: 1...64) ?? 8)
        },
        make: { config in
            let settings = config.settings as? Settings
                ?? Settings(token: Secret(""), accountID: "", projectID: "", regions: [], apiURL: "", identityURL: "")
            return SelectelSource(settings: settings, http: ProviderClient(timeout: config.timeout, retries: config.retries, source: "selectel"))
        }
    )

    let settings: Settings
    let http: ProviderClient
    let session: KeystoneSession?
    /// What one configured source keeps from sync to sync.
    let state = SelectelState()
    var provider: String { "selectel" }
    static let providerKeys = ["vpc", "mks", "dbaas", "craas", "storage"]
    static let moscow = TimeZone(identifier: "Europe/Moscow") ?? .current

    init(settings: Settings, http: ProviderClient) {
        self.settings = settings
        self.http = http
        if let username = settings.username, let password = settings.password {
            session = KeystoneSession(identityURL: settings.identityURL, username: username, password: password,
                                      accountID: settings.accountID, projectID: settings.projectID, http: http)
        } else {
            session = nil
        }
    }

    func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        let started = ContinuousClock.now
        var snapshot = SourceSnapshot()
        var failures = EndpointFailures()
        try await failures.attempt { try await balance(into: &snapshot) }
        // Billing is the truth: without it nothing is committed and the last good data stays.
        try await consumption(into: &snapshot, window: window)
        if let session {
            snapshot.inventoriedTypes = ["server", "volume"]
            var catalog: [String: [String: String]] = [:]
            try await failures.attempt { catalog = try await session.token(now: window.now).catalog }
            var active: [ActiveServer] = []
            var listed: Set<String> = []
            for region in regions(in: catalog) {
                try await failures.attempt {
                    let servers = try await self.servers(region: region, catalog: catalog)
                    add(servers, region: region, to: &snapshot, window: window)
                    active += servers.filter { $0.status == "ACTIVE" }.map { ActiveServer(server: $0, region: region) }
                    listed.insert(region)
                }
                try await failures.attempt { try await volumes(region: region, catalog: catalog, into: &snapshot, window: window) }
                try await failures.attempt { try await ports(region: region, catalog: catalog, into: &snapshot, window: window) }
            }
            snapshot.utilization = try await utilization(of: active, listedRegions: listed, catalog: catalog, window: window,
                                                         started: started, failures: &failures)
            // An inventory that failed cannot prove what is missing: no zombies where it did.
            if failures.all.contains(where: { $0.endpoint == "identity" }) { snapshot.inventoriedTypes = [] }
            for failure in failures.all where failure.endpoint.hasPrefix("nova/") || failure.endpoint.hasPrefix("cinder/") {
                snapshot.uninventoriedRegions.insert(String(failure.endpoint.split(separator: "/").last ?? ""))
            }
        }
        snapshot.endpointFailures = failures.all
        return snapshot
    }

    // MARK: Billing API (static token)

    func get(_ path: String, endpoint: String) async throws -> ProviderClient.Response {
        var request = HTTPClientRequest(url: "\(settings.apiURL)\(path)")
        request.headers.add(name: "X-Token", value: settings.token.value)
        request.headers.add(name: "Accept", value: "application/json")
        return try await http.send(request, endpoint: endpoint)
    }

    private func balance(into snapshot: inout SourceSnapshot) async throws {
        let body = try http.decode(Selectel.Balances.self, from: try await get("/v3/balances", endpoint: "balances"), endpoint: "balances")
        guard let kopecks = body.data?.billings?.first?.final_sum?.value else {
            throw SyncFailure(endpoint: "balances", reason: "bad_json", message: "balances: no data.billings[0].final_sum")
        }
        let currency = Currency((body.data?.settings?.currency ?? body.settings?.currency ?? "rub").uppercased())
        snapshot.accounts.append(AccountBalance(provider: provider, account: settings.accountID, balance: Money(kopecks / 100, currency)))
    }

    /// Billing object types → the service names of the Selectel taxonomy table.
    static func service(of objectType: String, providerKey: String) -> String {
        if objectType.hasPrefix("cloud_vm") { return "Cloud Servers" }
        if objectType.hasPrefix("volume_") { return "Network Volumes" }
        if objectType.hasPrefix("network_floating") { return "Floating IPs" }
        if objectType.hasPrefix("load_balancer") || objectType.hasPrefix("network_load_balancer") { return "Load Balancers" }
        if objectType.hasPrefix("share_") { return "File Storage" }
        if objectType.hasPrefix("dbaas") || providerKey == "dbaas" { return "Managed Databases" }
        if objectType.hasPrefix("mks") || providerKey == "mks" { return "Managed Kubernetes" }
        if objectType.hasPrefix("s3") || providerKey == "storage" { return "Object Storage" }
        return objectType.isEmpty ? providerKey : objectType
    }

    // MARK: OpenStack (project-scoped IAM token)

    private func regions(in catalog: [String: [String: String]]) -> [String] {
        let discovered = Set(catalog["compute"]?.keys.map { $0 } ?? [])
        if discovered.isEmpty { return settings.regions }
        return (settings.regions.isEmpty ? Array(discovered) : settings.regions.filter(discovered.contains)).sorted()
    }

    func url(_ type: String, _ region: String, _ catalog: [String: [String: String]]) -> String {
        catalog[type]?[region] ?? "https://\(region).cloud.api.selcloud.ru/\(["compute": "compute/v2.1", "volumev3": "volume/v3/\(settings.projectID)", "network": "network", "metric": "metric"][type] ?? type)"
    }

    /// GET or POST with the project token; a 401 re-issues the token once (it expired early).
    func openstack(_ url: String, endpoint: String, body: Data? = nil) async throws -> ProviderClient.Response {
        guard let session else { throw SyncFailure(endpoint: endpoint, reason: "config", message: "no service user configured") }
        for attempt in 0..<2 {
            var request = HTTPClientRequest(url: url)
            let token = try await session.token().value
            request.headers.add(name: "X-Auth-Token", value: token)
            request.headers.add(name: "Accept", value: "application/json")
            if let body {
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let response = try await http.send(request, endpoint: endpoint, accept: [401])
            if response.status != 401 { return response }
            if attempt == 0 { await session.invalidate(token) }
        }
        throw SyncFailure(endpoint: endpoint, reason: "http_401", message: "\(endpoint): token refused twice")
    }

    private func servers(region: String, catalog: [String: [String: String]]) async throws -> [Selectel.Servers.Server] {
        var next: String? = "\(url("compute", region, catalog))/servers/detail"
        var all: [Selectel.Servers.Server] = []
        var pages = 0
        while let page = next, pages < 1000 {
            let endpoint = "nova/\(region)"
            let body = try http.decode(Selectel.Servers.self, from: try await openstack(page, endpoint: endpoint), endpoint: endpoint)
            all += body.servers
            next = body.servers.isEmpty ? nil : body.servers_links?.first { $0.rel == "next" }?.href
            pages += 1
        }
        return all
    }

    private func add(_ servers: [Selectel.Servers.Server], region: String, to snapshot: inout SourceSnapshot, window: CollectionWindow) {
        let dates = ISO8601Dates()
        for server in servers {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: server.id, name: server.name ?? server.id, resourceType: "server", region: region,
                status: server.status ?? "", flavor: server.flavor?.original_name ?? "",
                createdAt: server.created.flatMap(dates.date) ?? window.now, tags: CredentialKeys.dropCredentials(server.metadata ?? [:])))
        }
    }

    private func volumes(region: String, catalog: [String: [String: String]], into snapshot: inout SourceSnapshot, window: CollectionWindow) async throws {
        var next: String? = "\(url("volumev3", region, catalog))/volumes/detail"
        var pages = 0
        while let page = next, pages < 1000 {
            let endpoint = "cinder/\(region)"
            let body = try http.decode(Selectel.Volumes.self, from: try await openstack(page, endpoint: endpoint), endpoint: endpoint)
            let dates = ISO8601Dates()
            for volume in body.volumes {
                snapshot.inventory.append(InventoryItem(
                    provider: provider, resourceID: volume.id, name: volume.name ?? volume.id, resourceType: "volume", region: region,
                    status: volume.status ?? "", flavor: volume.volume_type.map { "\($0.split(separator: ".").first ?? "").\(volume.size ?? 0)GB" } ?? "",
                    attachedTo: volume.attachments?.compactMap(\.server_id).first,
                    createdAt: volume.created_at.flatMap { dates.date($0.hasSuffix("Z") ? $0 : $0 + "Z") } ?? window.now))
            }
            next = body.volumes.isEmpty ? nil : body.volumes_links?.first { $0.rel == "next" }?.href
            pages += 1
        }
    }

    /// Ports bound to nothing: addresses paid for and unused.
    private func ports(region: String, catalog: [String: [String: String]], into snapshot: inout SourceSnapshot, window: CollectionWindow) async throws {
        let endpoint = "neutron/\(region)"
        let body = try http.decode(Selectel.Ports.self, from: try await openstack("\(url("network", region, catalog))/v2.0/ports", endpoint: endpoint),
                                   endpoint: endpoint)
        for port in body.ports where port.device_owner == "network:floatingip" || (port.device_id ?? "").isEmpty {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: port.id, name: port.name ?? port.id, resourceType: "ip", region: region,
                status: (port.device_id ?? "").isEmpty ? "DOWN" : (port.status ?? ""), createdAt: window.now))
        }
    }

    // MARK: Time

    /// Selectel's naive timestamps are Moscow wall-clock time.
    func naive(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = Self.moscow
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.string(from: date)
    }

    /// `ru-3b` → `ru-3`.
    static func region(ofZone zone: String) -> String {
        guard let last = zone.last, last.isLetter, zone.dropLast().last?.isNumber == true else { return zone }
        return String(zone.dropLast())
    }
}

/// What a Selectel source keeps between syncs: the statistics window sizes that last fitted
/// the body limit, and the utilisation last read per server.
final class SelectelState: Sendable {
    let spans = Mutex(SelectelSource.StatisticsSpans())
    let utilization = Mutex<[String: SelectelSource.UtilizationEntry]>([:])
}
