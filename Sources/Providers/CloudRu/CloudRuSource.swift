import AsyncHTTPClient
import CostModel
import Foundation
import SourceKit

/// `type: cloudru`: Cloud.ru Evolution. Cost from `/v2/consumption` (daily rows per resource
/// and SKU, in roubles; `/v1/consumption` where v2 is refused), fetched in whole calendar days
/// and paged; a row the provider restates (a newer `updated_dt` for the same day, resource and
/// SKU) replaces the older one, and since every sync asks for the whole history window again, a
/// restated day replaces the stored one (CloudRuConsumption.swift). Inventory: each project's
/// VMs, their disks from each VM's detail (the disks list can answer 403 to a service account),
/// and floating IPs (CloudRuCompute.swift). An access key (key ID and secret) is exchanged for a
/// bearer token, re-issued when it expires or is refused (CloudRuModels.swift). Facts, their
/// sources and what is unverified: docs/providers/cloudru.md.
package struct CloudRuSource: Source {
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

    package static let kind = SourceKind(
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
    package var provider: String { "cloudru" }
    package var retriesRequests: Bool { true }
    static let moscow = TimeZone(identifier: "Europe/Moscow") ?? .current

    init(settings: Settings, http: ProviderClient) {
        self.settings = settings
        self.http = http
        token = CloudRuToken(url: "\(settings.iamURL)/api/v1/auth/token", keyID: settings.keyID, secret: settings.keySecret, http: http)
    }

    /// The `account` label: the agreement, or the projects read.
    var account: String { settings.agreementID.isEmpty ? settings.projectIDs.joined(separator: ",") : settings.agreementID }

    package func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
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
}
