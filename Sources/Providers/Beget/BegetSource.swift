import AsyncHTTPClient
import CostModel
import Foundation
import Ingest
import NIOCore
import SourceKit

/// `type: beget`: the legacy hosting API (account, plan rate, balance, domains) and the modern
/// `/v1` API (VPS, managed databases and S3, VPS utilisation). Every endpoint fails alone: a
/// refused method is counted against that endpoint and the rest of the sync still lands.
package struct BegetSource: Source {
    struct Settings: SourceSettings {
        var login: Secret
        /// The account password: `/v1/auth`.
        var password: Secret
        var baseURL: String
        var account: String
        /// The API password switched on in the control panel: the legacy interface. Without
        /// one, the account password goes there too.
        var apiPassword: Secret? = nil

        var legacyPassword: Secret { apiPassword ?? password }
    }

    package static let kind = SourceKind(
        settingKeys: ["login_env", "login_file", "password_env", "password_file", "api_password_env", "api_password_file", "base_url", "account"],
        readSettings: { fields, reader in
            let login = reader.secret(fields, "login")
            let password = reader.secret(fields, "password")
            for (name, value) in [("login", login), ("password", password)] where value == nil
                && fields["\(name)_env"] == nil && fields["\(name)_file"] == nil {
                reader.fail(at: fields.node, fields.path("\(name)_env"), "one of \(name)_env or \(name)_file is required")
            }
            return Settings(login: login ?? Secret(""), password: password ?? Secret(""),
                            baseURL: reader.credentialURL(fields, "base_url").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? "https://api.beget.com",
                            account: reader.string(fields, "account") ?? fields.entries["name"].flatMap { $0.value.scalar?.string } ?? "beget",
                            apiPassword: reader.secret(fields, "api_password"))
        },
        make: { config in
            BegetSource(settings: config.settings as? Settings ?? Settings(login: Secret(""), password: Secret(""), baseURL: "", account: ""),
                        http: ProviderClient(timeout: config.timeout, retries: config.retries, source: "beget"))
        }
    )

    var settings: Settings
    var http: ProviderClient
    package var provider: String { "beget" }
    package var retriesRequests: Bool { true }
    /// Utilisation window for rightsizing, per the statistics API's `period`.
    static let statisticsPeriod = "WEEK"
    var pageSize = 100
    /// The currency of every Beget amount. Neither API names one in any answer (balance,
    /// plan rate, VPS and cloud prices); Beget documents them all in roubles. One constant for
    /// the balance and the costs, so that they cannot disagree.
    static let currency = Currency.rub

    package func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        var snapshot = SourceSnapshot()
        snapshot.inventoriedTypes = ["server", "database", "bucket"]
        var failures = EndpointFailures()
        var pricedEndpointsRead = 0

        if try await failures.attempt({ try await accountInfo(into: &snapshot, window: window) }) { pricedEndpointsRead += 1 }
        try await failures.attempt { try await domains(into: &snapshot, window: window) }
        var token: String?
        try await failures.attempt { token = try await authenticate() }
        if let token {
            var vpsList: [BegetModern.VPS] = []
            if try await failures.attempt({
                vpsList = try await pages("/v1/vps/server/list", token: token, endpoint: "vps/server/list", as: BegetModern.VPSList.self) { $0.vps ?? [] }
                try add(vpsList, to: &snapshot, window: window)
            }) { pricedEndpointsRead += 1 }
            if try await failures.attempt({
                let services = try await pages("/v1/cloud", token: token, endpoint: "cloud", as: BegetModern.ServiceList.self) { $0.service ?? [] }
                try add(services, to: &snapshot, window: window)
            }) { pricedEndpointsRead += 1 }
            for vps in vpsList where vps.status == "RUNNING" {
                try await failures.attempt { try await utilization(of: vps, token: token, into: &snapshot) }
            }
        }
        // With no price read at all, committing would empty the estate: fail, keep the last good data.
        guard pricedEndpointsRead > 0 || failures.all.isEmpty else { throw failures.all[0] }
        snapshot.endpointFailures = failures.all
        return snapshot
    }

    // MARK: Legacy API

    private func legacy<Result: Decodable>(_ method: String, _ type: Result.Type) async throws -> Result {
        var request = HTTPClientRequest(url: "\(settings.baseURL)/api/\(method)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        // POST keeps the credentials out of URLs, and so out of every proxy's and server's logs.
        let form = "login=\(URLQuery.escape(settings.login.value))&passwd=\(URLQuery.escape(settings.legacyPassword.value))&output_format=json"
        request.body = .bytes(ByteBuffer(string: form))
        let response = try await http.send(request, endpoint: method)
        let envelope = try http.decode(BegetLegacy.Envelope<Result>.self, from: response, endpoint: method)
        guard envelope.status == "success" else {
            throw SyncFailure(endpoint: method, reason: "refused", message: "\(method): \(envelope.error_text ?? "error without text")")
        }
        guard let answer = envelope.answer, answer.status != "error", let result = answer.result else {
            let text = envelope.answer?.errors?.compactMap(\.error_text).joined(separator: "; ") ?? "no result"
            throw SyncFailure(endpoint: method, reason: "refused", message: "\(method): \(text)")
        }
        return result
    }

    private func accountInfo(into snapshot: inout SourceSnapshot, window: CollectionWindow) async throws {
        let info = try await legacy("user/getAccountInfo", BegetLegacy.AccountInfo.self)
        if let balance = info.user_balance?.value {
            snapshot.accounts.append(AccountBalance(provider: provider, account: settings.account, balance: Money(balance, Self.currency),
                                                    daysUntilDepleted: info.user_days_to_block?.value))
        }
        if let daily = info.user_rate_current?.value, daily > 0 {
            let id = "hosting"
            snapshot.billing.append(BillingLineItem(
                provider: provider, resourceID: id, resourceName: info.plan_name.map { "hosting (\($0))" } ?? "hosting",
                resourceType: "subscription", service: "Hosting", category: Taxonomy.classify(provider: provider, service: "hosting").category,
                region: "", account: settings.account, rate: Rate(Money(daily, Self.currency), per: .daily)))
            snapshot.dailyCosts.append(try today(id, service: "Hosting", daily: daily, window: window, endpoint: "user/getAccountInfo"))
        }
    }

    private func domains(into snapshot: inout SourceSnapshot, window: CollectionWindow) async throws {
        for domain in try await legacy("domain/getList", [BegetLegacy.Domain].self) {
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: "domain:\(domain.id.value)", name: domain.fqdn, resourceType: "domain", region: "",
                status: domain.registrar_status ?? "", createdAt: Self.date(domain.date_add) ?? window.now))
        }
    }

    // MARK: Modern API

    private func authenticate() async throws -> String {
        var request = HTTPClientRequest(url: "\(settings.baseURL)/v1/auth")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = try JSONSerialization.data(withJSONObject: ["login": settings.login.value, "password": settings.password.value, "saveMe": false])
        request.body = .bytes(ByteBuffer(bytes: body))
        let auth = try http.decode(BegetModern.Auth.self, from: try await http.send(request, endpoint: "auth"), endpoint: "auth")
        guard let token = auth.token, !token.isEmpty else {
            if let error = auth.error, error.hasPrefix("CODE_REQUIRED") {
                // Two-factor sign-in: the code goes to the owner's phone or mailbox, and nothing
                // unattended can answer it.
                throw SyncFailure(endpoint: "auth", reason: "refused", message: """
                    auth: \(error.prefix(40)): the account has two-factor sign-in on, and the exporter cannot enter the code; \
                    use a Beget account without two-factor sign-in for the exporter (VPS and cloud services are not read until then)
                    """)
            }
            throw SyncFailure(endpoint: "auth", reason: "refused", message: "auth: \(auth.error?.prefix(80) ?? "no token in the answer")")
        }
        return token
    }

    private func get(_ path: String, token: String, endpoint: String) async throws -> ProviderClient.Response {
        var request = HTTPClientRequest(url: "\(settings.baseURL)\(path)")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        return try await http.send(request, endpoint: endpoint)
    }

    /// Follows `offset`/`limit` until `total_count` items have arrived; without a count, until
    /// a page comes back short. An empty page always ends it.
    private func pages<Page: Decodable, Item>(_ path: String, token: String, endpoint: String, as: Page.Type,
                                              items: (Page) -> [Item]) async throws -> [Item] where Page: TotalCounted {
        var all: [Item] = []
        while true {
            let response = try await get("\(path)?offset=\(all.count)&limit=\(pageSize)", token: token, endpoint: endpoint)
            let page = try http.decode(Page.self, from: response, endpoint: endpoint)
            let pageItems = items(page)
            all += pageItems
            if pageItems.isEmpty { return all }
            if let total = page.totalCount {
                if all.count >= total { return all }
            } else if pageItems.count < pageSize {
                return all
            }
        }
    }

    private func add(_ servers: [BegetModern.VPS], to snapshot: inout SourceSnapshot, window: CollectionWindow) throws {
        for vps in servers {
            let name = vps.display_name ?? vps.slug ?? vps.id
            if let daily = vps.configuration?.price_day?.value {
                snapshot.billing.append(BillingLineItem(
                    provider: provider, resourceID: vps.id, resourceName: name, resourceType: "server", service: "VPS",
                    category: .compute, region: vps.region ?? "", account: settings.account, rate: Rate(Money(daily, Self.currency), per: .daily)))
                snapshot.dailyCosts.append(try today(vps.id, service: "VPS", daily: daily, window: window, endpoint: "vps/server/list"))
            }
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: vps.id, name: name, resourceType: "server", region: vps.region ?? "",
                status: vps.status ?? "", flavor: vps.configuration?.name ?? "", createdAt: Self.date(vps.date_create) ?? window.now))
        }
    }

    private func add(_ services: [BegetModern.Service], to snapshot: inout SourceSnapshot, window: CollectionWindow) throws {
        for service in services {
            let (type, serviceName) = service.type.hasPrefix("S_3") ? ("bucket", "S3")
                : service.type == "CDN" ? ("cdn", "CDN") : ("database", service.type.hasPrefix("MYSQL") ? "MySQL" : "PostgreSQL")
            let entry = Taxonomy.lookup(provider: provider, service: serviceName)
            if entry == nil { snapshot.unclassifiedLineItems += 1 }
            let name = service.display_name ?? service.id
            if let daily = service.price_day?.value {
                snapshot.billing.append(BillingLineItem(
                    provider: provider, resourceID: service.id, resourceName: name, resourceType: entry?.resourceType ?? type,
                    service: serviceName, category: entry?.category ?? .other, region: service.region ?? "", account: settings.account,
                    rate: Rate(Money(daily, Self.currency), per: .daily)))
                snapshot.dailyCosts.append(try today(service.id, service: serviceName, daily: daily, window: window,
                                                     category: entry?.category ?? .other, endpoint: "cloud"))
            }
            snapshot.inventory.append(InventoryItem(
                provider: provider, resourceID: service.id, name: name, resourceType: entry?.resourceType ?? type, region: service.region ?? "",
                status: service.status ?? "", createdAt: Self.date(service.created_at) ?? window.now))
        }
    }

    /// Average CPU (percent) and memory (MB used, of the configuration's MB) over the week.
    private func utilization(of vps: BegetModern.VPS, token: String, into snapshot: inout SourceSnapshot) async throws {
        for (statistic, dimension) in [("cpu", UtilizationSample.Dimension.cpu), ("memory", .memory)] {
            let endpoint = "vps/statistic/\(statistic)"
            let response = try await get("/v1/vps/statistic/\(statistic)/\(vps.id)?period=\(Self.statisticsPeriod)", token: token, endpoint: endpoint)
            let values = try http.decode(BegetModern.Statistic.self, from: response, endpoint: endpoint).series[statistic]?.value.compactMap { $0 } ?? []
            guard !values.isEmpty else { continue }
            let mean = values.reduce(0, +) / Double(values.count)
            let ratio = dimension == .cpu ? mean / 100 : mean / Double(max(1, vps.configuration?.memory ?? 0))
            snapshot.utilization.append(UtilizationSample(resourceID: vps.id, dimension: dimension, ratio: min(1, max(0, ratio))))
        }
    }

    // MARK: Helpers

    /// Beget has no billing history: today's cost so far is the daily price pro rata. A price
    /// whose day does not fit the micro-units daily costs are summed in is a bad value.
    private func today(_ id: String, service: String, daily: Decimal, window: CollectionWindow, category: CostCategory = .compute,
                       endpoint: String) throws -> DailyCost {
        let day = LocalDay(window.now, in: window.reporting.timeZone)
        let minutes = Int(window.now.timeIntervalSince(day.start(in: window.reporting.timeZone)) / 60)
        let cost = Money(daily * Decimal(minutes) / 1440, Self.currency).rounded()
        guard Micros.from(cost.amount) != nil else {
            throw SyncFailure(endpoint: endpoint, reason: SyncFailure.badValue,
                              message: "\(endpoint): \(id): a daily price of \(daily.plainString) is beyond what a day's cost can hold exactly", failsTheSync: true)
        }
        return DailyCost(day: day, provider: provider, resourceID: id, service: service, category: category, account: settings.account, cost: cost)
    }

    /// `2025-09-01 10:11:12`, Moscow time (Beget does not say; its panel shows MSK), or RFC 3339
    /// with its own offset.
    static func date(_ text: String?) -> Date? {
        guard let text = text.flatMap(DateText.ascii) else { return nil }
        if let instant = DateText.iso8601(text.replacingOccurrences(of: " ", with: "T")) { return instant }
        return DateText.date(text, patterns: ["yyyy-MM-dd HH:mm:ss"], in: TimeZone(identifier: "Europe/Moscow") ?? .gmt)
    }

}

protocol TotalCounted { var totalCount: Int? { get } }
extension BegetModern.VPSList: TotalCounted { var totalCount: Int? { total_count } }
extension BegetModern.ServiceList: TotalCounted { var totalCount: Int? { total_count } }
