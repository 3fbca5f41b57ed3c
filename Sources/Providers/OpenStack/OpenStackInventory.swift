import AsyncHTTPClient
import CostModel
import Foundation
import Ingest
import NIOCore
import SourceKit
import Synchronization

/// One Keystone v3 cloud's inventory, shared by two billing sides: Selectel (billing-first:
/// the bill is the cost, this only enriches it) and `type: openstack` (a price list turns what
/// is found here into the cost). Per project, one Keystone token opens Nova, Cinder, Neutron,
/// Gnocchi and, where asked and present in the catalog, Manila and Octavia in every region of
/// that project's catalog. Each project, endpoint and region fails alone.
package struct OpenStackInventory: Sendable {
    /// Service type → region → public URL, from one project's token.
    package typealias Catalog = [String: [String: String]]

    /// What is read beyond servers and volumes.
    package enum Extra: Sendable, Hashable {
        /// Neutron ports bound to nothing or owned by a floating IP (Selectel's view).
        case ports
        /// Neutron floating IPs, unbound when no port holds them.
        case floatingIPs
        /// Manila shares, where the catalog has `sharev2`.
        case shares
        /// Octavia load balancers, where the catalog has `load-balancer`.
        case loadBalancers
    }

    package struct Options: Sendable {
        /// Regions to read; empty reads every region of the catalog.
        var regions: [String] = []
        var extras: Set<Extra> = []
        /// How often Gnocchi is asked for each server's utilisation; syncs in between reuse the
        /// last values (OpenStackUtilization.swift).
        var utilizationInterval: Duration = .seconds(3600)
        /// Gnocchi requests in flight at once.
        var utilizationConcurrency = 8
        /// The external network whose ports hold public addresses billed as such (VK Cloud:
        /// `ext-net`); nil reads none (OpenStackExternalPorts.swift).
        var externalNetwork: String?

        package init(regions: [String] = [], extras: Set<Extra> = [], utilizationInterval: Duration = .seconds(3600), utilizationConcurrency: Int = 8, externalNetwork: String? = nil) {
            self.regions = regions
            self.extras = extras
            self.utilizationInterval = utilizationInterval
            self.utilizationConcurrency = utilizationConcurrency
            self.externalNetwork = externalNetwork
        }
    }

    /// A record and the project × region whose listing returned it.
    struct Located<Record: Sendable>: Sendable {
        var scope: InventoryScope
        var record: Record
    }

    /// Everything listed, as the APIs gave it, for a billing side that prices it.
    package struct Found: Sendable {
        var servers: [Located<OpenStack.Servers.Server>] = []
        var volumes: [Located<OpenStack.Volumes.Volume>] = []
        var floatingIPs: [Located<OpenStack.FloatingIPs.FloatingIP>] = []
        var shares: [Located<OpenStack.Shares.Share>] = []
        var loadBalancers: [Located<OpenStack.LoadBalancers.LoadBalancer>] = []
        /// Ports on the external network: a public address each.
        var externalPorts: [Located<OpenStack.Ports.Port>] = []
        /// Project × region pairs whose Nova and Cinder both answered.
        var scopes: Set<InventoryScope> = []
        /// Each listing that answered: its project × region and resource type.
        var listed: Set<Listing> = []
    }

    struct Listing: Hashable, Sendable {
        var scope: InventoryScope
        var resourceType: String
    }

    let provider: String
    let http: ProviderClient
    let options: Options
    let state: OpenStackState
    /// Makes a project's Keystone session (nil: no credentials to make one with).
    let makeSession: @Sendable (String) -> KeystoneSession?
    /// The URL of a service the catalog does not list for a region; nil: there is none, and
    /// that service is not read there (an error for Nova and Cinder, skipped for the rest).
    let fallbackURL: @Sendable (_ type: String, _ scope: InventoryScope) -> String?

    /// The project's Keystone session, made on first use and kept with its token.
    func session(_ project: String) -> KeystoneSession? {
        state.sessions.withLock { sessions in
            if let known = sessions[project] { return known }
            guard let made = makeSession(project) else { return nil }
            sessions[project] = made
            return made
        }
    }

    /// Inventory and utilisation per project × region, each with the project's own token.
    /// Only a project × region whose Nova and Cinder both answered can prove a billed server
    /// or volume missing (`inventoriedScopes`): a project whose token is refused, a region
    /// that fails, a project not configured or not discovered judges nothing of its own.
    package func read(projects: [String], into snapshot: inout SourceSnapshot, window: CollectionWindow, started: ContinuousClock.Instant,
              failures: inout EndpointFailures) async throws -> Found {
        snapshot.inventoriedTypes = ["server", "volume"]
        var found = Found()
        var catalogs: [String: Catalog] = [:]
        var active: [ActiveServer] = []
        var listed: Set<InventoryScope> = []
        for project in projects {
            guard let session = session(project) else { continue }
            var catalog: Catalog = [:]
            // A refused token fails this project's inventory alone.
            guard try await failures.attempt({ try await Self.inProject(project) { catalog = try await session.token(now: window.now).catalog } })
            else { continue }
            catalogs[project] = catalog
            for region in regions(in: catalog) {
                let scope = InventoryScope(project: project, region: region)
                let serversRead = try await failures.attempt {
                    try await Self.inProject(project) {
                        let servers = try await self.servers(scope, catalog: catalog)
                        add(servers, scope, to: &snapshot, window: window)
                        found.servers += servers.map { Located(scope: scope, record: $0) }
                        active += servers.filter { $0.status == "ACTIVE" }.map { ActiveServer(server: $0, region: region, project: project) }
                        listed.insert(scope)
                        found.listed.insert(Listing(scope: scope, resourceType: "server"))
                    }
                }
                let volumesRead = try await failures.attempt {
                    try await Self.inProject(project) {
                        found.volumes += try await volumes(scope, catalog: catalog, into: &snapshot, window: window).map { Located(scope: scope, record: $0) }
                        found.listed.insert(Listing(scope: scope, resourceType: "volume"))
                    }
                }
                if options.extras.contains(.ports) {
                    try await failures.attempt { try await Self.inProject(project) { try await ports(scope, catalog: catalog, into: &snapshot, window: window) } }
                }
                if options.extras.contains(.floatingIPs) {
                    try await failures.attempt {
                        try await Self.inProject(project) {
                            found.floatingIPs += try await floatingIPs(scope, catalog: catalog, into: &snapshot, window: window).map { Located(scope: scope, record: $0) }
                            found.listed.insert(Listing(scope: scope, resourceType: "ip"))
                        }
                    }
                }
                if let network = options.externalNetwork {
                    try await failures.attempt {
                        try await Self.inProject(project) {
                            found.externalPorts += try await externalPorts(on: network, scope, catalog: catalog, into: &snapshot, window: window)
                                .map { Located(scope: scope, record: $0) }
                        }
                    }
                }
                if options.extras.contains(.shares), url("sharev2", scope, catalog) != nil {
                    try await failures.attempt {
                        try await Self.inProject(project) {
                            found.shares += try await shares(scope, catalog: catalog, into: &snapshot, window: window).map { Located(scope: scope, record: $0) }
                            found.listed.insert(Listing(scope: scope, resourceType: "file_storage"))
                        }
                    }
                }
                if options.extras.contains(.loadBalancers), url("load-balancer", scope, catalog) != nil {
                    try await failures.attempt {
                        try await Self.inProject(project) {
                            found.loadBalancers += try await loadBalancers(scope, catalog: catalog, into: &snapshot, window: window)
                                .map { Located(scope: scope, record: $0) }
                            found.listed.insert(Listing(scope: scope, resourceType: "load_balancer"))
                        }
                    }
                }
                if serversRead && volumesRead { found.scopes.insert(scope) }
            }
        }
        snapshot.utilization = try await utilization(of: active, listedScopes: listed, catalogs: catalogs, window: window,
                                                     started: started, failures: &failures)
        snapshot.inventoriedScopes = found.scopes
        return found
    }

    /// Runs `body`; a failure says which project it was (endpoint labels stay per region).
    static func inProject(_ project: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as SyncFailure {
            throw SyncFailure(endpoint: failure.endpoint, reason: failure.reason, message: "project \(project): \(failure.message)")
        }
    }

    private func regions(in catalog: Catalog) -> [String] {
        let discovered = Set(catalog["compute"]?.keys.map { $0 } ?? [])
        if discovered.isEmpty { return options.regions }
        return (options.regions.isEmpty ? Array(discovered) : options.regions.filter(discovered.contains)).sorted()
    }

    /// A service's URL in a region: the catalog's, else the billing side's fallback.
    func url(_ type: String, _ scope: InventoryScope, _ catalog: Catalog) -> String? {
        catalog[type]?[scope.region] ?? fallbackURL(type, scope)
    }

    /// The URL of a service the region cannot do without.
    private func required(_ type: String, _ scope: InventoryScope, _ catalog: Catalog, endpoint: String) throws -> String {
        guard let found = url(type, scope, catalog) else {
            throw SyncFailure(endpoint: endpoint, reason: "no_endpoint", message: "\(endpoint): the catalog lists no \(type) service in \(scope.region)")
        }
        return found
    }

    /// GET or POST with the project's token; a 401 re-issues that token once (it expired early).
    /// The URL comes from the Keystone catalog (or a page's next link): the token goes only
    /// where a configured base URL may send credentials (https://, or http:// to loopback).
    func openstack(_ url: String, project: String, endpoint: String, body: Data? = nil,
                   headers: [(String, String)] = []) async throws -> ProviderClient.Response {
        if let refusal = ConfigReader.credentialURLRefusal(url) {
            throw SyncFailure(endpoint: endpoint, reason: SyncFailure.insecureURL, message: "\(endpoint): the catalog's URL is refused: \(refusal)")
        }
        guard let session = session(project) else { throw SyncFailure(endpoint: endpoint, reason: "config", message: "no OpenStack credentials configured") }
        for attempt in 0..<2 {
            var request = HTTPClientRequest(url: url)
            let token = try await session.token().value
            request.headers.add(name: "X-Auth-Token", value: token)
            request.headers.add(name: "Accept", value: "application/json")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body {
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let response = try await http.send(request, endpoint: endpoint, accept: [401])
            if response.status != 401 { return response }
            if attempt == 0 { await session.invalidate(token) }
        }
        throw SyncFailure(endpoint: endpoint, reason: "http_401", message: "\(endpoint): token refused twice")
    }

    /// Every page of a listing, following the `<kind>_links` `next` href (at most 1,000 pages).
    /// A next link to another origin than the listing's first page is refused: the token
    /// would go with it.
    private func pages<Page: Decodable, Record>(_ first: String, _ scope: InventoryScope, endpoint: String, as type: Page.Type,
                                                headers: [(String, String)] = [],
                                                records: (Page) -> [Record], next: (Page) -> [OpenStack.Link]?) async throws -> [Record] {
        var url: String? = first
        let origin = ProviderClient.origin(URL(string: first))
        var all: [Record] = []
        var count = 0
        while let page = url, count < 1000 {
            let body = try http.decode(Page.self, from: try await openstack(page, project: scope.project, endpoint: endpoint, headers: headers),
                                       endpoint: endpoint)
            let found = records(body)
            all += found
            url = found.isEmpty ? nil : next(body)?.first { $0.rel == "next" }?.href
            if let link = url, ProviderClient.origin(URL(string: link)) != origin {
                throw SyncFailure(endpoint: endpoint, reason: SyncFailure.insecureURL, message: """
                    \(endpoint): the next page's link leaves \(origin ?? first) for \
                    \(ProviderClient.origin(URL(string: link)) ?? "a link without a host"); not followed with the token
                    """)
            }
            count += 1
        }
        return all
    }

    /// Nova microversion 2.47 puts the flavour's name (`original_name`) in each server; clouds
    /// older than that answer with the flavour's ID only.
    static let novaMicroversion = ("X-OpenStack-Nova-API-Version", "2.47")

    private func servers(_ scope: InventoryScope, catalog: Catalog) async throws -> [OpenStack.Servers.Server] {
        let endpoint = "nova/\(scope.region)"
        return try await pages("\(try required("compute", scope, catalog, endpoint: endpoint))/servers/detail", scope, endpoint: endpoint,
                               as: OpenStack.Servers.self, headers: [Self.novaMicroversion], records: \.servers, next: \.servers_links)
    }

    private func add(_ servers: [OpenStack.Servers.Server], _ scope: InventoryScope, to snapshot: inout SourceSnapshot, window: CollectionWindow) {
        let dates = ISO8601Dates()
        for server in servers {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: server.id, name: server.name ?? server.id, resourceType: "server", region: scope.region,
                status: server.status ?? "", flavor: server.flavor?.original_name ?? server.flavor?.id ?? "",
                createdAt: server.created.flatMap(dates.date) ?? window.now, tags: CredentialKeys.dropCredentials(server.metadata ?? [:]),
                project: scope.project))
        }
    }

    /// Cinder's timestamps have no zone; they are UTC.
    static func cinderDate(_ text: String, _ dates: ISO8601Dates) -> Date? {
        dates.date(text.hasSuffix("Z") || text.contains("+") ? text : text + "Z")
    }

    private func volumes(_ scope: InventoryScope, catalog: Catalog, into snapshot: inout SourceSnapshot,
                         window: CollectionWindow) async throws -> [OpenStack.Volumes.Volume] {
        let endpoint = "cinder/\(scope.region)"
        let volumes = try await pages("\(try required("volumev3", scope, catalog, endpoint: endpoint))/volumes/detail", scope, endpoint: endpoint,
                                      as: OpenStack.Volumes.self, records: \.volumes, next: \.volumes_links)
        let dates = ISO8601Dates()
        for volume in volumes {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: volume.id, name: volume.name ?? volume.id, resourceType: "volume", region: scope.region,
                status: volume.status ?? "", flavor: volume.volume_type.map { "\($0.split(separator: ".").first ?? "").\(volume.size ?? 0)GB" } ?? "",
                attachedTo: volume.attachments?.compactMap(\.server_id).first,
                createdAt: volume.created_at.flatMap { Self.cinderDate($0, dates) } ?? window.now, project: scope.project))
        }
        return volumes
    }

    /// Ports bound to nothing: addresses paid for and unused.
    private func ports(_ scope: InventoryScope, catalog: Catalog, into snapshot: inout SourceSnapshot, window: CollectionWindow) async throws {
        let region = scope.region
        let endpoint = "neutron/\(region)"
        let base = try required("network", scope, catalog, endpoint: endpoint)
        let body = try http.decode(OpenStack.Ports.self, from: try await openstack("\(base)/v2.0/ports", project: scope.project, endpoint: endpoint),
                                   endpoint: endpoint)
        for port in body.ports where port.device_owner == "network:floatingip" || (port.device_id ?? "").isEmpty {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: port.id, name: port.name ?? port.id, resourceType: "ip", region: region,
                status: (port.device_id ?? "").isEmpty ? "DOWN" : (port.status ?? ""), createdAt: window.now, project: scope.project))
        }
    }

    /// Floating IPs; one no port holds is `DOWN` (an address paid for and unused).
    private func floatingIPs(_ scope: InventoryScope, catalog: Catalog, into snapshot: inout SourceSnapshot,
                             window: CollectionWindow) async throws -> [OpenStack.FloatingIPs.FloatingIP] {
        let endpoint = "neutron/\(scope.region)"
        let addresses = try await pages("\(try required("network", scope, catalog, endpoint: endpoint))/v2.0/floatingips", scope, endpoint: endpoint,
                                        as: OpenStack.FloatingIPs.self, records: \.floatingips, next: \.floatingips_links)
        let dates = ISO8601Dates()
        for address in addresses {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: address.id, name: address.floating_ip_address ?? address.id, resourceType: "ip", region: scope.region,
                status: address.port_id == nil ? "DOWN" : (address.status ?? "ACTIVE"),
                createdAt: address.created_at.flatMap { Self.cinderDate($0, dates) } ?? window.now, project: scope.project))
        }
        return addresses
    }

    private func shares(_ scope: InventoryScope, catalog: Catalog, into snapshot: inout SourceSnapshot,
                        window: CollectionWindow) async throws -> [OpenStack.Shares.Share] {
        let endpoint = "manila/\(scope.region)"
        let shares = try await pages("\(try required("sharev2", scope, catalog, endpoint: endpoint))/shares/detail", scope, endpoint: endpoint,
                                     as: OpenStack.Shares.self, records: \.shares, next: \.shares_links)
        let dates = ISO8601Dates()
        for share in shares {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: share.id, name: share.name ?? share.id, resourceType: "file_storage", region: scope.region,
                status: share.status ?? "", flavor: "\(share.share_type_name ?? "").\(share.size ?? 0)GB",
                createdAt: share.created_at.flatMap { Self.cinderDate($0, dates) } ?? window.now, project: scope.project))
        }
        return shares
    }

    private func loadBalancers(_ scope: InventoryScope, catalog: Catalog, into snapshot: inout SourceSnapshot,
                               window: CollectionWindow) async throws -> [OpenStack.LoadBalancers.LoadBalancer] {
        let endpoint = "octavia/\(scope.region)"
        let balancers = try await pages("\(try required("load-balancer", scope, catalog, endpoint: endpoint))/v2/lbaas/loadbalancers", scope,
                                        endpoint: endpoint, as: OpenStack.LoadBalancers.self, records: \.loadbalancers, next: \.loadbalancers_links)
        let dates = ISO8601Dates()
        for balancer in balancers {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: balancer.id, name: balancer.name ?? balancer.id, resourceType: "load_balancer", region: scope.region,
                status: balancer.operating_status ?? balancer.provisioning_status ?? "",
                createdAt: balancer.created_at.flatMap { Self.cinderDate($0, dates) } ?? window.now, project: scope.project))
        }
        return balancers
    }

    package init(provider: String, http: ProviderClient, options: Options, state: OpenStackState, makeSession: @escaping @Sendable (String) -> KeystoneSession?, fallbackURL: @escaping @Sendable (_ type: String, _ scope: InventoryScope) -> String?) {
        self.provider = provider
        self.http = http
        self.options = options
        self.state = state
        self.makeSession = makeSession
        self.fallbackURL = fallbackURL
    }
}

/// What one OpenStack inventory keeps between syncs: each project's Keystone session and the
/// utilisation last read per server.
package final class OpenStackState: Sendable {
    package init() {}

    let sessions = Mutex<[String: KeystoneSession]>([:])
    let utilization = Mutex<[String: OpenStackInventory.UtilizationEntry]>([:])
}
