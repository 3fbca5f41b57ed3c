import CostModel
import Foundation
import GRDB
import Logging
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// `allocation.pools` as a user writes it: what is refused, where, and what only warns.
@Suite("Shared pools: config", .serialized)
struct PoolConfigTests {
    static let usage = """
    usage:
      - name: k8s
        type: sqlite
        path: /nonexistent/app.db
        queries:
          cpu_requests: "SELECT ns, cores FROM requests"
          cpu_allocatable: "SELECT NULL, 8"
    """

    func issues(_ allocation: String) -> [ConfigIssue] {
        configIssues("sources: [{name: demo, type: demo}]\n" + Self.usage + "\nallocation:\n" + allocation)
    }

    @Test("a driver naming no usage query is refused at its key, with the known ones listed")
    func unknownDriver() throws {
        let found = issues("""
          pools:
            - name: k8s-prod
              match: {tags: {cluster: prod}}
              driver: usage/k8s/cpu_request
        """)
        let issue = try #require(found.first)
        #expect(found.count == 1)
        #expect(issue.key == "allocation.pools[0].driver")
        #expect((issue.line, issue.column) == (13, 15))
        #expect(issue.message.contains("usage/k8s/cpu_request names no configured usage query"))
        #expect(issue.message.contains("usage/k8s/cpu_requests"))
    }

    @Test("two pools one of which selects everything the other does are refused, naming both")
    func overlapping() throws {
        let found = issues("""
          pools:
            - {name: k8s, match: {tags: {cluster: prod}}, driver: usage/k8s/cpu_requests}
            - {name: gpu, match: {tags: {cluster: prod, role: gpu}}, driver: usage/k8s/cpu_requests}
        """)
        let issue = try #require(found.first)
        #expect(found.count == 1)
        #expect(issue.key == "allocation.pools[1].match")
        #expect(issue.line == 12)
        #expect(issue.message.contains("\"k8s\" and \"gpu\" overlap"))
    }

    @Test("an empty match, a missing driver, driver and drivers together, and a bad idle are each refused")
    func malformed() {
        let found = issues("""
          pools:
            - {name: a, match: {}, driver: usage/k8s/cpu_requests}
            - {name: b, match: {tags: {x: y}}}
            - {name: c, match: {tags: {x: z}}, driver: usage/k8s/cpu_requests, drivers: [{driver: usage/k8s/cpu_requests}]}
            - {name: d, match: {service: EC2}, driver: usage/k8s/cpu_requests, idle: nobody}
        """)
        #expect(found.map(\.key) == ["allocation.pools[0].match", "allocation.pools[1]", "allocation.pools[2].drivers", "allocation.pools[3].idle"])
    }

    @Test("a blend of two drivers with weights and capacities, and a constant capacity, load")
    func blendLoads() throws {
        let config = try ConfigLoader.parse("sources: [{name: demo, type: demo}]\n" + Self.usage + """

        allocation:
          pools:
            - name: k8s
              match: {tags: {cluster: prod}, source: demo}
              drivers:
                - {driver: usage/k8s/cpu_requests, capacity: usage/k8s/cpu_allocatable, weight: 0.6}
                - {driver: usage/k8s/cpu_requests, capacity: 16, weight: 0.4}
              idle: spread
        """, file: "t.yaml", environment: [:])
        let pool = try #require(config.pools.first)
        #expect(pool.components.map(\.weight) == [Decimal(string: "0.6")!, Decimal(string: "0.4")!])
        #expect(pool.components.map(\.capacity) == [.usage(UsageReference(usage: "k8s", dimension: "cpu_allocatable")), .constant(16)])
        #expect(pool.idle == .spread)
        #expect(config.allocation.pools.map(\.name) == ["k8s"])
    }

    @Test("a capacity below the requests' total: a warning naming the pool, idle 0, the requests split the whole pool")
    func capacityBelowRequests() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pool-cap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("""
        BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ServiceCategory,ServiceName,ProviderName,SubAccountId,ResourceId,ResourceName,ResourceType,RegionId,Tags
        30.00,RUB,2026-11-19T00:00:00Z,2026-11-19T23:59:59Z,Usage,Compute,EC2,AWS,1,node-a,node-a,Instance,r,"{""cluster"": ""prod""}"
        """.utf8).write(to: directory.appendingPathComponent("aws.csv"))
        let app = try DatabaseQueue(path: directory.appendingPathComponent("app.db").path)
        try await app.write { db in
            try db.execute(sql: "CREATE TABLE requests (ns TEXT, cores REAL)")
            try db.execute(sql: "INSERT INTO requests VALUES ('shop', 3), ('blog', 1)")
        }
        try app.close()
        let config = try ConfigLoader.parse("""
        storage: {path: \(directory.path)/infrazen.db}
        reporting: {currency: RUB, timezone: UTC, hours_per_month: 720}
        sources: [{name: aws, type: focus, path: \(directory.path)/aws.csv}]
        usage:
          - name: k8s
            type: sqlite
            path: \(directory.path)/app.db
            queries: {cpu_requests: "SELECT ns, cores FROM requests"}
        allocation:
          pools: [{name: k8s-prod, match: {tags: {cluster: prod}}, driver: usage/k8s/cpu_requests, capacity: 2}]
        """, file: "t.yaml", environment: [:])
        let recorder = LogRecorder()
        var engine = SyncEngine(config: config, store: try Store(path: config.storage.path), logger: Logger(label: "test") { _ in recorder })
        engine.clock = { ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")! }
        await engine.syncAllOnce()
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        // 30.00 a day = 900.00 a month, split 3:1.
        #expect(metrics.values("infrazen_pool_cost_monthly").map { "\($0.labels["tenant"]!) \($0.text)" }.sorted() == ["blog 225", "shop 675"])
        #expect(metrics.value("infrazen_pool_idle_ratio", ["pool": "k8s-prod"]) == 0)
        #expect(recorder.text.contains("capacity is below its driver's total"))
        #expect(recorder.text.contains("pool=k8s-prod"))
        // The month's report says which days the pool had no idle share, and why.
        let report = try await MonthlyReport.build(month: try #require(ReportMonth("2026-11")), config: engine.config, store: engine.store,
                                                   evaluation: await engine.estate.currentEvaluation, now: ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!)
        #expect(report.render(.csv).contains(#"caveats,k8s-prod,"capacity below the driver's total","1 day with idle 0, split by the driver alone: 2026-11-19""#))
    }
}

/// Pools added to an exporter that already holds a month of history.
@Suite("Shared pools: added later", .serialized)
struct PoolAddedLaterTests {
    @Test("a pool added to the config re-sums the stored month at the next start: its days are split, with no file to read again")
    func addedPoolResumsHistory() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pool-later-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var csv = "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ServiceCategory,ServiceName,ProviderName,SubAccountId,ResourceId,ResourceName,ResourceType,RegionId,Tags\n"
        for day in 1...19 {
            let date = String(format: "2026-11-%02d", day)
            csv += "10.00,RUB,\(date)T00:00:00Z,\(date)T23:59:59Z,Usage,Compute,EC2,AWS,1,node-a,node-a,Instance,r,\"{\"\"cluster\"\": \"\"prod\"\"}\"\n"
        }
        let file = directory.appendingPathComponent("aws.csv")
        try Data(csv.utf8).write(to: file)
        let app = try DatabaseQueue(path: directory.appendingPathComponent("app.db").path)
        try await app.write { db in
            try db.execute(sql: "CREATE TABLE requests (ns TEXT, cores REAL)")
            try db.execute(sql: "INSERT INTO requests VALUES ('shop', 1), ('blog', 3)")
        }
        try app.close()
        func config(pools: Bool) throws -> ExporterConfig {
            try ConfigLoader.parse("""
            storage: {path: \(directory.path)/infrazen.db}
            reporting: {currency: RUB, timezone: UTC, hours_per_month: 720}
            sources: [{name: aws, type: focus, path: \(directory.path)/aws.csv}]
            usage:
              - {name: k8s, type: sqlite, path: \(directory.path)/app.db, queries: {cpu_requests: "SELECT ns, cores FROM requests"}}
            budgets: [{name: shop, amount: 100, currency: RUB, period: monthly, scope: {tenant: shop}}]
            \(pools ? "allocation: {pools: [{name: k8s-prod, match: {tags: {cluster: prod}}, driver: usage/k8s/cpu_requests, capacity: 8}]}" : "")
            """, file: "t.yaml", environment: [:])
        }
        let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
        var first = SyncEngine(config: try config(pools: false), store: try Store(path: directory.appendingPathComponent("infrazen.db").path),
                               logger: Logger(label: "test"))
        first.clock = { now }
        // As the daemon starts: the allocation the scopes are summed under is recorded.
        await first.restore(evaluate: false)
        await first.syncAllOnce()
        #expect(ParsedExposition(String(buffer: first.estate.exposition.rendered.body))
            .value("infrazen_unallocated_cost_month_to_date", ["provider": "aws", "currency": "RUB"]) == 190)
        try await first.store.close()
        try FileManager.default.removeItem(at: file)

        let store = try Store(path: directory.appendingPathComponent("infrazen.db").path)
        var second = SyncEngine(config: try config(pools: true), store: store, logger: Logger(label: "test"))
        second.clock = { now }
        await second.usage.pollAllOnce()
        await second.restore()
        let metrics = ParsedExposition(String(buffer: second.estate.exposition.rendered.body))
        // 190.00 over 19 days, 1, 3 and 4 idle of 8 cores: 23.75, 71.25, 95.00.
        #expect(metrics.value("infrazen_tenant_cost_month_to_date", ["tenant": "shop", "currency": "RUB"]) == 23.75)
        #expect(metrics.value("infrazen_tenant_cost_month_to_date", ["tenant": "blog", "currency": "RUB"]) == 71.25)
        #expect(metrics.value("infrazen_tenant_cost_month_to_date", ["tenant": "__idle__", "currency": "RUB"]) == 95)
        #expect(metrics.value("infrazen_unallocated_cost_month_to_date", ["provider": "aws", "currency": "RUB"]) ?? 0 == 0)
        // A namespace's budget sums its share of the cluster, day by day: 23.75 of 100.
        #expect(metrics.value("infrazen_budget_spent", ["budget": "shop", "currency": "RUB"]) == 23.75)
        try store.close()
    }
}
