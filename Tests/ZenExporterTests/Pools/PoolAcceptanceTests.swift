import CostModel
import Foundation
import Hummingbird
import Logging
import NIOCore
@testable import Storage
import Synchronization
import Testing
@testable import ZenExporter

/// A Kubernetes cluster as a shared pool, end to end: a real Prometheus scrapes a
/// kube-state-metrics-shaped exposition (CPU requests per pod, allocatable CPU per node), the
/// cluster's two nodes and two VMs outside it are billed in a FOCUS file, and earlier days'
/// requests are stored as an exporter that ran all month would have polled them. The
/// expected figures are computed here from the file's amounts and the requests, by hand's
/// route: pool cost × requests / allocatable, day by day.
@Suite("Shared pools: a Kubernetes cluster split over namespaces", .serialized)
struct PoolAcceptanceTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    static let today = 20

    /// Per pod: namespace and CPU requested today (kube_pod_container_resource_requests).
    static let pods: [(namespace: String, pod: String, node: String, cores: String)] = [
        ("shop", "shop-web-1", "node-a", "1"), ("shop", "shop-db-0", "node-b", "0.5"),
        ("blog", "blog-0", "node-a", "1.25"), ("search", "search-0", "node-b", "0.75"),
    ]
    /// kube_node_status_allocatable{resource="cpu"}: 8 cores in all.
    static let nodes = [("node-a", "4"), ("node-b", "4")]

    /// Requests and allocatable stored for earlier days (day of November → values).
    static let storedRequests: [Int: [String: Decimal]] = [
        1: ["shop": 2, "blog": 1, "search": 1],
        10: ["shop": 1, "blog": 2, "search": Decimal(string: "0.5")!],
        15: ["shop": 3, "blog": 2, "search": 1],
    ]
    static let storedAllocatable: [Int: Decimal] = [1: 8, 10: 6, 15: 8]

    /// Each resource's cost on a day of November, with four decimals.
    static func cost(_ resource: String, _ day: Int) -> Decimal {
        let base: Decimal = switch resource {
        case "node-a": Decimal(string: "41.2345")!
        case "node-b": Decimal(string: "38.7651")!
        case "vm-crm": Decimal(string: "12.3457")!
        default: Decimal(string: "7.0101")!
        }
        return base + Decimal(day) * Decimal(string: "0.1371")!
    }

    static let resources: [(id: String, tags: String)] = [
        ("node-a", #"{"cluster": "prod", "role": "node"}"#), ("node-b", #"{"cluster": "prod"}"#),
        ("vm-crm", #"{"tenant": "crm"}"#), ("vm-loose", ""),
    ]

    static func csv() -> String {
        var text = "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ServiceCategory,ServiceName,ProviderName,"
            + "SubAccountId,ResourceId,ResourceName,ResourceType,RegionId,Tags\n"
        for day in 1...today {
            let date = String(format: "2026-11-%02d", day)
            for resource in resources {
                let tags = resource.tags.isEmpty ? "" : "\"" + resource.tags.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                text += "\(cost(resource.id, day)),RUB,\(date)T00:00:00Z,\(date)T23:59:59Z,Usage,Compute,Amazon EC2,AWS,"
                    + "111122223333,\(resource.id),\(resource.id),Instance,eu-central-1,\(tags)\n"
            }
        }
        return text
    }

    static var exposition: String {
        var text = "# HELP kube_pod_container_resource_requests The number of requested request resource by a container.\n"
            + "# TYPE kube_pod_container_resource_requests gauge\n"
        for pod in pods {
            text += "kube_pod_container_resource_requests{namespace=\"\(pod.namespace)\",pod=\"\(pod.pod)\",uid=\"u-\(pod.pod)\","
                + "container=\"app\",node=\"\(pod.node)\",resource=\"cpu\",unit=\"core\"} \(pod.cores)\n"
        }
        text += "# HELP kube_node_status_allocatable The allocatable for different resources of a node that are available for scheduling.\n"
            + "# TYPE kube_node_status_allocatable gauge\n"
        for (node, cores) in nodes {
            text += "kube_node_status_allocatable{node=\"\(node)\",resource=\"cpu\",unit=\"core\"} \(cores)\n"
            text += "kube_node_status_allocatable{node=\"\(node)\",resource=\"memory\",unit=\"byte\"} 16777216000\n"
        }
        return text
    }

    static let requestsQuery = #"sum by (namespace) (kube_pod_container_resource_requests{resource="cpu"})"#
    static let allocatableQuery = #"sum(kube_node_status_allocatable{resource="cpu"})"#

    static func config(directory: URL, prometheus: String) -> String {
        """
        storage: {path: \(directory.path)/infrazen.db}
        reporting: {currency: RUB, timezone: UTC, hours_per_month: 720}
        sources:
          - {name: aws, type: focus, path: \(directory.path)/aws.csv}
        usage:
          - name: k8s
            type: prometheus
            url: \(prometheus)
            tenant_label: namespace
            timeout: 30s
            queries:
              cpu_requests: '\(requestsQuery)'
              cpu_allocatable: '\(allocatableQuery)'
        allocation:
          tag_keys: {tenant: [tenant]}
          pools:
            - name: k8s-prod
              match: {tags: {cluster: prod}}
              driver: usage/k8s/cpu_requests
              capacity: usage/k8s/cpu_allocatable

        """
    }

    /// The requests and allocatable in force on a day: its own stored ones, else the last
    /// earlier day's; today's are what Prometheus serves.
    static func usage(on day: Int) -> (requests: [String: Decimal], allocatable: Decimal) {
        if day == today {
            var requests: [String: Decimal] = [:]
            for pod in pods { requests[pod.namespace, default: 0] += Decimal(string: pod.cores)! }
            return (requests, nodes.reduce(0) { $0 + Decimal(string: $1.1)! })
        }
        let taken = storedRequests.keys.filter { $0 <= day }.max()!
        return (storedRequests[taken]!, storedAllocatable[taken]!)
    }

    struct Served {
        var metrics: ParsedExposition
        var report: String
    }

    static func serve() async throws -> Served {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pools-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(csv().utf8).write(to: directory.appendingPathComponent("aws.csv"))

        // kube-state-metrics, as Prometheus scrapes it.
        let ksm = try LoopbackServer()
        let router = Router()
        let body = exposition
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        try await ksm.start(router)
        defer { Task { await ksm.stop() } }
        let prometheus = try BackgroundTool("prometheus", [
            "--config.file={dir}/prometheus.yml", "--storage.tsdb.path={dir}/data", "--web.listen-address=127.0.0.1:{port}",
        ])
        _ = try prometheus.write("prometheus.yml", """
        global: { scrape_interval: 2s, scrape_timeout: 2s, evaluation_interval: 2s }
        scrape_configs:
          - job_name: kube-state-metrics
            static_configs: [{ targets: ["127.0.0.1:\(ksm.port)"] }]
        """)
        try prometheus.start()
        try await prometheus.waitUntilReady("/-/ready")
        // Until the first scrape is in: both queries answer (bounded).
        let deadline = Date().addingTimeInterval(30)
        while true {
            let namespaces = try await MonitoringStackTests.instantQuery(prometheus, requestsQuery).count
            let allocatable = try await MonitoringStackTests.instantQuery(prometheus, allocatableQuery).count
            if namespaces == 3 && allocatable == 1 { break }
            guard Date() < deadline else { Issue.record("Prometheus did not scrape kube-state-metrics: \(prometheus.logText)"); break }
            try await Task.sleep(for: .milliseconds(200))
        }

        let config = try ConfigLoader.parse(config(directory: directory, prometheus: prometheus.baseURL), file: "t.yaml", environment: [:])
        let store = try Store(path: config.storage.path)
        let utc = TimeZone(identifier: "UTC")!
        for (day, requests) in storedRequests.sorted(by: { $0.key < $1.key }) {
            let local = LocalDay(year: 2026, month: 11, day: day)
            let at = local.start(in: utc).addingTimeInterval(3600)
            try await store.saveUsage(requests.mapValues { NSDecimalNumber(decimal: $0).doubleValue }, source: "k8s", dimension: "cpu_requests",
                                      fetchedAt: at, day: local, retentionDays: 400)
            try await store.saveUsage([UsageValue.total: NSDecimalNumber(decimal: storedAllocatable[day]!).doubleValue], source: "k8s",
                                      dimension: "cpu_allocatable", fetchedAt: at, day: local, retentionDays: 400)
        }
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test"))
        engine.clock = { now }
        await engine.restore(evaluate: false)
        let failed = await engine.syncAllOnce()
        #expect(failed.isEmpty, "\(failed)")
        // Today's requests are what Prometheus answers. On a loaded run a poll can fail, or find
        // the series stale after a scrape that timed out (an empty vector; the stored days then
        // weigh today, as they should): polled again until all three namespaces and the
        // allocatable total have answered.
        for _ in 0..<10 {
            let requests = await engine.estate.usageStatus(of: UsageReference(usage: "k8s", dimension: "cpu_requests"))
            let allocatable = await engine.estate.usageStatus(of: UsageReference(usage: "k8s", dimension: "cpu_allocatable"))
            if requests?.values.count == 3 && allocatable?.values[UsageValue.total] != nil { break }
            try await Task.sleep(for: .seconds(1))
            await engine.usage.pollAllOnce()
        }
        let report = try await MonthlyReport.build(month: try #require(ReportMonth("2026-11")), config: engine.config, store: store,
                                                   evaluation: await engine.estate.currentEvaluation, now: now)
        let served = Served(metrics: ParsedExposition(String(buffer: engine.estate.exposition.rendered.body)), report: report.render(.csv))
        try store.close()
        return served
    }

    static func decimal(_ metrics: ParsedExposition, _ family: String, _ labels: [String: String]) -> Decimal? {
        metrics.values(family).first { sample in labels.allSatisfy { sample.labels[$0.key] == $0.value } }.flatMap { Decimal(string: $0.text) }
    }

    /// Within a cent of the exact split (rounding a split to cents moves a part by less than one).
    static func expectCent(_ served: Decimal?, _ exact: Decimal, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let served else {
            Issue.record("\(what): not served", sourceLocation: sourceLocation)
            return
        }
        let difference = served - exact
        #expect(difference.magnitude < Decimal(string: "0.01")!, "\(what): served \(served), exact \(exact)", sourceLocation: sourceLocation)
    }

    @Test("run rate: each namespace gets the nodes' cost × its requests / allocatable, __idle__ the rest; the VMs keep theirs")
    func runRate() async throws {
        let served = try await Self.serve()
        let metrics = served.metrics
        let (requests, allocatable) = Self.usage(on: Self.today)
        // The FOCUS run rate: the last day's cost for a month of 720 hours (30 days).
        let pool = (Self.cost("node-a", Self.today) + Self.cost("node-b", Self.today)) * 30
        for (namespace, cores) in requests {
            Self.expectCent(Self.decimal(metrics, "infrazen_tenant_cost_monthly", ["tenant": namespace, "currency": "RUB"]),
                            pool * cores / allocatable, "tenant \(namespace)")
            Self.expectCent(Self.decimal(metrics, "infrazen_pool_cost_monthly", ["pool": "k8s-prod", "tenant": namespace, "currency": "RUB"]),
                            pool * cores / allocatable, "pool share of \(namespace)")
        }
        let idle = pool * (allocatable - requests.values.reduce(0, +)) / allocatable
        Self.expectCent(Self.decimal(metrics, "infrazen_tenant_cost_monthly", ["tenant": "__idle__", "currency": "RUB"]), idle, "idle")
        Self.expectCent(Self.decimal(metrics, "infrazen_pool_cost_monthly", ["pool": "k8s-prod", "tenant": "__idle__", "currency": "RUB"]), idle, "pool idle")
        #expect(metrics.value("infrazen_pool_idle_ratio", ["pool": "k8s-prod"]) == 0.5625)  // 4.5 of 8 cores
        #expect(Self.decimal(metrics, "infrazen_tenant_cost_monthly", ["tenant": "crm", "currency": "RUB"]) == (Self.cost("vm-crm", Self.today) * 30).rounded(scale: 2))
        // Unallocated is the untagged VM and nothing else.
        #expect(metrics.values("infrazen_unallocated_cost_monthly").map { "\($0.labels["provider"]!) \($0.text)" }
            == ["aws \((Self.cost("vm-loose", Self.today) * 30).rounded(scale: 2))"])
        // No tenant is the pool itself, and the pool's series add up to its cost.
        #expect(!metrics.values("infrazen_tenant_cost_monthly").contains { $0.labels["tenant"]?.hasPrefix("pool:") == true })
        let poolSeries = metrics.values("infrazen_pool_cost_monthly").reduce(Decimal(0)) { $0 + Decimal(string: $1.text)! }
        #expect(poolSeries == pool.rounded(scale: 2))
    }

    @Test("month to date: each day's pool cost split with that day's requests and allocatable, to the cent, in /metrics and the report")
    func monthToDate() async throws {
        let served = try await Self.serve()
        var tenants: [String: Decimal] = [:]
        var crm: Decimal = 0, loose: Decimal = 0
        for day in 1...Self.today {
            let pool = Self.cost("node-a", day) + Self.cost("node-b", day)
            let (requests, allocatable) = Self.usage(on: day)
            for (namespace, cores) in requests { tenants[namespace, default: 0] += pool * cores / allocatable }
            tenants["__idle__", default: 0] += pool * (allocatable - requests.values.reduce(0, +)) / allocatable
            crm += Self.cost("vm-crm", day)
            loose += Self.cost("vm-loose", day)
        }
        // Day 10 through 14 had 3.5 of 6 cores requested; days 15–19 6 of 8: idle differs by day.
        #expect(tenants.count == 4)
        let report = OneTruthPropertyTests.section(served.report, "tenant")
        // The report's "Shared pools" rows: pool,tenant,currency,amount.
        var poolRows: [String: Decimal] = [:]
        for line in served.report.split(separator: "\n") where line.hasPrefix("pool,k8s-prod,") {
            let cells = line.split(separator: ",").map(String.init)
            poolRows["\(cells[2])|\(cells[3])"] = Decimal(string: cells[4])
        }
        for (tenant, exact) in tenants {
            let metric = Self.decimal(served.metrics, "infrazen_tenant_cost_month_to_date", ["tenant": tenant, "currency": "RUB"])
            Self.expectCent(metric, exact, "month to date of \(tenant)")
            #expect(report["\(tenant)|RUB"] == metric, "the report's \(tenant)")
            Self.expectCent(poolRows["\(tenant)|RUB"], exact, "the report's pool row of \(tenant)")
        }
        #expect(poolRows.count == 4)
        #expect(Self.decimal(served.metrics, "infrazen_tenant_cost_month_to_date", ["tenant": "crm", "currency": "RUB"]) == crm.rounded(scale: 2))
        #expect(served.metrics.values("infrazen_unallocated_cost_month_to_date").map { "\($0.labels["provider"]!) \($0.text)" }
            == ["aws \(loose.rounded(scale: 2))"])
    }
}
