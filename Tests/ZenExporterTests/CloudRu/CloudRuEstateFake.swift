import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// Cloud.ru Evolution on 127.0.0.1 in its published shapes: Compute as the Compute OpenAPI
/// (`compute.api.cloud.ru`, copied in ekvii/terraform-provider-cloudru-community
/// `openapi/cloudru.compute.openapi.yaml`) has it, and consumption v2 as cloud.ru/docs billing
/// `api_consumptionv2` and `api_consumption_pagination` describe it.
///
/// - IAM answers an access token with an `id_token` holding the owner's e-mail and phone.
/// - `/api/v1/vms` and `/api/v1/floating-ips`: `limit` 1…100 (default 50; above 100 a 422 as
///   the API's validation answers), `offset`; `{"items", "total", "offset", "limit"}`. 150 VMs,
///   every tenth stopped, `created_time`, lowercase `state`, `flavor.cpu`/`ram` (GB)/`gpu`.
/// - Floating IPs: one of a NAT gateway (`state: in_use`, no `interface`), one unbound since
///   March (`state: available`), one on a VM's interface.
/// - `/v2/consumption`: `page_filter.page_size` 1…25 000 required, `page_filter.page_token` ←
///   the previous answer's `next_page_token` (absent on the last page). `/v1/consumption` (page
///   and limit) answers the same rows.
///
/// Rows, roubles without VAT / with VAT (`amount_nds` = `amount` × 1.22):
///   2026-10-31 vm-001  Compute    100.00 / 122.00    (last month)
///   2026-11-01 vm-001  Compute     48.10 /  58.682
///   2026-11-19 vm-002  Compute     12.34 /  15.0548
///   2026-11-19 fip-old Public IP    3.60 /   4.392
///   2026-11-19 fip-nat Public IP    3.60 /   4.392
///   2026-11-20 vm-001  Compute      7.05 /   8.601
final class CloudRuEstateFake: Sendable {
    struct Behaviour: Sendable {
        /// `/v2/consumption` answers 404, as where it is not offered.
        var refuseV2 = false
    }

    static let keyID = "fixture-estate-key-id"
    static let keySecret = "fixture-estate-key-secret"
    static let agreement = "0000-AGR-2"
    static let project = "33333333-cccc-4ccc-8ccc-000000000003"
    static let ownerEmail = "owner.of.account@example.ru"
    static let ownerPhone = "+79990001122"
    /// The claims part of the id_token: the owner's e-mail and phone, base64url.
    static let idTokenClaims = Data(#"{"email":"\#(ownerEmail)","phone_number":"\#(ownerPhone)","sub":"u-1"}"#.utf8).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    static let idToken = "eyJhbGciOiJSUzI1NiJ9.\(idTokenClaims).c2lnbmF0dXJlLW9mLXRoZS1pZC10b2tlbg"
    static let vmCount = 150

    let server: LoopbackServer
    let behaviour: Behaviour
    let requests = Mutex<[String]>([])
    private let issued = Mutex(0)

    init(_ behaviour: Behaviour = Behaviour()) throws {
        server = try LoopbackServer()
        self.behaviour = behaviour
    }

    var baseURL: String { server.baseURL }
    func count(_ prefix: String) -> Int { requests.withLock { $0.filter { $0.hasPrefix(prefix) }.count } }
    var logged: [String] { requests.withLock { $0 } }
    func start() async throws { try await server.start(router()) }
    func stop() async { await server.stop() }

    private func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func vmID(_ number: Int) -> String { String(format: "vm-%03d", number) }

    static func vm(_ number: Int) -> String {
        let state = number % 10 == 0 ? "stopped" : "running"
        return #"{"id": "\#(vmID(number))", "name": "node-\#(number)", "project_id": "\#(project)", "description": "", "tags": [], "#
            + #""flavor": {"id": "f-1", "name": "gen-2-4", "cpu": 2, "ram": 4, "gpu": 0, "oversubscription": "1:1", "free_tier": false}, "#
            + #""state": "\#(state)", "locked": false, "created_time": "2026-06-01T10:00:00Z", "modified_time": "2026-11-01T10:00:00Z", "#
            + #""interfaces": [], "availability_zone": {"id": "az-1", "name": "ru.AZ-1"}}"#
    }

    static let floatingIPs = [
        #"{"id": "fip-nat", "ip_address": "198.51.100.10", "state": "in_use", "name": "nat-ip", "description": "", "interface": null, "vm": null, "#
            + #""nat_gateway": {"id": "nat-1", "name": "nat-1", "state": "running"}, "created_time": "2026-05-01T00:00:00Z", "tags": []}"#,
        #"{"id": "fip-old", "ip_address": "198.51.100.11", "state": "available", "name": "old-ip", "description": "", "interface": null, "#
            + #""vm": null, "nat_gateway": null, "created_time": "2026-03-01T08:00:00Z", "tags": []}"#,
        #"{"id": "fip-vm", "ip_address": "198.51.100.12", "state": "in_use", "name": "vm-ip", "description": "", "#
            + #""interface": {"id": "if-1", "name": "eth0"}, "vm": {"id": "vm-001", "name": "node-1"}, "nat_gateway": null, "#
            + #""created_time": "2026-06-01T10:00:00Z", "tags": []}"#,
    ]

    static func row(_ day: String, _ resource: String, _ service: String, _ amount: String, _ withVAT: String) -> String {
        #"{"dog_id": "\#(agreement)", "sku": "sku-\#(service.prefix(3).lowercased())", "servname": "\#(service)", "resource_id": "\#(resource)", "#
            + #""resource_name": "\#(resource)", "usedate": "\#(day)", "amount": \#(amount), "amount_nds": \#(withVAT), "unit": "h", "#
            + #""updated_dt": "\#(day)T23:00:00Z"}"#
    }

    static let rows = [
        row("2026-10-31", "vm-001", "Compute", "100.00", "122.00"),
        row("2026-11-01", "vm-001", "Compute", "48.10", "58.682"),
        row("2026-11-19", "vm-002", "Compute", "12.34", "15.0548"),
        row("2026-11-19", "fip-old", "Public IP", "3.60", "4.392"),
        row("2026-11-19", "fip-nat", "Public IP", "3.60", "4.392"),
        row("2026-11-20", "vm-001", "Compute", "7.05", "8.601"),
    ]

    /// `limit` as the API validates it: 1…100, default 50; nil (a 422) otherwise.
    private func limit(_ query: Parameters) -> Int? {
        guard let text = query.get("limit") else { return 50 }
        guard let limit = Int(text), limit > 0, limit <= 100 else { return nil }
        return limit
    }

    private static let tooLarge = #"{"detail": [{"loc": ["query", "limit"], "msg": "ensure this value is less than or equal to 100", "type": "value_error.number.not_le"}]}"#

    private func authorised(_ request: Request) -> Bool {
        request.headers[.authorization]?.hasPrefix("Bearer cloudru-estate-token-") == true
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/api/v1/auth/token") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            self.requests.withLock { $0.append("POST token") }
            guard body.contains(Self.keyID), body.contains(Self.keySecret) else { return self.json(#"{"code": 16}"#, status: .unauthorized) }
            let number = self.issued.withLock { $0 += 1; return $0 }
            return self.json(#"{"access_token": "cloudru-estate-token-\#(number)", "id_token": "\#(Self.idToken)", "expires_in": 3600, "#
                             + #""token_type": "Bearer", "scope": "openid profile email phone"}"#)
        }
        router.get("/api/v1/vms") { request, _ -> Response in
            let query = request.uri.queryParameters
            self.requests.withLock { $0.append("GET vms offset=\(query.get("offset") ?? "") limit=\(query.get("limit") ?? "")") }
            guard self.authorised(request) else { return self.json("{}", status: .unauthorized) }
            guard query.get("project_id") == Self.project else { return self.json(#"{"items": [], "total": 0}"#) }
            guard let limit = self.limit(query) else { return self.json(Self.tooLarge, status: .unprocessableContent) }
            let offset = Int(query.get("offset") ?? "") ?? 0
            let items = (1...Self.vmCount).dropFirst(offset).prefix(limit).map(Self.vm)
            return self.json(#"{"items": [\#(items.joined(separator: ", "))], "offset": \#(offset), "limit": \#(limit), "total": \#(Self.vmCount)}"#)
        }
        router.get("/api/v1/vms/:id") { request, context -> Response in
            guard self.authorised(request) else { return self.json("{}", status: .unauthorized) }
            let id = context.parameters.get("id") ?? ""
            guard let number = (1...Self.vmCount).first(where: { Self.vmID($0) == id }) else { return self.json("{}", status: .notFound) }
            return self.json(String(Self.vm(number).dropLast()) + #", "disks": []}"#)
        }
        router.get("/api/v1/floating-ips") { request, _ -> Response in
            let query = request.uri.queryParameters
            self.requests.withLock { $0.append("GET floating-ips offset=\(query.get("offset") ?? "") limit=\(query.get("limit") ?? "")") }
            guard self.authorised(request) else { return self.json("{}", status: .unauthorized) }
            guard let limit = self.limit(query) else { return self.json(Self.tooLarge, status: .unprocessableContent) }
            let offset = Int(query.get("offset") ?? "") ?? 0
            let items = Self.floatingIPs.dropFirst(offset).prefix(limit)
            return self.json(#"{"items": [\#(items.joined(separator: ", "))], "offset": \#(offset), "limit": \#(limit), "total": \#(Self.floatingIPs.count)}"#)
        }
        router.get("/v2/consumption") { request, _ -> Response in
            let query = request.uri.queryParameters
            let token = query.get("page_filter.page_token") ?? ""
            self.requests.withLock { $0.append("GET v2 token=\(token) size=\(query.get("page_filter.page_size") ?? "")") }
            if self.behaviour.refuseV2 { return self.json(#"{"message": "Not Found"}"#, status: .notFound) }
            guard self.authorised(request) else { return self.json("{}", status: .unauthorized) }
            guard query.get("agreement_id") == Self.agreement, query.get("start_date") != nil, query.get("end_date") != nil else {
                return self.json(#"{"message": "agreement_id, start_date and end_date are required"}"#, status: .badRequest)
            }
            guard let size = Int(query.get("page_filter.page_size") ?? ""), size > 0, size <= 25_000 else {
                return self.json(#"{"message": "page_filter.page_size must be in 1..25000"}"#, status: .badRequest)
            }
            let offset = token.isEmpty ? 0 : Int(token.dropFirst("page-".count)) ?? -1
            guard offset >= 0 else { return self.json(#"{"message": "invalid page_token"}"#, status: .badRequest) }
            let page = Self.rows.dropFirst(offset).prefix(size)
            let next = offset + size < Self.rows.count ? #", "next_page_token": "page-\#(offset + size)""# : ""
            return self.json(#"{"consumptions": [\#(page.joined(separator: ", "))]\#(next)}"#)
        }
        router.get("/v1/consumption") { request, _ -> Response in
            let query = request.uri.queryParameters
            self.requests.withLock { $0.append("GET v1 page=\(query.get("page_filter.page") ?? "")") }
            guard self.authorised(request) else { return self.json("{}", status: .unauthorized) }
            let page = Int(query.get("page_filter.page") ?? "") ?? 1, limit = Int(query.get("page_filter.limit") ?? "") ?? 100
            let rows = Self.rows.dropFirst((page - 1) * limit).prefix(limit)
            return self.json(#"{"consumptions": [\#(rows.joined(separator: ", "))]}"#)
        }
        return router
    }
}
