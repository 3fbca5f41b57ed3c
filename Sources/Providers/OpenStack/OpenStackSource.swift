import CostModel
import Foundation
import SourceKit
import Synchronization

/// `type: openstack`: any Keystone v3 cloud (VK Cloud, a private OpenStack), priced by a price
/// list since there is no bill to read. The inventory is the one Selectel uses
/// (OpenStackInventory); PriceListBilling turns it into line items and daily costs. A region or
/// listing that fails keeps the resources it last listed (billed on to now), so that one
/// region's outage does not take its spend out of the month.
package struct OpenStackSource: Source {
    struct Settings: SourceSettings {
        enum Credentials: Sendable {
            case password(username: Secret, password: Secret, userDomain: String)
            case applicationCredential(id: Secret, secret: Secret)
        }
        var identityURL: String
        var credentials: Credentials
        /// Projects to read (password); with an application credential, its project's ID as a
        /// label only (may be empty).
        var projectIDs: [String]
        var regions: [String]
        var priceList: String
        /// The `account` label of the line items.
        var account: String
        var utilizationInterval: Duration = .seconds(3600)
        var utilizationConcurrency = 8
        /// `balance: vk`: the project balance from VK Cloud's billing API.
        var balance: VKBalance? = nil
        /// `external_network`: the network whose ports' addresses are billed as floating IPs.
        var externalNetwork: String? = nil
    }

    package static let kind = SourceKind(
        settingKeys: ["identity_url", "username_env", "username_file", "password_env", "password_file", "user_domain",
                      "application_credential_id", "application_credential_secret_env", "application_credential_secret_file",
                      "project_id", "project_ids", "regions", "price_list", "account", "utilization_interval", "utilization_concurrency",
                      "balance", "balance_pid", "balance_url", "external_network"],
        readSettings: { fields, reader in
            let identity = reader.credentialURL(fields, "identity_url").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            if identity == nil && fields["identity_url"] == nil {
                reader.fail(at: fields.node, fields.path("identity_url"), "required (the Keystone v3 URL, ending in /v3)")
            }
            var projectIDs = reader.string(fields, "project_id").map { [$0] } ?? []
            if fields["project_ids"] != nil {
                if !projectIDs.isEmpty { reader.fail(at: fields["project_ids"], fields.path("project_ids"), "give project_id or project_ids, not both") }
                projectIDs = reader.sequence(fields, "project_ids").compactMap { $0.scalar?.string }.filter { !$0.isEmpty }
            }
            let username = reader.secret(fields, "username"), password = reader.secret(fields, "password")
            let credentialID = reader.string(fields, "application_credential_id")
            let credentialSecret = reader.secret(fields, "application_credential_secret")
            var credentials = Settings.Credentials.password(username: Secret(""), password: Secret(""), userDomain: "Default")
            if let credentialID, let credentialSecret {
                if username != nil || password != nil {
                    reader.fail(at: fields.node, fields.path("application_credential_id"), "give a user and password or an application credential, not both")
                }
                credentials = .applicationCredential(id: Secret(credentialID), secret: credentialSecret)
                if projectIDs.count > 1 {
                    reader.fail(at: fields["project_ids"], fields.path("project_ids"), "an application credential is bound to one project")
                }
            } else if let username, let password {
                credentials = .password(username: username, password: password, userDomain: reader.string(fields, "user_domain") ?? "Default")
                if projectIDs.isEmpty {
                    reader.fail(at: fields.node, fields.path("project_id"), "required with a user and password (the OpenStack project ID)")
                }
            } else if fields["application_credential_id"] == nil && fields["username_env"] == nil && fields["username_file"] == nil {
                reader.fail(at: fields.node, fields.path("username_env"),
                            "credentials are required: username and password (_env or _file), or application_credential_id and application_credential_secret")
            } else if credentialID != nil, fields["application_credential_secret_env"] == nil, fields["application_credential_secret_file"] == nil {
                reader.fail(at: fields.node, fields.path("application_credential_secret_env"), "required with application_credential_id")
            }
            let priceList = reader.string(fields, "price_list") ?? ""
            if fields["price_list"] == nil {
                reader.fail(at: fields.node, fields.path("price_list"), "required (a YAML or CSV price list; see docs/providers/openstack.md)")
            } else {
                do { _ = try PriceList.load(path: priceList) } catch {
                    reader.fail(at: fields["price_list"], fields.path("price_list"), "\(error)")
                }
            }
            return Settings(
                identityURL: identity ?? "", credentials: credentials, projectIDs: projectIDs,
                regions: reader.sequence(fields, "regions").compactMap { $0.scalar?.string }, priceList: priceList,
                account: reader.string(fields, "account") ?? projectIDs.first ?? "",
                utilizationInterval: reader.duration(fields, "utilization_interval") ?? .seconds(3600),
                utilizationConcurrency: reader.int(fields, "utilization_concurrency", range: 1...64) ?? 8,
                balance: VKBalance.read(fields, reader), externalNetwork: reader.string(fields, "external_network"))
        },
        make: { config in
            let settings = config.settings as? Settings
                ?? Settings(identityURL: "", credentials: .password(username: Secret(""), password: Secret(""), userDomain: ""), projectIDs: [],
                            regions: [], priceList: "", account: "")
            return OpenStackSource(settings: settings, http: ProviderClient(timeout: config.timeout, retries: config.retries, source: "openstack"))
        }
    )

    let settings: Settings
    let http: ProviderClient
    let state = OpenStackPricedState()
    package var provider: String { "openstack" }
    package var retriesRequests: Bool { true }

    init(settings: Settings, http: ProviderClient) {
        self.settings = settings
        self.http = http
    }

    var inventory: OpenStackInventory {
        let settings = settings, http = http
        return OpenStackInventory(
            provider: provider, http: http,
            options: .init(regions: settings.regions, extras: [.floatingIPs, .shares, .loadBalancers],
                           utilizationInterval: settings.utilizationInterval, utilizationConcurrency: settings.utilizationConcurrency,
                           externalNetwork: settings.externalNetwork),
            state: state.openstack,
            makeSession: { project in
                let credentials: KeystoneSession.Credentials = switch settings.credentials {
                case let .password(username, password, userDomain):
                    .password(username: username, password: password, userDomain: userDomain, projectID: project, projectDomain: nil)
                case let .applicationCredential(id, secret): .applicationCredential(id: id, secret: secret)
                }
                return KeystoneSession(identityURL: settings.identityURL, credentials: credentials, http: http)
            },
            // Only what the catalog lists: a generic cloud has no conventional hosts.
            fallbackURL: { _, _ in nil })
    }

    /// Projects to read: the configured ones, or the application credential's own (its ID, if
    /// given, labels its resources).
    var projects: [String] {
        if case .applicationCredential = settings.credentials { return [settings.projectIDs.first ?? ""] }
        return settings.projectIDs
    }

    package func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        let started = ContinuousClock.now
        let list: PriceList
        do {
            list = try PriceList.load(path: settings.priceList)
        } catch {
            throw SyncFailure(endpoint: "price_list", reason: "bad_file", message: "price_list: \(error)")
        }
        var snapshot = SourceSnapshot()
        var failures = EndpointFailures()
        let found = try await inventory.read(projects: projects, into: &snapshot, window: window, started: started, failures: &failures)
        // The inventory is the cost: with no listing answered there is nothing to bill, and the
        // last good data stays.
        if found.listed.isEmpty {
            throw failures.all.first ?? SyncFailure(endpoint: "nova", reason: "empty", message: "no region of any project answered")
        }
        let billing = PriceListBilling(provider: provider, account: settings.account, list: list, now: window.now, timeZone: window.reporting.timeZone,
                                       historyDays: window.historyDays)
        let (current, unpriced) = billing.price(found)
        let priced = state.carry(current, listed: found.listed, now: window.now, windowStart: billing.windowStart)
        snapshot.billing = priced.filter(\.billedNow).map(\.item)
        snapshot.dailyCosts = billing.dailyCosts(priced)
        snapshot.unpriced = unpriced
        if let balance = settings.balance, let project = projects.first {
            try await failures.attempt { try await balance.read(project: project, inventory: inventory, account: settings.account, into: &snapshot) }
        }
        snapshot.endpointFailures = failures.all
        return snapshot
    }
}

/// What a priced OpenStack source keeps between syncs: the inventory's sessions and
/// utilisation, and every resource priced this month, so that one deleted since is still
/// billed for the hours it existed, and one in a listing that failed is billed on.
final class OpenStackPricedState: Sendable {
    let openstack = OpenStackState()
    private let known = Mutex<[String: PriceListBilling.Priced]>([:])

    /// This sync's priced resources, plus those priced earlier this month and not found now:
    /// billed on to `now` where their listing failed (still there, as far as is known), up to
    /// when they were last seen where it answered (deleted since).
    func carry(_ current: [PriceListBilling.Priced], listed: Set<OpenStackInventory.Listing>, now: Date,
               windowStart: Date) -> [PriceListBilling.Priced] {
        known.withLock { known in
            known = known.filter { $0.value.end > windowStart || $0.value.billedNow }
            let found = Set(current.map(\.item.resourceID))
            var all = current
            for (id, var earlier) in known where !found.contains(id) {
                if !listed.contains(OpenStackInventory.Listing(scope: earlier.scope, resourceType: earlier.item.resourceType)) {
                    if earlier.billedNow { earlier.end = now }
                } else {
                    earlier.billedNow = false
                }
                earlier.start = max(earlier.start, windowStart)
                known[id] = earlier
                all.append(earlier)
            }
            for resource in current { known[resource.item.resourceID] = resource }
            return all.sorted { $0.item.resourceID < $1.item.resourceID }
        }
    }
}
