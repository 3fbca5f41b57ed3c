import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A Keystone v3 cloud on 127.0.0.1: Keystone (password and application credential), and two
/// regions of Nova (paged), Cinder, Neutron floating IPs and, in RegionOne only, Gnocchi. No
/// Octavia or Manila in the catalog. RegionTwo's Nova answers 500 unless told otherwise.
///
/// RegionOne holds, in the project `OpenStackFake.project` (times UTC):
///   vm-app      STD3-2-4, ACTIVE, created 2026-10-15        (page 1)
///   vm-gpu      GPU-X (no price), ACTIVE, created 2026-10-15 (page 1)
///   vm-stopped  STD3-2-4, SHUTOFF since 2026-11-01T07:00Z    (page 1)
///   vm-new      STD3-4-8, ACTIVE, created 2026-11-02T03:00Z  (page 2)
///   vol-app     100 GB ceph-ssd on vm-app, created 2026-10-15
///   vol-stopped  50 GB ceph-hdd on vm-stopped, created 2026-10-15
///   vol-orphan   20 GB ceph-ssd, attached to nothing, created 2026-10-01
///   fip-bound   on a port, created 2026-10-15
///   fip-free    on no port, created 2026-11-01T21:00Z
final class OpenStackFake: Sendable {
    struct Behaviour: Sendable {
        /// The first token issued is refused by Nova once, as an expired one would be.
        var expireFirstToken = false
        var failRegionTwoNova = true
        /// vm-new is gone (deleted) from Nova's second page.
        var deleteNewVM = false
        /// RegionOne's Nova answers 500 too.
        var failRegionOneNova = false
        /// The catalog lists Octavia and Manila in RegionOne: one load balancer (lb-web, created
        /// 2026-10-15) and one 100 GB share of type `default` (share-1, created 2026-10-15).
        var octaviaAndManila = false
        /// Nova's first page links its next page on this base URL instead of its own.
        var nextPageBase: String?
        /// VK Cloud's billing API: the body of `/billing/public/v1/projects/<vkPID>/balances/amount`
        /// for a valid token; nil answers 404 ("Project not found"), as the reference allows.
        var vkBalance: String?
        /// Cinder names the volume types by VK Cloud's outdated names: vol-app `ko1-ssd`
        /// (now ceph-ssd), vol-stopped `dp1` (now ceph-hdd).
        var legacyVolumeTypes = false
        /// RegionOne's Neutron has the external network `ext-net` (id net-ext) with three ports:
        /// port-vm (203.0.113.50, on vm-app, created 2026-10-15), a router's gateway and a
        /// floating IP's own port.
        var externalNetwork = false
    }

    /// A VK Cloud project's PID (`mcsNNNNNNNNNN`), which is not its OpenStack project ID.
    static let vkPID = "mcs0123456789"

    static let project = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    static let username = "finops@example.com"
    static let password = "fixture-openstack-password"
    static let credentialID = "appcred-4f1e"
    static let credentialSecret = "fixture-appcred-secret"

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
    var identityURL: String { "\(baseURL)/identity/v3" }
    func count(_ prefix: String) -> Int { requests.withLock { $0.filter { $0.hasPrefix(prefix) }.count } }
    func start() async throws { try await server.start(router()) }
    func stop() async { await server.stop() }

    private func json(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text.replacingOccurrences(of: "BASE", with: baseURL))))
    }

    private func tokenValid(_ request: Request) -> Bool {
        guard let token = request.headers[HTTPFields.Element.Name("X-Auth-Token")!], token.hasPrefix("os-token-") else { return false }
        if token == "os-token-1", behaviour.withLock(\.expireFirstToken) {
            return refusedOnce.withLock { refused in defer { refused = true }; return refused }
        }
        return true
    }

    static let catalog = """
    [{"type": "compute", "endpoints": [
        {"interface": "public", "region_id": "RegionOne", "url": "BASE/r1/compute/v2.1"},
        {"interface": "internal", "region_id": "RegionOne", "url": "http://10.0.0.1:8774/v2.1"},
        {"interface": "public", "region_id": "RegionTwo", "url": "BASE/r2/compute/v2.1/"}]},
     {"type": "volumev3", "endpoints": [
        {"interface": "public", "region_id": "RegionOne", "url": "BASE/r1/volume/v3/\(project)"},
        {"interface": "public", "region_id": "RegionTwo", "url": "BASE/r2/volume/v3/\(project)"}]},
     {"type": "network", "endpoints": [
        {"interface": "public", "region_id": "RegionOne", "url": "BASE/r1/network"},
        {"interface": "public", "region_id": "RegionTwo", "url": "BASE/r2/network"}]},
     {"type": "metric", "endpoints": [{"interface": "public", "region_id": "RegionOne", "url": "BASE/r1/metric"}]}]
    """

    static let page1 = """
    {"servers": [
      {"id": "vm-app", "name": "app-1", "status": "ACTIVE", "created": "2026-10-15T09:00:00Z",
       "flavor": {"original_name": "STD3-2-4", "vcpus": 2, "ram": 4096}, "metadata": {"team": "web", "db_password": "hunter2-meta"}},
      {"id": "vm-gpu", "name": "gpu-1", "status": "ACTIVE", "created": "2026-10-15T09:00:00Z",
       "flavor": {"original_name": "GPU-X", "vcpus": 8, "ram": 65536}},
      {"id": "vm-stopped", "name": "old-1", "status": "SHUTOFF", "created": "2026-10-15T09:00:00Z", "updated": "2026-11-01T07:00:00Z",
       "flavor": {"original_name": "STD3-2-4", "vcpus": 2, "ram": 4096}}],
     "servers_links": [{"rel": "next", "href": "BASE/r1/compute/v2.1/servers/detail?marker=vm-stopped"}]}
    """

    static let page2 = """
    {"servers": [
      {"id": "vm-new", "name": "new-1", "status": "ACTIVE", "created": "2026-11-02T03:00:00Z",
       "flavor": {"original_name": "STD3-4-8", "vcpus": 4, "ram": 8192}}]}
    """

    static let volumes = """
    {"volumes": [
      {"id": "vol-app", "name": "app-1-root", "size": 100, "status": "in-use", "volume_type": "ceph-ssd",
       "created_at": "2026-10-15T09:00:00.000000", "attachments": [{"server_id": "vm-app"}]},
      {"id": "vol-stopped", "name": "old-1-root", "size": 50, "status": "in-use", "volume_type": "ceph-hdd",
       "created_at": "2026-10-15T09:00:00.000000", "attachments": [{"server_id": "vm-stopped"}]},
      {"id": "vol-orphan", "name": "leftover", "size": 20, "status": "available", "volume_type": "ceph-ssd",
       "created_at": "2026-10-01T09:00:00.000000", "attachments": []}]}
    """

    static let floatingIPs = """
    {"floatingips": [
      {"id": "fip-bound", "floating_ip_address": "203.0.113.10", "port_id": "port-1", "status": "ACTIVE", "created_at": "2026-10-15T09:00:00Z"},
      {"id": "fip-free", "floating_ip_address": "203.0.113.11", "port_id": null, "status": "DOWN", "created_at": "2026-11-01T21:00:00Z"}]}
    """

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/identity/v3/auth/tokens") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            self.requests.withLock { $0.append("POST identity") }
            let password = body.contains(Self.password) && body.contains(Self.username) && body.contains(Self.project)
            let credential = body.contains("application_credential") && body.contains(Self.credentialID) && body.contains(Self.credentialSecret)
            guard password || credential else { return self.json(#"{"error": {"code": 401, "title": "Unauthorized"}}"#, status: .unauthorized) }
            let number = self.tokensIssued.withLock { count in count += 1; return count }
            var headers = HTTPFields()
            headers[HTTPFields.Element.Name("X-Subject-Token")!] = "os-token-\(number)"
            var catalog = Self.catalog
            if self.behaviour.withLock(\.octaviaAndManila) {
                catalog = String(catalog.dropLast()) + #", {"type": "load-balancer", "endpoints": [{"interface": "public", "region_id": "RegionOne", "url": "BASE/r1/lb"}]},"#
                    + #" {"type": "sharev2", "endpoints": [{"interface": "public", "region_id": "RegionOne", "url": "BASE/r1/share/v2/\#(Self.project)"}]}]"#
            }
            return self.json(#"{"token": {"expires_at": "2099-01-01T00:00:00.000000Z", "catalog": \#(catalog)}}"#, status: .created, headers: headers)
        }
        router.get("/:region/compute/v2.1/servers/detail") { request, context -> Response in
            let region = context.parameters.get("region") ?? ""
            self.requests.withLock { $0.append("GET nova \(region) \(request.headers[HTTPFields.Element.Name("X-OpenStack-Nova-API-Version")!] ?? "")") }
            guard self.tokenValid(request) else { return self.json(#"{"error": {"code": 401}}"#, status: .unauthorized) }
            if region == "r2" {
                return self.behaviour.withLock(\.failRegionTwoNova) ? self.json(#"{"computeFault": {"code": 500}}"#, status: .internalServerError)
                                                                    : self.json(#"{"servers": []}"#)
            }
            if self.behaviour.withLock(\.failRegionOneNova) { return self.json(#"{"computeFault": {"code": 500}}"#, status: .internalServerError) }
            if request.uri.queryParameters.get("marker") == nil {
                guard let elsewhere = self.behaviour.withLock(\.nextPageBase) else { return self.json(Self.page1) }
                return self.json(Self.page1.replacingOccurrences(of: "BASE/r1/compute/v2.1/servers/detail", with: "\(elsewhere)/r1/compute/v2.1/servers/detail"))
            }
            return self.behaviour.withLock(\.deleteNewVM) ? self.json(#"{"servers": []}"#) : self.json(Self.page2)
        }
        router.get("/:region/volume/v3/:project/volumes/detail") { request, context -> Response in
            guard self.tokenValid(request) else { return self.json("{}", status: .unauthorized) }
            guard context.parameters.get("region") == "r1" else { return self.json(#"{"volumes": []}"#) }
            guard self.behaviour.withLock(\.legacyVolumeTypes) else { return self.json(Self.volumes) }
            return self.json(Self.volumes.replacingOccurrences(of: #""status": "in-use", "volume_type": "ceph-ssd""#,
                                                               with: #""status": "in-use", "volume_type": "ko1-ssd""#)
                .replacingOccurrences(of: #""volume_type": "ceph-hdd""#, with: #""volume_type": "dp1""#))
        }
        router.get("/:region/network/v2.0/floatingips") { request, context -> Response in
            guard self.tokenValid(request) else { return self.json("{}", status: .unauthorized) }
            return context.parameters.get("region") == "r1" ? self.json(Self.floatingIPs) : self.json(#"{"floatingips": []}"#)
        }
        router.get("/:region/lb/v2/lbaas/loadbalancers") { request, _ -> Response in
            guard self.tokenValid(request) else { return self.json("{}", status: .unauthorized) }
            return self.json(#"{"loadbalancers": [{"id": "lb-web", "name": "web-lb", "provisioning_status": "ACTIVE", "operating_status": "ONLINE", "created_at": "2026-10-15T09:00:00"}]}"#)
        }
        router.get("/:region/share/v2/:project/shares/detail") { request, _ -> Response in
            guard self.tokenValid(request) else { return self.json("{}", status: .unauthorized) }
            return self.json(#"{"shares": [{"id": "share-1", "name": "files", "size": 100, "status": "available", "share_type_name": "default", "created_at": "2026-10-15T09:00:00.000000"}]}"#)
        }
        router.get("/:region/network/v2.0/networks") { request, context -> Response in
            guard self.tokenValid(request) else { return self.json("{}", status: .unauthorized) }
            let name = request.uri.queryParameters.get("name") ?? ""
            guard context.parameters.get("region") == "r1", name == "ext-net", self.behaviour.withLock(\.externalNetwork) else {
                return self.json(#"{"networks": []}"#)
            }
            return self.json(#"{"networks": [{"id": "net-ext", "name": "ext-net", "router:external": true}]}"#)
        }
        router.get("/:region/network/v2.0/ports") { request, _ -> Response in
            guard self.tokenValid(request) else { return self.json("{}", status: .unauthorized) }
            self.requests.withLock { $0.append("GET ports \(request.uri.queryParameters.get("network_id") ?? "")") }
            guard request.uri.queryParameters.get("network_id") == "net-ext" else { return self.json(#"{"ports": []}"#) }
            return self.json("""
                {"ports": [
                  {"id": "port-vm", "name": "", "network_id": "net-ext", "device_id": "vm-app", "device_owner": "compute:GZ1", "status": "ACTIVE",
                   "fixed_ips": [{"subnet_id": "s-1", "ip_address": "203.0.113.50"}], "created_at": "2026-10-15T09:00:00Z"},
                  {"id": "port-gw", "name": "", "network_id": "net-ext", "device_id": "router-1", "device_owner": "network:router_gateway",
                   "status": "ACTIVE", "fixed_ips": [{"subnet_id": "s-1", "ip_address": "203.0.113.51"}], "created_at": "2026-10-15T09:00:00Z"},
                  {"id": "port-fip", "name": "", "network_id": "net-ext", "device_id": "fip-bound", "device_owner": "network:floatingip",
                   "status": "ACTIVE", "fixed_ips": [{"subnet_id": "s-1", "ip_address": "203.0.113.10"}], "created_at": "2026-10-15T09:00:00Z"}]}
                """)
        }
        router.get("/billing/public/v1/projects/:pid/balances/amount") { request, context -> Response in
            self.requests.withLock { $0.append("GET balance \(context.parameters.get("pid") ?? "")") }
            guard self.tokenValid(request) else { return self.json(#"{"error": "Unauthorized"}"#, status: .unauthorized) }
            guard context.parameters.get("pid") == Self.vkPID, let body = self.behaviour.withLock(\.vkBalance) else {
                return self.json(#"{"error": "Project not found"}"#, status: .notFound)
            }
            return self.json(body)
        }
        router.post("/:region/metric/v1/aggregates") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            self.requests.withLock { $0.append("POST gnocchi") }
            guard self.tokenValid(request) else { return self.json("{}", status: .unauthorized) }
            // CPU 10 % and 1024 MB of memory for every server.
            let value = body.contains("memory.usage") ? "1024.0" : "10.0"
            return self.json(#"{"measures": {"aggregated": [["2026-11-02T08:50:00+00:00", 300.0, \#(value)]]}}"#)
        }
        return router
    }
}
