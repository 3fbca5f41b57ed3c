import Foundation
import Testing
import Yams

/// The monitoring mixin (mixin/), built by scripts/build-mixin with Debian's jsonnet.
@Suite("Monitoring mixin", .serialized)
struct MixinTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL

    static func build(config: String) throws -> URL {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mixin-\(UUID().uuidString)")
        let result = try runTool(root.appendingPathComponent("scripts/build-mixin").path, ["--out", out.path, "--config", config])
        try #require(result.status == 0, "\(result.output)")
        return out
    }

    /// Every expression of the built alerts, rules and dashboards, by where it stands.
    static func expressions(in directory: URL) throws -> [(place: String, expr: String)] {
        var found: [(String, String)] = []
        for name in ["alerts.yml", "recording.rules.yml", "chom-compat.rules.yml"] {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            let groups = (try Yams.load(yaml: text) as? [String: Any])?["groups"] as? [[String: Any]] ?? []
            for group in groups {
                for rule in group["rules"] as? [[String: Any]] ?? [] { if let expr = rule["expr"] as? String { found.append((name, expr)) } }
            }
        }
        for name in DashboardTests.dashboards {
            let board = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent(name))) as? [String: Any] ?? [:]
            for panel in board["panels"] as? [[String: Any]] ?? [] {
                for target in panel["targets"] as? [[String: Any]] ?? [] { if let expr = target["expr"] as? String { found.append((name, expr)) } }
            }
            for variable in (board["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? [] {
                if let query = variable["query"] as? String, query.contains("infrazen_") { found.append((name, query)) }
                if let query = (variable["query"] as? [String: Any])?["query"] as? String, query.contains("infrazen_") { found.append((name, query)) }
            }
        }
        return found
    }

    /// Each infrazen_ metric name in an expression (not a recording rule's name), with what follows it.
    static func metrics(in expr: String) -> [(name: String, rest: Substring)] {
        var found: [(String, Substring)] = []
        var rest = Substring(expr)
        while let range = rest.range(of: "infrazen_") {
            let before = rest[..<range.lowerBound].last
            let name = rest[range.lowerBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
            let after = rest[range.lowerBound...].dropFirst(name.count)
            if !(before.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" } ?? false) && !name.contains(":") {
                found.append((String(name), after))
            }
            rest = after
        }
        return found
    }

    @Test("the shipped alerts, rules and dashboards are what the mixin builds")
    func shippedFilesAreBuilt() throws {
        let result = try runTool(Self.root.appendingPathComponent("scripts/build-mixin").path, ["--check"])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("changing _config.jobSelector changes every expression: each infrazen_ series carries it, and promtool accepts the rules")
    func jobSelectorEverywhere() throws {
        let out = try Self.build(config: #"{jobSelector: 'job="cost",cluster="prod"'}"#)
        defer { try? FileManager.default.removeItem(at: out) }
        let expressions = try Self.expressions(in: out)
        #expect(expressions.count > 50, "\(expressions.count) expressions")
        var series = 0
        for (place, expr) in expressions {
            let metrics = Self.metrics(in: expr)
            // An expression over recorded series only (`estate:infrazen_health_score:avg_1d`) reads
            // what the recording rules computed from selected series; the rules are checked here too.
            #expect(!metrics.isEmpty || expr.contains("up{job=\"cost\",cluster=\"prod\"}") || expr.contains(":infrazen_"), "\(place): \(expr)")
            for metric in metrics {
                series += 1
                #expect(metric.rest.hasPrefix("{job=\"cost\",cluster=\"prod\"") , "\(place): \(metric.name) in \(expr)")
            }
        }
        #expect(series > 80)
        for name in ["alerts.yml", "recording.rules.yml", "chom-compat.rules.yml"] {
            let checked = try runTool("promtool", ["check", "rules", out.appendingPathComponent(name).path])
            #expect(checked.status == 0, "\(name): \(checked.output)")
        }
    }

    @Test("_config's runbook template, thresholds and dashboard settings reach the built files")
    func configReachesFiles() throws {
        let out = try Self.build(config: #"{runbookURLTemplate: 'https://wiki.example.com/rb/%s', thresholds+: {anomalyScore: 4.5}, dashboardTags: ['cost'], dashboardTimezone: 'Europe/Moscow'}"#)
        defer { try? FileManager.default.removeItem(at: out) }
        let alerts = try String(contentsOf: out.appendingPathComponent("alerts.yml"), encoding: .utf8)
        #expect(alerts.contains("runbook_url: https://wiki.example.com/rb/infrazencostanomaly\n"))
        #expect(!alerts.contains("github.com"))
        #expect(alerts.contains("expr: infrazen_cost_anomaly_score > 4.5\n"))
        let board = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("cost-analysis.json"))) as? [String: Any]
        #expect(board?["tags"] as? [String] == ["cost"])
        #expect(board?["timezone"] as? String == "Europe/Moscow")
    }
}
