import CostModel
import Foundation
import Logging
import NIOCore
@testable import Storage
import Testing
@testable import ZenExporter

/// Health score, unit costs, tenant revenue and margin on the shipped exporter.yaml's demo,
/// checked against the demo application database read with the sqlite3 tool (not through
/// the exporter's usage code) and against the exported cost figures.
@Suite("Owner metrics on the demo")
struct OwnerMetricsTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!

    struct Synced {
        var metrics: ParsedExposition
        var appDatabase: String
        var evaluation: EstateEvaluation
    }

    /// The shipped config synced once at `now` into an in-memory store; the demo application
    /// database is kept in `directory` for the test to read.
    static func sync(in directory: URL) async throws -> Synced {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../exporter.yaml").path
        var config = try ConfigLoader.load(path: path, environment: [:])
        let database = directory.appendingPathComponent("demo-app.db").path
        for index in config.usage.indices { config.usage[index].path = database }
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        engine.clock = { now }
        await engine.syncAllOnce()
        return Synced(metrics: ParsedExposition(String(buffer: engine.estate.exposition.rendered.body)), appDatabase: database,
                      evaluation: await engine.estate.currentEvaluation)
    }

    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("owner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `tenant|value` rows of a query run by the sqlite3 command-line tool.
    static func sqlite(_ database: String, _ sql: String) throws -> [String: Double] {
        let result = try runTool("sqlite3", ["-readonly", database, sql])
        try #require(result.status == 0, "\(result.output)")
        var rows: [String: Double] = [:]
        for line in result.output.split(separator: "\n") {
            let cells = line.split(separator: "|").map(String.init)
            rows[cells.count == 2 ? cells[0] : ""] = Double(cells.last ?? "")
        }
        return rows
    }

    @Test("cost per site: the exported run rate over the 24 sites the application database holds, per tenant over its own sites")
    func unitCostPerSite() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let synced = try await Self.sync(in: directory)
        let sites = try Self.sqlite(synced.appDatabase, "SELECT tenant_id, COUNT(*) FROM sites GROUP BY tenant_id")
        let allSites = sites.values.reduce(0, +)
        #expect(allSites == 24)
        let total = synced.metrics.sum("infrazen_infrastructure_cost_monthly")
        let exported = try #require(synced.metrics.value("infrazen_unit_cost", ["unit": "site", "scope": "total", "currency": "RUB"]))
        // The exported run rates are rounded to kopecks (their sum to within 0.005), the unit cost
        // is the exact total over 24 rounded to 4 decimals: 0.005 / 24 + 0.00005 apart at most.
        #expect(abs(exported - total / allSites) < 0.00026)
        let yandex = synced.metrics.sum("infrazen_infrastructure_cost_monthly") { $0["provider"] == "yandex" }
        #expect(abs(try #require(synced.metrics.value("infrazen_unit_cost", ["unit": "site", "scope": "provider:yandex"])) - yandex / allSites) < 0.00026)
        let tenantCost = try #require(synced.metrics.value("infrazen_tenant_cost_monthly", ["tenant": "t-1004"]))
        let perTenant = try #require(synced.metrics.value("infrazen_unit_cost", ["unit": "site", "scope": "tenant:t-1004"]))
        // The tenant's cost is exported in kopecks: 0.005 / 2 sites + 0.00005 apart at most.
        #expect(abs(perTenant - tenantCost / (sites["t-1004"] ?? 0)) < 0.0026)
    }

    @Test("revenue is each tenant's plan price, the margin (price - cost) / price; t-1004 and t-1008 lose money, the rest do not")
    func revenueAndMargin() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let synced = try await Self.sync(in: directory)
        let prices = try Self.sqlite(synced.appDatabase, "SELECT t.id, p.price_monthly FROM tenants t JOIN plans p ON p.name = t.plan")
        #expect(prices.count == 12)
        var losing: [String] = []
        for (tenant, price) in prices {
            #expect(synced.metrics.value("infrazen_tenant_revenue_monthly", ["tenant": tenant, "currency": "RUB"]) == price)
            let cost = try #require(synced.metrics.value("infrazen_tenant_cost_monthly", ["tenant": tenant]))
            let margin = try #require(synced.metrics.value("infrazen_tenant_margin_ratio", ["tenant": tenant, "currency": "RUB"]))
            #expect(abs(margin - (price - cost) / price) < 0.0001, "\(tenant)")
            if margin < 0 { losing.append(tenant) }
        }
        #expect(losing.sorted() == ["t-1004", "t-1008"])
        // chom and shop are placed by rules but pay nothing the database knows of: no margin.
        #expect(synced.metrics.value("infrazen_tenant_margin_ratio", ["tenant": "chom", "currency": "RUB"]) == nil)
    }

    @Test("the exported score is the default-weighted mean of the exported components")
    func healthScoreFromComponents() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let synced = try await Self.sync(in: directory)
        let weights: [String: Double] = ["budget": 25, "waste": 20, "anomalies": 15, "allocation": 15, "freshness": 15, "runway": 10]
        let components = synced.metrics.values("infrazen_health_component")
        #expect(Set(components.compactMap { $0.labels["component"] }) == ["budget", "waste", "anomalies", "allocation", "freshness", "runway"])
        let mean = components.reduce(0.0) { $0 + (weights[$1.labels["component"] ?? ""] ?? 0) * $1.value }
            / components.reduce(0.0) { $0 + (weights[$1.labels["component"] ?? ""] ?? 0) }
        let score = try #require(synced.metrics.value("infrazen_health_score", [:]))
        #expect(abs(score - mean * 100) <= 0.051)
        // The demo's object-storage budget is blown; the infrastructure all has a tenant, the items none.
        #expect(try #require(synced.metrics.value("infrazen_health_component", ["component": "budget"])) < 1)
        let allocated = synced.metrics.sum("infrazen_tenant_cost_monthly"), unallocated = synced.metrics.sum("infrazen_unallocated_cost_monthly")
        #expect(unallocated > 0)
        let allocation = try #require(synced.metrics.value("infrazen_health_component", ["component": "allocation"]))
        #expect(abs(allocation - allocated / (allocated + unallocated)) < 0.0001)
        #expect(synced.metrics.value("infrazen_health_component", ["component": "freshness"]) == 1)
        #expect(synced.evaluation.owner.health?.parts.allSatisfy { !$0.reason.isEmpty } == true)
    }
}

@Suite("Owner config")
struct OwnerConfigTests {
    static let usage = """
        sources: [{name: demo, type: demo}]
        usage:
          - name: app
            type: sqlite
            path: /tmp/app.db
            queries: { sites: "SELECT tenant_id, COUNT(*) FROM sites GROUP BY 1" }

        """

    @Test("a unit metric naming no usage query is reported at its from: key's line and column")
    func unknownUnitReference() {
        let issues = configIssues(Self.usage + "unit_metrics:\n  - { unit: site, from: usage/app/orders }\n")
        #expect(issues.map(\.description) == [
            "test.yaml:8:25: unit_metrics[0].from: usage/app/orders names no configured usage query (known: usage/app/sites)",
        ])
    }

    @Test("the tenant scope of a constant unit is refused where it stands")
    func tenantScopeNeedsAQuery() {
        let issues = configIssues(Self.usage + "unit_metrics:\n  - unit: order\n    value: 1200\n    scopes: [total, tenant]\n")
        #expect(issues.map(\.description) == [
            "test.yaml:10:21: unit_metrics[0].scopes[1]: the tenant scope needs units per tenant: from a usage query, not a constant value",
        ])
    }

    @Test("negative revenue and all-zero weights are refused with their keys")
    func revenueAndWeights() {
        let issues = configIssues(Self.usage + "revenue:\n  tenants: { t-1: -5 }\nhealth:\n"
                                  + "  weights: { budget: 0, waste: 0, anomalies: 0, allocation: 0, freshness: 0, runway: 0 }\n")
        #expect(issues.map(\.description).sorted() == [
            "test.yaml:10:12: health.weights: at least one weight must be above 0",
            "test.yaml:8:19: revenue.tenants.t-1: revenue must not be negative, got -5",
        ])
    }

    @Test("an item renewing +12d renews 12 days after today in the reporting time zone; +12 alone is refused")
    func relativeRenewal() throws {
        let config = try ConfigLoader.parse("sources: [{name: demo, type: demo}]\nitems:\n  - { name: example.ru, cost: 1490, renews: +12d }\n",
                                            file: "test.yaml", environment: [:])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Moscow")!
        let expected = calendar.dateComponents([.year, .month, .day], from: Date().addingTimeInterval(12 * 86_400))
        let renews = try #require(config.items.first?.renews)
        #expect([renews.year, renews.month, renews.day] == [expected.year, expected.month, expected.day])
        let issues = configIssues("sources: [{name: demo, type: demo}]\nitems:\n  - { name: example.ru, cost: 1490, renews: +12 }\n")
        #expect(issues.map(\.description) == ["test.yaml:3:45: items[0].renews: expected a date YYYY-MM-DD or +Nd (days from today), got \"+12\""])
    }

    @Test("weights of unknown components are unknown keys")
    func unknownComponent() {
        let issues = configIssues(Self.usage + "health:\n  weights: { margin: 3 }\n")
        #expect(issues.count == 1)
        #expect(issues.first?.key == "health.weights.margin")
    }
}
