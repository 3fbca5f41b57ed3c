import CostModel
import Foundation
import Ingest
import SourceKit

/// Consumption in whole calendar days (Moscow, as the console counts them) from `historyDays`
/// ago through today: v2 (`GET /v2/consumption`, `page_filter.page_size` rows a page, the next
/// page asked for with `page_filter.page_token` ← the answer's `next_page_token`), or v1
/// (`page_filter.page` and `page_filter.limit`, until a page comes back short) where v2 is
/// refused. Both answer the same rows.
extension CloudRuSource {
    /// Answers to v2 that say it is not offered to this account or key: v1 is read instead.
    static let v2Refused: Set<Int> = [403, 404, 405, 501]

    func consumption(window: CollectionWindow) async throws -> [CloudRu.Consumption.Row] {
        if let rows = try await consumptionV2(scope: consumptionScope(window)) { return rows }
        return try await consumptionV1(scope: consumptionScope(window))
    }

    /// The agreement or projects, and the whole days asked for.
    func consumptionScope(_ window: CollectionWindow) -> String {
        let today = LocalDay(window.now, in: Self.moscow)
        let first = today.adding(days: -max(1, window.historyDays))
        let scope = settings.agreementID.isEmpty
            ? settings.projectIDs.map { "project_ids=\(URLQuery.escape($0))" }.joined(separator: "&")
            : "agreement_id=\(URLQuery.escape(settings.agreementID))"
        return scope + "&start_date=\(first)T00:00:00Z&end_date=\(today)T23:59:59Z"
    }

    /// Every page of v2; nil where v2 is refused.
    private func consumptionV2(scope: String) async throws -> [CloudRu.Consumption.Row]? {
        let endpoint = "consumption"
        var rows: [CloudRu.Consumption.Row] = []
        var pageToken = ""
        var tokensSeen: Set<String> = []
        for _ in 0..<100_000 {
            var url = "\(settings.billingURL)/v2/consumption?\(scope)&page_filter.page_size=\(settings.pageSize)"
            if !pageToken.isEmpty { url += "&page_filter.page_token=\(URLQuery.escape(pageToken))" }
            let response = try await get(url, endpoint: endpoint, accept: Self.v2Refused)
            if Self.v2Refused.contains(response.status) {
                // Refused after its first page: not a missing v2 but a failure, and half the rows.
                guard rows.isEmpty, pageToken.isEmpty else {
                    throw SyncFailure(endpoint: endpoint, reason: "http_\(response.status)",
                                      message: "consumption: v2 answered \(response.status) to the page after \(rows.count) rows")
                }
                return nil
            }
            let page = try http.decode(CloudRu.Consumption.self, from: response, endpoint: endpoint)
            rows += page.consumptions ?? []
            guard let next = page.next_page_token, !next.isEmpty else { return rows }
            guard tokensSeen.insert(next).inserted else {
                throw SyncFailure(endpoint: endpoint, reason: "bad_json", message: "consumption: next_page_token \"\(next.prefix(40))\" came twice")
            }
            pageToken = next
        }
        throw SyncFailure(endpoint: endpoint, reason: "bad_json", message: "consumption: more than 100000 pages")
    }

    private func consumptionV1(scope: String) async throws -> [CloudRu.Consumption.Row] {
        let endpoint = "consumption"
        var rows: [CloudRu.Consumption.Row] = []
        for page in 1...10_000 {
            let url = "\(settings.billingURL)/v1/consumption?\(scope)&page_filter.page=\(page)&page_filter.limit=\(settings.pageSize)"
            let body = try http.decode(CloudRu.Consumption.self, from: try await get(url, endpoint: endpoint), endpoint: endpoint)
            rows += body.consumptions ?? []
            if (body.consumptions?.count ?? 0) < settings.pageSize { break }
        }
        return rows
    }
}

/// Consumption rows → daily costs and run rates.
package struct CloudRuBilling: Sendable {
    var provider: String
    var account: String
    var vat: CloudRuSource.Settings.VAT

    struct RowKey: Hashable {
        var day: String
        var resource: String
        var sku: String
    }

    struct CostKey: Hashable {
        var day: LocalDay
        var resourceID: String
        var service: String
    }

    /// The latest version of each day × resource × SKU (restated rows carry a newer
    /// `updated_dt`), summed per day, resource and service; each resource's rate is its
    /// latest day. A row's resource ID that is an inventory item's name becomes its ID.
    func fill(_ snapshot: inout SourceSnapshot, rows: [CloudRu.Consumption.Row], inventory: [InventoryItem]) {
        let dates = ISO8601Dates()
        var latest: [RowKey: CloudRu.Consumption.Row] = [:]
        for row in rows {
            let key = RowKey(day: row.usedate ?? "", resource: row.resource_id ?? "", sku: row.sku ?? "")
            if let known = latest[key],
               (known.updated_dt.flatMap(dates.date) ?? .distantPast) > (row.updated_dt.flatMap(dates.date) ?? .distantPast) { continue }
            latest[key] = row
        }
        let ids = Set(inventory.map(\.resourceID))
        let byName = Dictionary(inventory.map { ($0.name, $0.resourceID) }, uniquingKeysWith: { first, _ in first })
        var daily: [CostKey: Decimal] = [:]
        var names: [String: String] = [:]
        var bad = 0
        for row in latest.values {
            // A Moscow calendar day, filed under its own date in any reporting zone.
            guard let day = LocalDay(String((row.usedate ?? "").prefix(10))), let amount = row.amount?.value else {
                bad += 1
                continue
            }
            let raw = row.resource_id ?? ""
            let resource = raw.isEmpty ? "\(row.servname ?? "")|\(row.sku ?? "")" : ids.contains(raw) ? raw : byName[raw] ?? raw
            let cost = vat == .include ? row.amount_nds?.value ?? amount : amount
            daily[CostKey(day: day, resourceID: resource, service: row.servname ?? ""), default: 0] += cost
            names[resource] = row.resource_name ?? names[resource]
        }
        if bad > 0 {
            snapshot.endpointFailures.append(SyncFailure(endpoint: "consumption", reason: "bad_row",
                                                         message: "consumption: \(bad) rows without a usedate or amount were skipped"))
        }
        for (key, amount) in daily.sorted(by: { ($0.key.day, $0.key.resourceID, $0.key.service) < ($1.key.day, $1.key.resourceID, $1.key.service) }) {
            let entry = Taxonomy.lookup(provider: provider, service: key.service)
            snapshot.dailyCosts.append(DailyCost(day: key.day, provider: provider, resourceID: key.resourceID, service: key.service,
                                                 category: entry?.category ?? .other, account: account, cost: Money(amount, .rub)))
        }
        // Each resource's latest billed day is its run rate.
        var last: [String: LocalDay] = [:]
        for key in daily.keys { last[key.resourceID] = max(last[key.resourceID] ?? key.day, key.day) }
        for (key, amount) in daily.sorted(by: { ($0.key.resourceID, $0.key.service) < ($1.key.resourceID, $1.key.service) }) where last[key.resourceID] == key.day {
            let entry = Taxonomy.lookup(provider: provider, service: key.service)
            if entry == nil { snapshot.unclassifiedLineItems += 1 }
            snapshot.billing.append(BillingLineItem(
                provider: provider, resourceID: key.resourceID, resourceName: names[key.resourceID] ?? key.resourceID,
                resourceType: entry?.resourceType ?? "other", service: key.service, category: entry?.category ?? .other, region: "",
                account: account, rate: Rate(Money(amount, .rub), per: .daily)))
        }
    }
}

