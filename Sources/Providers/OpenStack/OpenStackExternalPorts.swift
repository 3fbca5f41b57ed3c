import CostModel
import Foundation
import Ingest
import SourceKit

/// Public addresses on ports of the external network. VK Cloud bills an address assigned to a
/// port on `ext-net` as it bills a floating IP, but not the address of a router's gateway
/// (networks/vnet tariffication in vk-cs/docs-public); a floating IP's own port is the floating
/// IP, listed and priced as one.
extension OpenStackInventory {
    /// The network's ports that hold a billed address, listed as `ip` (an address on a port
    /// bound to no device is `DOWN`, paid for and unused).
    func externalPorts(on network: String, _ scope: InventoryScope, catalog: Catalog, into snapshot: inout SourceSnapshot,
                       window: CollectionWindow) async throws -> [OpenStack.Ports.Port] {
        let endpoint = "neutron/\(scope.region)"
        guard let base = url("network", scope, catalog) else {
            throw SyncFailure(endpoint: endpoint, reason: "no_endpoint", message: "\(endpoint): the catalog lists no network service in \(scope.region)")
        }
        let networks = try http.decode(OpenStack.Networks.self, from: try await openstack(
            "\(base)/v2.0/networks?name=\(URLQuery.escape(network))", project: scope.project, endpoint: endpoint), endpoint: endpoint)
        var billed: [OpenStack.Ports.Port] = []
        for found in networks.networks where found.name == network {
            let body = try http.decode(OpenStack.Ports.self, from: try await openstack(
                "\(base)/v2.0/ports?network_id=\(URLQuery.escape(found.id))", project: scope.project, endpoint: endpoint), endpoint: endpoint)
            billed += body.ports.filter { !($0.device_owner ?? "").hasPrefix("network:") }
        }
        let dates = ISO8601Dates()
        for port in billed {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: port.id, name: port.fixed_ips?.first?.ip_address ?? port.name ?? port.id, resourceType: "ip",
                region: scope.region, status: (port.device_id ?? "").isEmpty ? "DOWN" : (port.status ?? "ACTIVE"),
                createdAt: port.created_at.flatMap { Self.cinderDate($0, dates) } ?? window.now, project: scope.project))
        }
        return billed
    }
}
