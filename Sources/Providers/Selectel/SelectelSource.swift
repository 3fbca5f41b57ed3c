import AsyncHTTPClient
import CostModel
import Foundation
import Ingest
import NIOCore
import ProviderOpenStack
import SourceKit
import Synchronization

/// `type: selectel`: billing-first. The consumption statistics (kopecks per object and hour,
/// disks and addresses under their VM's `parent_id`) give cost; the balance comes from
/// `/v3/balances`; with a service user, one Keystone token per project opens Nova, Cinder,
/// Neutron and Gnocchi in every region of that project's catalog for inventory and
/// utilisation. One source covers one account: the statistics are account-wide and every row
/// names its project, so they are read once and each resource carries its project. Each
/// project, endpoint and region fails alone. Built for thousands of servers: statistics come
/// in windows that fit the body limit (SelectelConsumption.swift), utilisation a few servers
/// at a time and once per `utilization_interval` (OpenStack/OpenStackUtilization.swift).
package struct SelectelSource: Source {
    struct Settings: SourceSettings {
        var token: Secret
        var username: Secret?
        var password: Secret?
        var accountID: String
        /// Projects whose inventory is read (`project_ids`, or the older `project_id`); empty
        /// with a service user: every enabled project of the account, from the projects API.
        var projectIDs: [String]
        /// Regions to read; empty reads every region of the catalog.
        var regions: [String]
        var apiURL: String
        var identityURL: String
        /// How often Gnocchi is asked for each server's utilisation; syncs in between reuse
        /// the last values (see `utilization(of:…)`).
        var utilizationInterval: Duration = .seconds(3600)
        /// Gnocchi requests in flight at once.
        var utilizationConcurrency = 8

        /// Two sources on one account would each count all of its spend.
        var exclusiveAccount: String? { accountID.isEmpty ? nil : accountID }
    }

    package static let kind = SourceKind(
        settingKeys: ["token_env", "token_file", "username_env", "username_file", "password_env", "password_file",
                      "account_id", "project_id", "project_ids", "regions", "base_url", "identity_url", "utilization_interval", "utilization_concurrency"],
        readSettings: { fields, reader in
            let token = reader.secret(fields, "token")
            if token == nil && fields["token_env"] == nil && fields["token_file"] == nil {
                reader.fail(at: fields.node, fields.path("token_env"), "one of token_env or token_file is required (the static X-Token)")
            }
            let username = reader.secret(fields, "username")
            let password = reader.secret(fields, "password")
            let accountID = reader.string(fields, "account_id") ?? ""
            var projectIDs = reader.string(fields, "project_id").map { [$0] } ?? []
            if fields["project_ids"] != nil {
                if !projectIDs.isEmpty {
                    reader.fail(at: fields["project_ids"], fields.path("project_ids"), "give project_id or project_ids, not both")
                }
                let listed = reader.sequence(fields, "project_ids")
                for (index, node) in listed.enumerated() where (node.scalar?.string ?? "").isEmpty {
                    reader.fail(at: node, "\(fields.path("project_ids"))[\(index)]", "expected a project ID (32 hex digits)")
                }
                projectIDs = listed.compactMap { $0.scalar?.string }.filter { !$0.isEmpty }
            }
            projectIDs = projectIDs.reduce(into: []) { unique, id in if !unique.contains(id) { unique.append(id) } }
            if username != nil || password != nil, accountID.isEmpty {
                reader.fail(at: fields.node, fields.path("account_id"), "required with a service user (username and password)")
            }
            let base = reader.credentialURL(fields, "base_url").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            return Settings(
                token: token ?? Secret(""), username: username, password: password, accountID: accountID, projectIDs: projectIDs,
                regions: reader.sequence(fields, "regions").compactMap { $0.scalar?.string },
                apiURL: base ?? "https://api.selectel.ru",
                identityURL: reader.credentialURL(fields, "identity_url") ?? base.map { "\($0)/identity/v3" } ?? "https://cloud.api.selcloud.ru/identity/v3",
                utilizationInterval: reader.duration(fields, "utilization_interval") ?? .seconds(3600),
                utilizationConcurrency: reader.int(fields, "utilization_concurrency", range: 1...64) ?? 8)
        },
        make: { config in
            let settings = config.settings as? Settings
                ?? Settings(token: Secret(""), accountID: "", projectIDs: [], regions: [], apiURL: "", identityURL: "")
            return SelectelSource(settings: settings, http: ProviderClient(timeout: config.timeout, retries: config.retries, source: "selectel"))
        }
    )

    let settings: Settings
    let http: ProviderClient
    /// What one configured source keeps from sync to sync.
    let state = SelectelState()
    package var provider: String { "selectel" }
    package var retriesRequests: Bool { true }
    /// Every provider key the statistics API documents: `provider_keys` is required, and a key
    /// left out is spend never asked for.
    static let providerKeys = ["vpc", "mks", "dbaas", "craas", "storage", "cdn", "serverless", "vmware", "ones", "mobfarm", "ses"]
    /// Provider keys whose rows are one service whatever their object type.
    static let providerServices = ["craas": "Container Registry", "cdn": "CDN", "serverless": "Cloud Functions", "vmware": "VMware Cloud",
                                   "ones": "1C Cloud", "mobfarm": "Mobile Farm", "ses": "SES"]
    static let moscow = TimeZone(identifier: "Europe/Moscow") ?? .current

    init(settings: Settings, http: ProviderClient) {
        self.settings = settings
        self.http = http
    }

    /// Service type → region → public URL, from one project's token.
    typealias Catalog = OpenStackInventory.Catalog

    /// The shared OpenStack inventory layer, with Selectel's service user and its regional hosts
    /// for what a catalog leaves out.
    var openstack: OpenStackInventory {
        let settings = settings, http = http
        return OpenStackInventory(
            provider: provider, http: http,
            options: .init(regions: settings.regions, extras: [.ports], utilizationInterval: settings.utilizationInterval,
                           utilizationConcurrency: settings.utilizationConcurrency),
            state: state.openstack,
            makeSession: { project in
                guard let username = settings.username, let password = settings.password else { return nil }
                return KeystoneSession(identityURL: settings.identityURL, username: username, password: password,
                                       accountID: settings.accountID, projectID: project, http: http)
            },
            fallbackURL: { type, scope in
                let path = ["compute": "compute/v2.1", "volumev3": "volume/v3/\(scope.project)", "network": "network", "metric": "metric"][type]
                return path.map { "https://\(scope.region).cloud.api.selcloud.ru/\($0)" }
            })
    }

    package func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        let started = ContinuousClock.now
        var snapshot = SourceSnapshot()
        var failures = EndpointFailures()
        var reported: Currency?
        try await failures.attempt { reported = try await balance(into: &snapshot) }
        // Billing is the truth: without it nothing is committed and the last good data stays.
        try await consumption(into: &snapshot, window: window, currency: try costCurrency(reported: reported, failures: failures.all))
        if let fallback = state.grouping.withLock({ $0.takeUnreported() }) { try await failures.attempt { throw fallback } }
        if settings.username != nil, settings.password != nil {
            try await inventory(into: &snapshot, window: window, started: started, failures: &failures)
        }
        snapshot.endpointFailures = failures.all
        return snapshot
    }

    /// Inventory and utilisation per project × region (OpenStackInventory): billing is the cost,
    /// the inventory only enriches it and proves billed resources missing.
    private func inventory(into snapshot: inout SourceSnapshot, window: CollectionWindow, started: ContinuousClock.Instant,
                           failures: inout EndpointFailures) async throws {
        let projects = try await projects(failures: &failures)
        _ = try await openstack.read(projects: projects, into: &snapshot, window: window, started: started, failures: &failures)
    }

    /// The configured projects, or every enabled project of the account from the projects API
    /// (static token, else a Keystone token); none when that fails, so that nothing is judged
    /// a zombie.
    private func projects(failures: inout EndpointFailures) async throws -> [String] {
        if !settings.projectIDs.isEmpty { return settings.projectIDs }
        var found: [String] = []
        try await failures.attempt {
            let response: ProviderClient.Response
            do {
                response = try await get("/vpc/resell/v2/projects", endpoint: "projects")
            } catch let refused as SyncFailure where refused.reason == "http_401" || refused.reason == "http_403" {
                response = try await projectsByKeystone(refused: refused)
            }
            found = try http.decode(Selectel.Projects.self, from: response, endpoint: "projects").projects
                .filter { $0.enabled != false }.map(\.id).filter { !$0.isEmpty }.sorted()
        }
        return found
    }

    /// The projects list as Selectel's own SDK reads it: a Keystone token scoped to the
    /// account's domain, at the catalog's `resell` endpoint.
    private func projectsByKeystone(refused: SyncFailure) async throws -> ProviderClient.Response {
        guard let username = settings.username, let password = settings.password else { throw refused }
        let session = KeystoneSession(identityURL: settings.identityURL,
                                      credentials: .domainPassword(username: username, password: password, domain: settings.accountID), http: http)
        let token = try await session.token()
        let regions = token.catalog["resell"] ?? [:]
        guard let base = settings.regions.lazy.compactMap({ regions[$0] }).first ?? regions.sorted(by: { $0.key < $1.key }).first?.value else {
            throw SyncFailure(endpoint: "projects", reason: refused.reason,
                              message: "\(refused.message); the Keystone catalog lists no resell endpoint to ask instead")
        }
        let url = "\(base)/v2/projects"
        if let refusal = ConfigReader.credentialURLRefusal(url) {
            throw SyncFailure(endpoint: "projects", reason: SyncFailure.insecureURL, message: "projects: the catalog's URL is refused: \(refusal)")
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "X-Auth-Token", value: token.value)
        request.headers.add(name: "Accept", value: "application/json")
        return try await http.send(request, endpoint: "projects")
    }

    // MARK: Billing API (static token)

    func get(_ path: String, endpoint: String) async throws -> ProviderClient.Response {
        var request = HTTPClientRequest(url: "\(settings.apiURL)\(path)")
        request.headers.add(name: "X-Token", value: settings.token.value)
        request.headers.add(name: "Accept", value: "application/json")
        return try await http.send(request, endpoint: endpoint)
    }

    /// The balance, and the account's currency: the one its costs are billed in (consumption
    /// rows name none; their `value` is in hundredths of it).
    private func balance(into snapshot: inout SourceSnapshot) async throws -> Currency {
        let body = try http.decode(Selectel.Balances.self, from: try await get("/v3/balances", endpoint: "balances"), endpoint: "balances")
        guard let code = body.data?.settings?.currency ?? body.settings?.currency else {
            throw SyncFailure(endpoint: "balances", reason: SyncFailure.currency,
                              message: "balances: no data.settings.currency: the account names no currency to bill its costs in", failsTheSync: true)
        }
        guard CurrencyCodes.iso4217.contains(code.uppercased()) else {
            throw SyncFailure(endpoint: "balances", reason: SyncFailure.currency,
                              message: "balances: data.settings.currency \"\(code.prefix(16))\" is not an ISO 4217 currency", failsTheSync: true)
        }
        let currency = Currency(code)
        state.currency.withLock { $0 = currency }
        guard let kopecks = body.data?.billings?.first?.final_sum?.value else {
            throw SyncFailure(endpoint: "balances", reason: "bad_json", message: "balances: no data.billings[0].final_sum")
        }
        snapshot.accounts.append(AccountBalance(provider: provider, account: settings.accountID, balance: Money(kopecks / 100, currency)))
        return currency
    }

    /// The currency this sync's costs are in: the one the account reported now, else the one
    /// it reported at an earlier sync of this run (the balance endpoint failed alone). Never
    /// assumed: without either, the sync fails and the last good data stays.
    private func costCurrency(reported: Currency?, failures: [SyncFailure]) throws -> Currency {
        if let reported { return reported }
        if let known = state.currency.withLock({ $0 }) { return known }
        // The balance endpoint's own failure (a 503, a redirect) names the cause better than
        // "currency", and fails the whole sync.
        if var failed = failures.first(where: { $0.endpoint == "balances" }) {
            failed.message += "; the account's currency is unknown without it, and its costs are not committed"
            failed.failsTheSync = true
            throw failed
        }
        throw SyncFailure(endpoint: "balances", reason: SyncFailure.currency,
                          message: "balances: the account's currency is unknown; its costs are not committed without it", failsTheSync: true)
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
        if let service = providerServices[providerKey] { return service }
        return objectType.isEmpty ? providerKey : objectType
    }

    // MARK: Time

    /// Selectel's naive timestamps are Moscow wall-clock time.
    func naive(_ date: Date) -> String {
        DateText.string(date, pattern: "yyyy-MM-dd'T'HH:mm:ss", in: Self.moscow)
    }

    /// `ru-3b` → `ru-3`.
    static func region(ofZone zone: String) -> String {
        guard let last = zone.last, last.isLetter, zone.dropLast().last?.isNumber == true else { return zone }
        return String(zone.dropLast())
    }
}

/// What a Selectel source keeps between syncs: the statistics window sizes that last fitted
/// the body limit, its OpenStack inventory's sessions and utilisation, and the account's currency.
final class SelectelState: Sendable {
    let spans = Mutex(SelectelSource.StatisticsSpans())
    let grouping = Mutex(SelectelSource.StatisticsGrouping())
    let openstack = OpenStackState()
    /// The currency the account last reported (`/v3/balances`), for a sync whose balance fails.
    let currency = Mutex<Currency?>(nil)
}
