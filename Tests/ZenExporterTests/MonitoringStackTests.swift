import Foundation
import Hummingbird
import Synchronization
import Testing
import Yams

/// What a user installs next to the daemon, run for real: the daemon on the shipped demo config,
/// Prometheus from Debian scraping it with the shipped alert, recording and CHOM rules, and
/// Alertmanager from Debian with the shipped routes and inhibitions delivering to a webhook on
/// 127.0.0.1. Everything listens on loopback; the test is bounded by its time limit.
@Suite("Prometheus and Alertmanager against the demo", .timeLimit(.minutes(4)))
struct MonitoringStackTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL
    static let budgetAlerts: Set<String> = ["InfrazenBudgetExceeded", "InfrazenBudgetForecastOverrun"]

    /// The plain shipped exporter.yaml: its demo items (a domain renewing in 12 days without
    /// auto-renew, a SaaS subscription, an AI API at 92 % of its free tier) fill the renewals panel.
    static func demoConfig() throws -> String {
        try String(contentsOf: root.appendingPathComponent("exporter.yaml"), encoding: .utf8)
    }

    /// Prometheus' config: the shipped rule files, with every alert's `for:` cut to 0s so a
    /// condition that holds fires on the first evaluation; scrape and evaluate every second.
    static func prometheusConfig(in tool: BackgroundTool, exporterPort: Int, alertmanagerPort: Int) throws -> String {
        let alerts = try String(contentsOf: root.appendingPathComponent("alerts.yml"), encoding: .utf8)
            .replacingOccurrences(of: #"for: [0-9]+[smhd]"#, with: "for: 0s", options: .regularExpression)
        let alertsPath = try tool.write("alerts.yml", alerts)
        let rules = ["recording.rules.yml", "chom-compat.rules.yml"].map { root.appendingPathComponent("deploy/prometheus/\($0)").path }
        return """
        global: { scrape_interval: 1s, evaluation_interval: 1s }
        rule_files: [\(([alertsPath] + rules).map { "\"\($0)\"" }.joined(separator: ", "))]
        alerting:
          alertmanagers: [{ static_configs: [{ targets: ["127.0.0.1:\(alertmanagerPort)"] }] }]
        scrape_configs:
          - job_name: zen-exporter
            static_configs: [{ targets: ["127.0.0.1:\(exporterPort)"] }]

        """
    }

    /// The shipped alertmanager.yml with its routes and inhibitions as they are, each receiver
    /// replaced by a webhook to `/alerts/<receiver>` and the waits cut to a second.
    static func alertmanagerConfig(webhook: String) throws -> String {
        let shipped = try String(contentsOf: root.appendingPathComponent("deploy/alertmanager/alertmanager.yml"), encoding: .utf8)
        var config = try #require(try Yams.load(yaml: shipped) as? [String: Any])
        config["global"] = nil
        var route = try #require(config["route"] as? [String: Any])
        route["group_wait"] = "1s"
        route["group_interval"] = "1s"
        config["route"] = route
        let receivers = try #require(config["receivers"] as? [[String: Any]])
        config["receivers"] = receivers.compactMap { $0["name"] as? String }.map { name in
            ["name": name, "webhook_configs": [["url": "\(webhook)/alerts/\(name)"]]] as [String: Any]
        }
        return try Yams.dump(object: config)
    }

    struct Delivery: Sendable { var receiver: String; var payload: Data }

    @Test("the demo fills every dashboard panel through Prometheus and a budget alert reaches the webhook")
    func demoThroughPrometheusAndAlertmanager() async throws {
        let daemon = try Daemon(config: try Self.demoConfig())
        try daemon.start()
        try await daemon.waitUntilReady()

        let deliveries = Mutex<[Delivery]>([])
        let webhook = try LoopbackServer()
        let router = Router()
        router.post("/alerts/:receiver") { request, context -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            let receiver = context.parameters.get("receiver") ?? ""
            deliveries.withLock { $0.append(Delivery(receiver: receiver, payload: Data(buffer: body))) }
            return .ok
        }
        try await webhook.start(router)
        defer { Task { await webhook.stop() } }

        let alertmanager = try BackgroundTool("prometheus-alertmanager", [
            "--config.file={dir}/alertmanager.yml", "--storage.path={dir}/data",
            "--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        ])
        _ = try alertmanager.write("alertmanager.yml", try Self.alertmanagerConfig(webhook: webhook.baseURL))
        try alertmanager.start()
        try await alertmanager.waitUntilReady("/-/ready")

        let prometheus = try BackgroundTool("prometheus", [
            "--config.file={dir}/prometheus.yml", "--storage.tsdb.path={dir}/data", "--web.listen-address=127.0.0.1:{port}",
        ])
        _ = try prometheus.write("prometheus.yml", try Self.prometheusConfig(in: prometheus, exporterPort: daemon.port, alertmanagerPort: alertmanager.port))
        try prometheus.start()
        try await prometheus.waitUntilReady("/-/ready")

        // Every panel query, as Grafana sends it for "All" and RUB, returns at least one series.
        // Rates and recorded series need a few scrapes and evaluations: poll, bounded.
        let dashboards = DashboardTests()
        // The unpriced-resources table shows a `type: openstack` price list's missing keys, and
        // the commitment and effective-cost panels a FOCUS export's commitment discounts; the
        // demo estate has neither, so those panels are empty by design (FocusCommitmentsTests
        // checks the series they read).
        let focusOnly = ["infrazen_unpriced_resources", "infrazen_commitment_", "infrazen_effective_cost_"]
        var pending = try dashboards.queries().filter { query in !focusOnly.contains { query.expr.contains($0) } }
        #expect(pending.count >= 25)
        let deadline = Date().addingTimeInterval(90)
        while !pending.isEmpty && Date() < deadline {
            var stillEmpty: [DashboardTests.Query] = []
            for query in pending where try await Self.instantQuery(prometheus, dashboards.substituted(query.expr)).isEmpty {
                stillEmpty.append(query)
            }
            pending = stillEmpty
            if !pending.isEmpty { try await Task.sleep(for: .seconds(1)) }
        }
        for query in pending {
            Issue.record("\(query.dashboard) / \(query.panel): no data for \(query.expr)")
        }

        // The object-storage budget is over (from the 2nd of a month) or forecast to be (on the
        // 1st): either page routes to the Slack receiver and prints the value with its currency.
        var budgetAlert: [String: Any]?
        while budgetAlert == nil && Date() < deadline.addingTimeInterval(60) {
            budgetAlert = deliveries.withLock { $0 }.filter { $0.receiver == "finops-slack" }.lazy.flatMap { delivery -> [[String: Any]] in
                let payload = (try? JSONSerialization.jsonObject(with: delivery.payload)) as? [String: Any]
                return payload?["alerts"] as? [[String: Any]] ?? []
            }.first { alert in
                let labels = alert["labels"] as? [String: String] ?? [:]
                return Self.budgetAlerts.contains(labels["alertname"] ?? "") && labels["budget"] == "object-storage"
            }
            if budgetAlert == nil { try await Task.sleep(for: .milliseconds(500)) }
        }
        let alert = try #require(budgetAlert, "no budget alert reached the webhook; Alertmanager said:\n\(alertmanager.logText)")
        #expect(alert["status"] as? String == "firing")
        let summary = (alert["annotations"] as? [String: String])?["summary"] ?? ""
        #expect(summary.contains("object-storage") && summary.contains(" RUB"), "\(summary)")
        #expect(((alert["annotations"] as? [String: String])?["runbook_url"] ?? "").contains("docs/alerts.md#infrazenbudget"))
    }

    /// `/api/v1/query` at now: the result's series (or one element for a scalar).
    static func instantQuery(_ prometheus: BackgroundTool, _ expr: String) async throws -> [Any] {
        let encoded = expr.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expr
        let (data, status) = try await prometheus.get("/api/v1/query?query=\(encoded)")
        let body = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        try #require(status == 200, "\(expr): \(body["error"] ?? status)")
        let result = (body["data"] as? [String: Any])?["result"]
        if let series = result as? [Any], (body["data"] as? [String: Any])?["resultType"] as? String != "scalar" { return series }
        return result.map { [$0] } ?? []
    }
}
