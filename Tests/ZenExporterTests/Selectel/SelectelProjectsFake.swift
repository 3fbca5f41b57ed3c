import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// One Selectel account with three cloud projects on 127.0.0.1, in the documented shapes
/// (PROVIDERS.md §1.2–1.6): the resell v2 projects list, Keystone v3 project-scoped tokens
/// (201 with `X-Subject-Token`), account-wide consumption statistics whose rows name their
/// project, and Nova, Cinder, Neutron and Gnocchi in ru-1 that answer each project's token
/// with that project's servers and volumes only.
///
/// - prod: its Nova lists web-a (its disk disk-a attached); zombie-a is billed but not listed.
/// - staging: Keystone refuses its token (403: the service user has no role there); its Nova,
///   were it reached, would list nothing.
/// - client: its Nova lists nothing; a configuration may leave it out.
final class SelectelProjectsFake: Sendable {
    static let account = "200001"
    static let staticToken = "fixture-projects-static-Xtoken-9f8e7d"
    static let username = "finops-exporter"
    static let password = "fixture-projects-password-S3cr3t"
    /// Every token the fake issues starts with this (gAAAA… is how Keystone tokens look).
    static let tokenPrefix = "gAAAAB-fixture-token-"

    static let prod = "a1000000000000000000000000000001"
    static let staging = "b2000000000000000000000000000002"
    static let client = "c3000000000000000000000000000003"
    static let projectNames = [prod: "prod", staging: "staging", client: "client-x"]

    static let webA = "11111111-0000-4000-8000-000000000001"
    static let diskA = "11111111-0000-4000-8000-000000000002"
    static let zombieA = "11111111-0000-4000-8000-000000000003"
    static let stageVM = "22222222-0000-4000-8000-000000000001"
    static let clientVM = "33333333-0000-4000-8000-000000000001"
    static let clientDisk = "33333333-0000-4000-8000-000000000002"

    /// One consumption row: project, object, parent, type, zone, Moscow period, kopecks.
    struct Row: Sendable {
        var project: String
        var id: String
        var name: String
        var parent: String = ""
        var type: String
        var zone: String
        var period: String
        var kopecks: Int
        var providerKey = "vpc"
    }

    /// How the account differs from the one above.
    struct Behaviour: Sendable {
        /// Hourly rows added to the fixture's, by their period.
        var extraHourly: [String: [Row]] = [:]
        /// `/vpc/resell/v2/projects` refuses the static `X-Token` (403) and answers only a
        /// Keystone token scoped to the account's domain, at the catalog's `resell` endpoint.
        var projectsByKeystoneOnly = false
        /// The statistics API refuses (400) any `group_type` but the documented ones.
        var documentedGroupTypesOnly = false
    }

    /// The provider keys the statistics API documents (docs.selectel.ru/en/api/balance-statistics).
    static let documentedProviderKeys: Set = ["vpc", "serverless", "mks", "dbaas", "storage", "cdn", "vmware", "craas", "ones", "mobfarm", "ses"]
    static let documentedGroupTypes: Set = ["project", "object", "metric", "project_metric", "region_metric"]

    /// The rows of one billed hour; the same every hour the fixture bills.
    static func hour(_ period: String) -> [Row] {
        [
            Row(project: prod, id: webA, name: "web-a", type: "cloud_vm", zone: "ru-1a", period: period, kopecks: 120),
            Row(project: prod, id: webA, name: "web-a", type: "cloud_vm", zone: "ru-1a", period: period, kopecks: 80),
            Row(project: prod, id: diskA, name: "disk-a", parent: webA, type: "volume_gigabytes_universal", zone: "ru-1a", period: period, kopecks: 30),
            Row(project: prod, id: zombieA, name: "zombie-a", type: "cloud_vm", zone: "ru-1a", period: period, kopecks: 150),
            Row(project: staging, id: stageVM, name: "stage-vm", type: "cloud_vm", zone: "ru-1a", period: period, kopecks: 250),
            Row(project: client, id: clientVM, name: "client-vm", type: "cloud_vm", zone: "ru-1b", period: period, kopecks: 400),
            Row(project: client, id: clientDisk, name: "client-disk", parent: clientVM, type: "volume_gigabytes_universal", zone: "ru-1b",
                period: period, kopecks: 45),
        ]
    }

    /// Hourly rows: yesterday's and today's 10:00 (Moscow); today's is the latest billed hour.
    static let hourly = hour("2026-11-19T10:00:00") + hour("2026-11-20T10:00:00")
    /// Daily rows of the history: 10 November, and 30 October (last month).
    static let daily = [
        Row(project: prod, id: webA, name: "web-a", type: "cloud_vm", zone: "ru-1a", period: "2026-11-10T00:00:00", kopecks: 4800),
        Row(project: prod, id: zombieA, name: "zombie-a", type: "cloud_vm", zone: "ru-1a", period: "2026-11-10T00:00:00", kopecks: 3600),
        Row(project: staging, id: stageVM, name: "stage-vm", type: "cloud_vm", zone: "ru-1a", period: "2026-11-10T00:00:00", kopecks: 6000),
        Row(project: client, id: clientVM, name: "client-vm", type: "cloud_vm", zone: "ru-1b", period: "2026-11-10T00:00:00", kopecks: 9600),
        Row(project: client, id: clientVM, name: "client-vm", type: "cloud_vm", zone: "ru-1b", period: "2026-10-30T00:00:00", kopecks: 9600),
    ]

    let server: LoopbackServer
    let behaviour: Behaviour
    let requests = Mutex<[String]>([])
    /// Issued token → its project (the account number for a domain-scoped token).
    private let tokens = Mutex<[String: String]>([:])
    private let issued = Mutex(0)

    init(_ behaviour: Behaviour = Behaviour()) throws {
        server = try LoopbackServer()
        self.behaviour = behaviour
    }

    var baseURL: String { server.baseURL }
    func count(_ prefix: String) -> Int { requests.withLock { $0.filter { $0.hasPrefix(prefix) }.count } }
    var issuedTokens: [String] { tokens.withLock { Array($0.keys) } }
    func start() async throws { try await server.start(router()) }
    func stop() async { await server.stop() }

    private func json(_ status: HTTPResponse.Status, _ text: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private func header(_ request: Request, _ name: String) -> String? {
        HTTPFields.Element.Name(name).flatMap { request.headers[$0] }
    }

    /// The project of the request's `X-Auth-Token`, if the fake issued it.
    private func project(of request: Request) -> String? {
        guard let token = header(request, "X-Auth-Token") else { return nil }
        return tokens.withLock { $0[token] }
    }

    static func consumptionBody(_ rows: [Row]) -> String {
        let objects = rows.map { row in
            """
            {"account_id": "\(account)", "balance": null, "provider_key": "\(row.providerKey)",
             "project": {"id": "\(row.project)", "name": "\(projectNames[row.project] ?? "")"},
             "object": {"id": "\(row.id)", "name": "\(row.name)", "parent_id": "\(row.parent)", "parent_name": "",
                        "type": "\(row.type)", "type_name": "x"},
             "metric": {"id": "\(row.type)", "name": "\(row.type)", "locale": "en", "quantity": 1, "region": "\(row.zone)", "unit": "item"},
             "period": "\(row.period)", "provision_start": "", "provision_end": "", "value": \(row.kopecks)}
            """
        }
        return #"{"status": "success", "data": ["# + objects.joined(separator: ",\n") + "]}"
    }

    private func catalog(_ project: String) -> String {
        let base = "\(baseURL)/ru-1"
        return """
        [{"type": "compute", "name": "nova", "endpoints": [{"interface": "public", "region": "ru-1", "region_id": "ru-1", "url": "\(base)/compute/v2.1"}]},
         {"type": "volumev3", "name": "cinderv3", "endpoints": [{"interface": "public", "region_id": "ru-1", "url": "\(base)/volume/v3/\(project)"}]},
         {"type": "network", "name": "neutron", "endpoints": [{"interface": "public", "region_id": "ru-1", "url": "\(base)/network"}]},
         {"type": "metric", "name": "gnocchi", "endpoints": [{"interface": "public", "region_id": "ru-1", "url": "\(base)/metric"}]}]
        """
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/identity/v3/auth/tokens") { request, _ -> Response in
            let data = Data(buffer: try await request.body.collect(upTo: 1 << 16))
            let auth = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["auth"] as? [String: Any]
            let user = ((auth?["identity"] as? [String: Any])?["password"] as? [String: Any])?["user"] as? [String: Any]
            let project = ((auth?["scope"] as? [String: Any])?["project"] as? [String: Any])?["id"] as? String ?? ""
            let domain = ((auth?["scope"] as? [String: Any])?["domain"] as? [String: Any])?["name"] as? String
            self.requests.withLock { $0.append(domain.map { "POST identity domain \($0)" } ?? "POST identity \(project)") }
            guard user?["name"] as? String == Self.username, user?["password"] as? String == Self.password,
                  (user?["domain"] as? [String: Any])?["name"] as? String == Self.account else {
                return self.json(.unauthorized, #"{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}"#)
            }
            if let domain {
                guard domain == Self.account else { return self.json(.unauthorized, #"{"error": {"code": 401}}"#) }
                let token = Self.tokenPrefix + "domain-\(self.issued.withLock { $0 += 1; return $0 })"
                self.tokens.withLock { $0[token] = Self.account }
                var headers = HTTPFields()
                headers[HTTPFields.Element.Name("X-Subject-Token")!] = token
                return self.json(.created, """
                    {"token": {"methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z", "domain": {"id": "\(Self.account)", "name": "\(Self.account)"},
                     "catalog": [{"type": "resell", "name": "resell", "endpoints": [
                        {"interface": "public", "region_id": "ru-1", "url": "\(self.baseURL)/vpc/resell"},
                        {"interface": "admin", "region_id": "ru-1", "url": "http://0.0.0.0:1/vpc/resell"}]}]}}
                    """, headers: headers)
            }
            guard let name = Self.projectNames[project], project != Self.staging else {
                return self.json(.forbidden, #"{"error": {"code": 403, "title": "Forbidden", "message": "You are not authorized to perform the requested action."}}"#)
            }
            let token = Self.tokenPrefix + "\(project)-\(self.issued.withLock { $0 += 1; return $0 })"
            self.tokens.withLock { $0[token] = project }
            var headers = HTTPFields()
            headers[HTTPFields.Element.Name("X-Subject-Token")!] = token
            return self.json(.created, """
                {"token": {"methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
                 "project": {"id": "\(project)", "name": "\(name)", "domain": {"name": "\(Self.account)"}},
                 "catalog": \(self.catalog(project))}}
                """, headers: headers)
        }
        router.get("/v3/balances") { request, _ -> Response in
            guard self.header(request, "X-Token") == Self.staticToken else { return self.json(.unauthorized, "{}") }
            return self.json(.ok, #"{"status": "success", "data": {"settings": {"currency": "rub"}, "billings": [{"billing_type": "primary", "final_sum": 1000000}]}}"#)
        }
        router.get("/vpc/resell/v2/projects") { request, _ -> Response in
            self.requests.withLock { $0.append("GET projects") }
            if self.behaviour.projectsByKeystoneOnly {
                guard self.project(of: request) == Self.account else {
                    return self.json(.forbidden, #"{"error": "X-Token is not accepted here: use a Keystone token"}"#)
                }
            } else {
                guard self.header(request, "X-Token") == Self.staticToken else { return self.json(.unauthorized, "{}") }
            }
            let projects = [Self.prod, Self.staging, Self.client].map { id in
                #"{"id": "\#(id)", "name": "\#(Self.projectNames[id] ?? "")", "enabled": true, "url": "https://200001.selvpc.ru", "custom_url": null, "theme": {"color": "", "logo": null}}"#
            }
            return self.json(.ok, #"{"projects": ["# + projects.joined(separator: ", ") + "]}")
        }
        router.get("/v1/cloud_billing/statistic/consumption") { request, _ -> Response in
            let query = request.uri.queryParameters
            let grouping = query.get("period_group_type") ?? ""
            let start = query.get("start") ?? "", end = query.get("end") ?? ""
            let groupType = query.get("group_type") ?? ""
            self.requests.withLock { $0.append("GET consumption \(grouping) \(start) \(groupType)") }
            guard self.header(request, "X-Token") == Self.staticToken else { return self.json(.unauthorized, "{}") }
            if self.behaviour.documentedGroupTypesOnly, !Self.documentedGroupTypes.contains(groupType) {
                return self.json(.badRequest, #"{"status": "error", "error": "group_type: unknown value"}"#)
            }
            // provider_keys is required; only the keys asked for are answered.
            let keys = Set(query.getAll("provider_keys"))
            guard !keys.isEmpty, keys.isSubset(of: Self.documentedProviderKeys) else {
                return self.json(.badRequest, #"{"status": "error", "error": "provider_keys: required, one of the documented keys"}"#)
            }
            let hourly = Self.hourly + self.behaviour.extraHourly.sorted { $0.key < $1.key }.flatMap(\.value)
            let rows = (grouping == "hour" ? hourly : Self.daily).filter { $0.period >= start && $0.period <= end && keys.contains($0.providerKey) }
            return self.json(.ok, Self.consumptionBody(rows))
        }
        router.get("/ru-1/compute/v2.1/servers/detail") { request, _ -> Response in
            guard let project = self.project(of: request) else { return self.json(.unauthorized, #"{"error": {"code": 401}}"#) }
            self.requests.withLock { $0.append("GET nova \(project)") }
            guard project == Self.prod else { return self.json(.ok, #"{"servers": []}"#) }
            return self.json(.ok, """
                {"servers": [{"id": "\(Self.webA)", "name": "web-a", "status": "ACTIVE", "tenant_id": "\(project)",
                  "created": "2026-10-01T09:15:02Z", "OS-EXT-AZ:availability_zone": "ru-1a",
                  "flavor": {"original_name": "SL1.2-4096", "vcpus": 2, "ram": 4096, "disk": 0}, "metadata": {}}]}
                """)
        }
        router.get("/ru-1/volume/v3/:project/volumes/detail") { request, context -> Response in
            guard let project = self.project(of: request) else { return self.json(.unauthorized, "{}") }
            guard project == context.parameters.get("project") else { return self.json(.forbidden, "{}") }
            guard project == Self.prod else { return self.json(.ok, #"{"volumes": []}"#) }
            return self.json(.ok, """
                {"volumes": [{"id": "\(Self.diskA)", "name": "disk-a", "size": 20, "status": "in-use", "volume_type": "universal.ru-1a",
                  "bootable": "true", "availability_zone": "ru-1a", "created_at": "2026-10-01T09:14:40.000000",
                  "attachments": [{"server_id": "\(Self.webA)", "volume_id": "\(Self.diskA)", "device": "/dev/sda"}]}]}
                """)
        }
        router.get("/ru-1/network/v2.0/ports") { request, _ -> Response in
            guard self.project(of: request) != nil else { return self.json(.unauthorized, "{}") }
            return self.json(.ok, #"{"ports": []}"#)
        }
        router.post("/ru-1/metric/v1/aggregates") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 16)
            guard self.project(of: request) != nil else { return self.json(.unauthorized, "{}") }
            return self.json(.ok, #"{"measures": {"aggregated": [["2026-11-20T08:00:00+00:00", 300.0, 10.0]]}}"#)
        }
        return router
    }
}
