import CostModel
import Foundation
import Ingest
import SourceKit

/// Compute inventory as the Compute OpenAPI (`compute.api.cloud.ru`) describes it: lists paged
/// by `limit` (1…100, default 50; above 100 the API answers 422) and `offset` with a `total`;
/// creation times in `created_time`; a VM's `state` in lower case; a floating IP's `state`
/// (`available`, `in_use`, …) and the NAT gateway that may hold it.
extension CloudRuSource {
    /// The most items a Compute list answers at once.
    static let computePageLimit = 100

    var computePageSize: Int { min(settings.pageSize, Self.computePageLimit) }

    /// Every item of one project's list, page after page until `total` items have come or a
    /// page comes back short.
    func list<Item: Decodable>(_ path: String, project: String, endpoint: String, as: Item.Type) async throws -> [Item] {
        var items: [Item] = []
        for _ in 0..<10_000 {
            let url = "\(settings.computeURL)\(path)?project_id=\(URLQuery.escape(project))&limit=\(computePageSize)&offset=\(items.count)"
            let page = try http.decode(CloudRu.Page<Item>.self, from: try await get(url, endpoint: endpoint), endpoint: endpoint)
            items += page.items
            if page.items.count < computePageSize || page.total.map({ items.count >= $0 }) == true { break }
        }
        return items
    }

    func vms(project: String) async throws -> [CloudRu.VM] {
        try await list("/api/v1/vms", project: project, endpoint: "compute/vms", as: CloudRu.VM.self)
    }

    static let detailConcurrency = 8

    /// Each VM's disks, from its detail, a few VMs at a time. A detail that fails is counted
    /// (`compute/vm`) and leaves that VM without disks; the VM itself stays listed.
    func disks(of vms: [CloudRu.VM], project: String, failures: inout EndpointFailures) async throws -> [String: [CloudRu.VM.Disk]] {
        typealias Answer = (id: String, result: Result<[CloudRu.VM.Disk], SyncFailure>)
        let endpoint = "compute/vm"
        let (disks, failed) = try await withThrowingTaskGroup(of: Answer.self) { group in
            var next = 0
            func launch(_ group: inout ThrowingTaskGroup<Answer, any Error>) {
                guard next < vms.count else { return }
                let id = vms[next].id
                next += 1
                group.addTask {
                    let url = "\(settings.computeURL)/api/v1/vms/\(URLQuery.escape(id))?project_id=\(URLQuery.escape(project))"
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

    func add(_ vms: [CloudRu.VM], disks: [String: [CloudRu.VM.Disk]], project: String, to snapshot: inout SourceSnapshot,
             window: CollectionWindow) {
        let dates = ISO8601Dates()
        for vm in vms {
            let zone = vm.availability_zone?.name ?? ""
            let created = (vm.created_time ?? vm.created_at).flatMap(dates.date) ?? window.now
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: vm.id, name: vm.name ?? vm.id, resourceType: "server", region: zone,
                status: (vm.state ?? vm.status ?? "").uppercased(), flavor: vm.flavor?.name ?? "", createdAt: created, project: project))
            // A VM's detail gives its disks without their creation times: the VM's stands in.
            for disk in disks[vm.id] ?? [] {
                snapshot.inventory.append(InventoryItem(
                    provider: provider, resourceID: disk.id, name: disk.name ?? disk.id, resourceType: "volume", region: zone,
                    status: "IN-USE", flavor: "\(disk.disk_type?.name ?? "").\(disk.size ?? 0)GB", attachedTo: vm.id, createdAt: created,
                    project: project))
            }
        }
    }

    /// Floating IPs, paged like VMs. Whether one is used is its `state`: an address a NAT
    /// gateway holds has no interface and is in use all the same.
    func floatingIPs(project: String, into snapshot: inout SourceSnapshot, window: CollectionWindow) async throws {
        let addresses = try await list("/api/v1/floating-ips", project: project, endpoint: "compute/floating_ips", as: CloudRu.FloatingIP.self)
        let dates = ISO8601Dates()
        for address in addresses {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: address.id, name: address.ip_address ?? address.id, resourceType: "ip",
                region: address.availability_zone?.name ?? "", status: Self.status(of: address),
                createdAt: (address.created_time ?? address.created_at).flatMap(dates.date) ?? window.now, project: project))
        }
    }

    /// `DOWN` for an address paid for and bound to nothing (`available`), `ACTIVE` for one in use.
    static func status(of address: CloudRu.FloatingIP) -> String {
        switch address.state {
        case "available": "DOWN"
        case "in_use": "ACTIVE"
        case let state?: state.uppercased()
        case nil: address.interface == nil && address.nat_gateway == nil ? "DOWN" : "ACTIVE"
        }
    }
}
