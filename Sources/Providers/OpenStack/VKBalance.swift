import CostModel
import Foundation
import SourceKit

/// `balance: vk` on a `type: openstack` source: VK Cloud's project balance,
/// `GET <balance_url>/projects/<PID>/balances/amount` with the project's Keystone token
/// (`X-Auth-Token`), answering `{"base": …, "bonus": …}` (the Billing API reference,
/// api-billing in vk-cs/docs-public). The PID (`mcsNNNNNNNNNN`) is not the OpenStack project ID.
struct VKBalance: Sendable {
    var url: String
    var pid: String

    static let defaultURL = "https://msk.cloud.vk.com/billing/public/v1"

    struct Amount: Decodable {
        /// The payment account.
        var base: FlexibleDecimal?
        /// The bonus account.
        var bonus: FlexibleDecimal?
    }

    static func read(_ fields: Fields, _ reader: ConfigReader) -> VKBalance? {
        guard fields["balance"] != nil else {
            for key in ["balance_pid", "balance_url"] where fields[key] != nil {
                reader.fail(at: fields[key], fields.path(key), "needs balance: vk")
            }
            return nil
        }
        guard reader.oneOf(fields, "balance", ["vk"]) != nil else { return nil }
        let pid = reader.string(fields, "balance_pid") ?? ""
        if pid.isEmpty {
            reader.fail(at: fields.node, fields.path("balance_pid"), "required with balance: vk (the project's PID, mcs…, from VK Cloud Account)")
        }
        let url = reader.credentialURL(fields, "balance_url").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? defaultURL
        return VKBalance(url: url, pid: pid)
    }

    /// The balance, payment and bonus accounts together (both pay for consumption), in roubles
    /// (the answer names no currency; VK Cloud bills in roubles). VK's FAQ says there is no such
    /// API while its reference documents one: a 404 is no balance, not a failure.
    func read(project: String, inventory: OpenStackInventory, account: String, into snapshot: inout SourceSnapshot) async throws {
        let endpoint = "balance"
        let response: ProviderClient.Response
        do {
            response = try await inventory.openstack("\(url)/projects/\(URLQuery.escape(pid))/balances/amount", project: project, endpoint: endpoint)
        } catch let failure as SyncFailure where failure.reason == "http_404" {
            return
        }
        let amount = try inventory.http.decode(Amount.self, from: response, endpoint: endpoint)
        guard let base = amount.base?.value else {
            throw SyncFailure(endpoint: endpoint, reason: "bad_json", message: "balance: no base in the answer")
        }
        snapshot.accounts.append(AccountBalance(provider: "openstack", account: account, balance: Money(base + (amount.bonus?.value ?? 0), .rub)))
    }
}
