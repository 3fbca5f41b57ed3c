@testable import Exposition
import Foundation
import Testing
@testable import ZenExporter

/// The shipped Grafana dashboards: every panel query is valid PromQL (checked by promtool) and
/// names only metrics the exporter serves or the shipped rules record.
@Suite("Grafana dashboards")
struct DashboardTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL
    static let dashboards = ["cost-analysis.json", "capacity-planning.json", "namespaces.json"]

    struct Query { var dashboard: String; var panel: String; var expr: String }

    func queries() throws -> [Query] {
        try Self.dashboards.flatMap { name -> [Query] in
            let data = try Data(contentsOf: Self.root.appendingPathComponent("deploy/grafana/\(name)"))
            let board = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let panels = try #require(board["panels"] as? [[String: Any]])
            return panels.flatMap { panel in
                ((panel["targets"] as? [[String: Any]]) ?? []).compactMap { target in
                    (target["expr"] as? String).map { Query(dashboard: name, panel: panel["title"] as? String ?? "", expr: $0) }
                }
            }
        }
    }

    /// Template variables as Grafana would substitute them for "All" and the demo's currency.
    func substituted(_ expr: String) -> String {
        expr.replacingOccurrences(of: "$currency", with: "RUB")
            .replacingOccurrences(of: "$source", with: ".*").replacingOccurrences(of: "$provider", with: ".*")
            .replacingOccurrences(of: "$tenant", with: ".*").replacingOccurrences(of: "$account", with: ".*")
            .replacingOccurrences(of: "$project", with: ".*").replacingOccurrences(of: "$pool", with: ".*")
    }

    @Test("every panel query is valid PromQL")
    func promqlParses() throws {
        let all = try queries()
        #expect(all.count >= 25)
        let rules = "groups:\n  - name: panels\n    rules:\n" + all.enumerated().map { index, query in
            "      - record: panel_\(index)\n        expr: '\(substituted(query.expr).replacingOccurrences(of: "'", with: "''"))'\n"
        }.joined()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("panels-\(UUID().uuidString).yml")
        try rules.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try runTool("promtool", ["check", "rules", file.path])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("every metric a panel names is served by the exporter")
    func metricsExist() throws {
        let served = Set(MetricCatalog.all.map { "infrazen_\($0.name)" })
        for query in try queries() {
            let names = query.expr.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") })
                .filter { $0.hasPrefix("infrazen_") }.map(String.init)
            for name in names {
                #expect(served.contains(name), "\(query.dashboard) / \(query.panel): \(name) is not a metric of the exporter")
            }
        }
    }

    @Test("the cost dashboards offer the datasource, source, provider, account, project, tenant and currency variables; Namespaces pool, tenant and currency")
    func variables() throws {
        for name in Self.dashboards {
            let expected: Set<String> = name == "namespaces.json" ? ["datasource", "pool", "tenant", "currency"]
                : ["datasource", "source", "provider", "account", "project", "tenant", "currency"]
            let data = try Data(contentsOf: Self.root.appendingPathComponent("deploy/grafana/\(name)"))
            let board = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let list = try #require((board["templating"] as? [String: Any])?["list"] as? [[String: Any]])
            #expect(Set(list.compactMap { $0["name"] as? String }) == expected, "\(name)")
        }
    }
}
