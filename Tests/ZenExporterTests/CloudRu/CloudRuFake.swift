import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// Cloud.ru Evolution on 127.0.0.1: IAM (access key → bearer token), `/v1/consumption` paged by
/// `page_filter.page` and `page_filter.limit`, and Compute for two projects: VMs paged by
/// `limit`/`offset`, each VM's detail with its disks, floating IPs, and a disks list that
/// answers 403 as it does to service accounts.
///
/// Consumption rows, roubles without VAT / with VAT (`amount` / `amount_nds`):
///   2026-10-31  cr-vm-1    vcpu 100.00/120.00                     (last month)
///   2026-11-18  cr-vm-1    vcpu 100.00/120.00, ram 50.00/60.00; cr-disk-1 10.00/12.00
///   2026-11-19  cr-vm-1    vcpu 100.00/120.00, ram 50.00/60.00; cr-disk-1 10.00/12.00;
///               cr-vm-ghost vcpu 30.00/36.00 (in no inventory); cr-fip-1 5.00 (no VAT given)
/// and from `day` 2 (the next day's answer) also:
///   2026-11-19  cr-vm-1    vcpu restated to 80.00/96.00 (a newer updated_dt, on a later page)
///   2026-11-20  cr-vm-1    vcpu 100.00/120.00, ram 50.00/60.00; cr-disk-1 10.00/12.00
final class CloudRuFake: Sendable {
    struct Behaviour: Sendable {
        /// 1: the answer of 2026-11-20; 2: of 2026-11-21, with a restated row.
        var day = 1
        /// The first token issued is refused once, as an expired one would be.
        var expireFirstToken = false
        /// Project B's VM list answers 500.
        var failProjectB = false
        /// This VM's detail answers 500.
        var failDetailOf: String?
    }

    static let keyID = "fixture-cloudru-key-id"
    static let keySecret = "fixture-cloudru-key-secret"
    static let agreement = "0000-AGR-1"
    static let projectA = "11111111-aaaa-4aaa-8aaa-000000000001"
    static let projectB = "22222222-bbbb-4bbb-8bbb-000000000002"

    let server: LoopbackServer
    let behaviour: Mutex<Behaviour>
    let requests = Mutex<[String]>([])
    private let tokensIssued = Mutex(0)
    private let refusedOnce = Mutex(false)

    init(_ behaviour: Behaviour = Behaviour()) throws {
        server = try LoopbackServer()
        self.behaviour = Mutex(behaviour)
    }

    var baseURL: String { server.baseURL }
    func count(_ prefix: String) -> Int { requests.withLock { $0.filter { $0.hasPrefix(prefix) }.count } }
    func start() async throws { try await server.start(router()) }
    func stop() async { await server.stop() }

    private func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private func authorised(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer cloudru-token-") else { return false }
        if header == "Bearer cloudru-token-1", behaviour.withLock(\.expireFirstToken) {
            return refusedOnce.withLock { refused in defer { refused = true }; return refused }
        }
        return true
    }

    static func row(_ day: String, _ resource: String, _ sku: String, _ service: String, _ amount: String, _ vat: String?, updated: String) -> String {
        let name = resource == "cr-disk-1" ? "vm-1-boot" : resource == "cr-fip-1" ? "203.0.113.20" : resource.replacingOccurrences(of: "cr-", with: "")
        let withVAT = vat.map { #", "amount_nds": \#($0)"# } ?? ""
        return #"{"dog_id": "\#(agreement)", "sku": "\#(sku)", "servname": "\#(service)", "resource_id": "\#(resource)", "resource_name": "\#(name)", "usedate": "\#(day)", "amount": \#(amount)\#(withVAT), "unit": "h", "meta": {"iam_project_name": "prod"}, "updated_dt": "\#(updated)"}"#
    }

    func rows() -> [String] {
        let day = behaviour.withLock(\.day)
        var rows = [
            Self.row("2026-10-31", "cr-vm-1", "evo.compute.vcpu", "Compute", "100.00", "120.00", updated: "2026-11-01T03:00:00Z"),
            Self.row("2026-11-18", "cr-vm-1", "evo.compute.vcpu", "Compute", "100.00", "120.00", updated: "2026-11-19T03:00:00Z"),
            Self.row("2026-11-18", "cr-vm-1", "evo.compute.ram", "Compute", "50.00", "60.00", updated: "2026-11-19T03:00:00Z"),
            Self.row("2026-11-18", "cr-disk-1", "evo.disk.ssd", "Disks", "10.00", "12.00", updated: "2026-11-19T03:00:00Z"),
            Self.row("2026-11-19", "cr-vm-1", "evo.compute.vcpu", "Compute", "100.00", "120.00", updated: "2026-11-20T03:00:00Z"),
            Self.row("2026-11-19", "cr-vm-1", "evo.compute.ram", "Compute", "50.00", "60.00", updated: "2026-11-20T03:00:00Z"),
            Self.row("2026-11-19", "cr-disk-1", "evo.disk.ssd", "Disks", "10.00", "12.00", updated: "2026-11-20T03:00:00Z"),
            Self.row("2026-11-19", "cr-vm-ghost", "evo.compute.vcpu", "Compute", "30.00", "36.00", updated: "2026-11-20T03:00:00Z"),
            Self.row("2026-11-19", "cr-fip-1", "evo.vpc.fip", "Public IP", "5.00", nil, updated: "2026-11-20T03:00:00Z"),
        ]
        if day >= 2 {
            rows += [
                Self.row("2026-11-20", "cr-vm-1", "evo.compute.vcpu", "Compute", "100.00", "120.00", updated: "2026-11-21T03:00:00Z"),
                Self.row("2026-11-20", "cr-vm-1", "evo.compute.ram", "Compute", "50.00", "60.00", updated: "2026-11-21T03:00:00Z"),
                Self.row("2026-11-20", "cr-disk-1", "evo.disk.ssd", "Disks", "10.00", "12.00", updated: "2026-11-21T03:00:00Z"),
                Self.row("2026-11-19", "cr-vm-1", "evo.compute.vcpu", "Compute", "80.00", "96.00", updated: "2026-11-21T03:00:00Z"),
            ]
        }
        return rows
    }

    static let vms = [
        #"{"id": "cr-vm-1", "name": "vm-1", "state": "running", "created_at": "2026-11-01T00:00:00Z", "flavor": {"name": "gen-2-4"}, "availability_zone": {"name": "ru.AZ-1"}}"#,
        #"{"id": "cr-vm-2", "name": "vm-2", "state": "stopped", "created_at": "2026-11-01T00:00:00Z", "flavor": {"name": "gen-2-4"}, "availability_zone": {"name": "ru.AZ-1"}}"#,
        #"{"id": "cr-vm-3", "name": "vm-3", "state": "running", "created_at": "2026-11-01T00:00:00Z", "flavor": {"name": "gen-4-8"}, "availability_zone": {"name": "ru.AZ-1"}}"#,
    ]

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/api/v1/auth/token") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            self.requests.withLock { $0.append("POST token") }
            guard body.contains(Self.keyID), body.contains(Self.keySecret) else {
                return self.json(#"{"code": 16, "message": "invalid_client: client not found", "details": []}"#, status: .unauthorized)
            }
            let number = self.tokensIssued.withLock { count in count += 1; return count }
            return self.json(#"{"access_token": "cloudru-token-\#(number)", "expires_in": 3600, "token_type": "Bearer"}"#)
        }
        router.get("/v1/consumption") { request, _ -> Response in
            let query = request.uri.queryParameters
            let page = Int(query.get("page_filter.page") ?? "") ?? 1, limit = Int(query.get("page_filter.limit") ?? "") ?? 100
            self.requests.withLock { $0.append("GET consumption \(page) \(query.get("start_date") ?? "") \(query.get("end_date") ?? "")") }
            guard self.authorised(request) else { return self.json(#"{"code": 16, "message": "unauthenticated"}"#, status: .unauthorized) }
            guard query.get("agreement_id") == Self.agreement else { return self.json(#"{"message": "Either agreement_id or project_ids must be provided"}"#, status: .badRequest) }
            let rows = self.rows()
            let slice = rows.dropFirst((page - 1) * limit).prefix(limit)
            return self.json(#"{"consumptions": [\#(slice.joined(separator: ", "))]}"#)
        }
        router.get("/api/v1/vms") { request, _ -> Response in
            let query = request.uri.queryParameters
            let project = query.get("project_id") ?? ""
            self.requests.withLock { $0.append("GET vms \(project)") }
            guard self.authorised(request) else { return self.json("{}", status: .unauthorized) }
            if project == Self.projectB {
                return self.behaviour.withLock(\.failProjectB) ? self.json(#"{"message": "internal"}"#, status: .internalServerError)
                                                              : self.json(#"{"items": [], "total": 0}"#)
            }
            let offset = Int(query.get("offset") ?? "") ?? 0, limit = Int(query.get("limit") ?? "") ?? 100
            let items = Self.vms.dropFirst(offset).prefix(limit)
            return self.json(#"{"items": [\#(items.joined(separator: ", "))], "total": \#(Self.vms.count)}"#)
        }
        router.get("/api/v1/vms/:id") { request, context -> Response in
            let id = context.parameters.get("id") ?? ""
            self.requests.withLock { $0.append("GET vm \(id)") }
            guard self.authorised(request) else { return self.json("{}", status: .unauthorized) }
            if self.behaviour.withLock(\.failDetailOf) == id { return self.json(#"{"message": "internal"}"#, status: .internalServerError) }
            guard let vm = Self.vms.first(where: { $0.contains(#""id": "\#(id)""#) }) else { return self.json("{}", status: .notFound) }
            let disks = id == "cr-vm-1" ? #"[{"id": "cr-disk-1", "name": "vm-1-boot", "size": 40, "disk_type": {"name": "ssd"}}]"# : "[]"
            return self.json(String(vm.dropLast()) + #", "disks": \#(disks)}"#)
        }
        router.get("/api/v1/disks") { _, _ -> Response in
            self.requests.withLock { $0.append("GET disks") }
            return self.json(#"{"code": 7, "message": "permission denied"}"#, status: .forbidden)
        }
        router.get("/api/v1/floating-ips") { request, _ -> Response in
            let project = request.uri.queryParameters.get("project_id") ?? ""
            guard self.authorised(request) else { return self.json("{}", status: .unauthorized) }
            if project != Self.projectA { return self.json(#"{"items": []}"#) }
            return self.json(#"{"items": [{"id": "cr-fip-1", "ip_address": "203.0.113.20", "interface": null, "created_at": "2026-11-01T00:00:00Z"}]}"#)
        }
        return router
    }
}
