import Foundation
import Testing

/// The shipped alert rules, checked and unit-tested by the real promtool.
@Suite("Alert rules")
struct AlertRulesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL

    @Test("promtool check rules accepts alerts.yml")
    func check() throws {
        let result = try runTool("promtool", ["check", "rules", Self.root.appendingPathComponent("alerts.yml").path])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("promtool test rules: every alert fires when it should and stays quiet when it should not")
    func unitTests() throws {
        let result = try runTool("sh", ["-c", "cd '\(Self.root.path)/deploy/prometheus/tests' && promtool test rules alerts.test.yml"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("SUCCESS"))
    }

    @Test("promtool check config accepts the example configs (one exporter, two shards, an HA pair) with their rule files",
          arguments: ["prometheus.yml", "shards.yml", "ha-pair.yml"])
    func prometheusConfig(example: String) throws {
        let result = try runTool("promtool", ["check", "config", Self.root.appendingPathComponent("deploy/prometheus/\(example)").path])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("recording and CHOM-compatibility rules produce the expected series")
    func recordingRules() throws {
        let result = try runTool("sh", ["-c", "cd '\(Self.root.path)/deploy/prometheus/tests' && promtool test rules rules.test.yml"])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("every alert has a runbook section in docs/alerts.md that its runbook_url points at")
    func runbooks() throws {
        let rules = try String(contentsOf: Self.root.appendingPathComponent("alerts.yml"), encoding: .utf8)
        let doc = try String(contentsOf: Self.root.appendingPathComponent("docs/alerts.md"), encoding: .utf8)
        let names = rules.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
        }
        #expect(names.count >= 9)
        for name in names {
            #expect(doc.contains("## \(name)\n"), "docs/alerts.md has no section for \(name)")
            #expect(rules.contains("docs/alerts.md#\(name.lowercased())"), "\(name) has no runbook_url to its section")
        }
    }
}
