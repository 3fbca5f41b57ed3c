import Foundation
@testable import SourceKit
import Testing
@testable import ZenExporter

/// Each bad-config case names the key and its line:column.
@Suite("Config errors")
struct ConfigTests {
    func issues(_ yaml: String, environment: [String: String] = [:]) -> [ConfigIssue] { configIssues(yaml, environment: environment) }

    func single(_ yaml: String, environment: [String: String] = [:]) throws -> ConfigIssue {
        let found = issues(yaml, environment: environment)
        #expect(found.count == 1, "expected one issue, got \(found)")
        return try #require(found.first)
    }

    @Test("the shipped exporter.yaml loads")
    func shippedConfig() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../exporter.yaml").path
        let config = try ConfigLoader.load(path: path, environment: [:])
        #expect(config.sources.map(\.type) == ["demo"])
        #expect(config.listen == ListenAddress(host: "0.0.0.0", port: 9469))
        #expect(config.storage.path == "./data/infrazen.db")
        #expect(config.budgets.count >= 2)
    }

    @Test("defaults fill what the file leaves out")
    func defaults() throws {
        let config = try ConfigLoader.parse("sources:\n  - name: d\n    type: demo\n", file: "t", environment: [:])
        #expect(config.reporting.hoursPerMonth == 720)
        #expect(config.reporting.currency.code == "RUB")
        #expect(config.reporting.timeZone.identifier == "Europe/Moscow")
        #expect(config.sources[0].interval == .seconds(3600))
        #expect(config.storage.retentionDays == 400)
    }

    @Test("an unknown key is reported at the key")
    func unknownKey() throws {
        let issue = try single("""
        sources:
          - name: demo
            type: demo
            intervall: 5m
        """)
        #expect(issue.key == "sources[0].intervall")
        #expect((issue.line, issue.column) == (4, 5))
        #expect(issue.message.contains("unknown key"))
    }

    @Test("an unknown top-level key is reported at the key")
    func unknownTopLevelKey() throws {
        let issue = try single("sources:\n  - {name: d, type: demo}\nlisten_address: x\n")
        #expect(issue.key == "listen_address")
        #expect((issue.line, issue.column) == (3, 1))
    }

    @Test("a wrong type names the key and the value's position")
    func wrongType() throws {
        let issue = try single("""
        storage:
          retention_days: forever
        sources:
          - {name: d, type: demo}
        """)
        #expect(issue.key == "storage.retention_days")
        #expect((issue.line, issue.column) == (2, 19))
        #expect(issue.message.contains("expected an integer"))
    }

    @Test("a mapping where a list belongs is a wrong type")
    func mappingForList() throws {
        let issue = try single("sources:\n  name: d\n")
        #expect(issue.key == "sources")
        #expect((issue.line, issue.column) == (2, 3))
    }

    @Test("a bad duration names the key")
    func badDuration() throws {
        let issue = try single("""
        sources:
          - name: demo
            type: demo
            interval: 5 minutes
        """)
        #expect(issue.key == "sources[0].interval")
        #expect((issue.line, issue.column) == (4, 15))
        #expect(issue.message.contains("invalid duration"))
    }

    @Test("a negative interval is refused")
    func negativeInterval() throws {
        let issue = try single("""
        sources:
          - name: demo
            type: demo
            interval: -5m
        """)
        #expect(issue.key == "sources[0].interval")
        #expect((issue.line, issue.column) == (4, 15))
        #expect(issue.message.contains("negative"))
    }

    @Test("a zero timeout is refused")
    func zeroTimeout() throws {
        let issue = try single("sources:\n  - name: demo\n    type: demo\n    timeout: 0s\n")
        #expect(issue.key == "sources[0].timeout")
        #expect((issue.line, issue.column) == (4, 14))
    }

    @Test("an unknown currency names the key")
    func unknownCurrency() throws {
        let issue = try single("""
        reporting:
          currency: RUR
        sources:
          - {name: d, type: demo}
        """)
        #expect(issue.key == "reporting.currency")
        #expect((issue.line, issue.column) == (2, 13))
        #expect(issue.message.contains("unknown currency"))
    }

    @Test("an unknown currency inside a budget names the budget's key")
    func unknownBudgetCurrency() throws {
        let issue = try single("""
        sources:
          - {name: d, type: demo}
        budgets:
          - name: total
            amount: 100
            currency: XYZ
        """)
        #expect(issue.key == "budgets[0].currency")
        #expect((issue.line, issue.column) == (6, 15))
    }

    @Test("a duplicate source name points at the second and names the first's line")
    func duplicateSourceName() throws {
        let issue = try single("""
        sources:
          - name: demo
            type: demo
          - name: demo
            type: demo
        """)
        #expect(issue.key == "sources[1].name")
        #expect((issue.line, issue.column) == (4, 11))
        #expect(issue.message.contains("duplicate source name") && issue.message.contains("line 2"))
    }

    @Test("a missing secret environment variable names the key, not a value")
    func missingSecretEnv() throws {
        let issue = try single("""
        sources:
          - {name: d, type: demo}
        usage:
          - name: app-db
            type: postgres
            dsn_env: APP_DB_DSN
            queries: {storage_bytes: "SELECT 1"}
        """)
        #expect(issue.key == "usage[0].dsn_env")
        #expect((issue.line, issue.column) == (6, 14))
        #expect(issue.message.contains("APP_DB_DSN is not set"))
    }

    @Test("a set secret environment variable resolves and never prints")
    func presentSecretEnv() throws {
        let config = try ConfigLoader.parse("""
        sources:
          - {name: d, type: demo}
        usage:
          - {name: app-db, type: postgres, dsn_env: APP_DB_DSN, queries: {storage_bytes: "SELECT 1"}}
        """, file: "t", environment: ["APP_DB_DSN": "postgres://u:hunter2@db/app"])
        let secret = try #require(config.usage.first?.dsn)
        #expect(secret.value == "postgres://u:hunter2@db/app")
        #expect("\(secret)" == "<secret>")
    }

    @Test("a capacity scope naming an unknown usage query is reported at its line")
    func unknownUsageReference() throws {
        let issue = try single("""
        sources:
          - {name: d, type: demo}
        usage:
          - {name: app, type: sqlite, path: /tmp/app.db, queries: {storage_bytes: "SELECT 1"}}
        capacity:
          - scope: s
            dimension: storage_bytes
            used_from: usage/app/storage
            total: 5TB
        """)
        #expect(issue.key == "capacity[0].used_from")
        #expect((issue.line, issue.column) == (8, 16))
        #expect(issue.message.contains("usage/app/storage_bytes"))
    }

    @Test("a capacity total that is not an amount names the key")
    func badQuantity() throws {
        let issue = try single("""
        sources:
          - {name: d, type: demo}
        capacity:
          - {scope: s, dimension: storage_bytes, used: 1GB, total: lots}
        """)
        #expect(issue.key == "capacity[0].total")
        #expect(issue.message.contains("5TB"))
    }

    @Test("a capacity scope with both total and total_from is reported at total_from")
    func totalTwice() throws {
        let issue = try single("""
        sources:
          - {name: d, type: demo}
        usage:
          - {name: x, type: sqlite, path: /tmp/x.db, queries: {y: "SELECT 1"}}
        capacity:
          - {scope: s, dimension: storage_bytes, used: 1GB, total: 5TB, total_from: usage/x/y}
        """)
        #expect(issue.key == "capacity[0].total_from")
        #expect(issue.message.contains("not both"))
    }

    @Test("byte amounts: 5TB is 5e12, 512GiB is 512 × 2^30")
    func quantities() throws {
        let config = try ConfigLoader.parse("""
        sources: [{name: d, type: demo}]
        capacity:
          - {scope: s, dimension: storage_bytes, used: 512GiB, total: 5TB}
        """, file: "t", environment: [:])
        #expect(config.capacity.first?.total == 5e12)
        #expect(config.capacity.first?.used == Double(512 * 1_073_741_824))
    }

    @Test("a shared-cost driver that is neither a split, usage nor weights is reported")
    func badDriver() throws {
        let issue = try single("""
        sources:
          - {name: d, type: demo}
        allocation:
          shared:
            drivers:
              storage: by-size
        """)
        #expect(issue.key == "allocation.shared.drivers.storage")
        #expect((issue.line, issue.column) == (6, 16))
    }

    @Test("a prometheus usage source without url is reported")
    func prometheusNeedsURL() throws {
        let issue = try single("""
        sources:
          - {name: d, type: demo}
        usage:
          - {name: node, type: prometheus, queries: {used_bytes: "up"}}
        """)
        #expect(issue.key == "usage[0].url")
    }

    @Test("a postgres DSN that is not a URL is reported without its value")
    func badDSN() throws {
        let issue = try single("""
        sources:
          - {name: d, type: demo}
        usage:
          - {name: app, type: postgres, dsn_env: APP_DSN, queries: {storage_bytes: "SELECT 1"}}
        """, environment: ["APP_DSN": "host=db password=hunter2"])
        #expect(issue.key == "usage[0].dsn_env")
        #expect(!issue.message.contains("hunter2"))
    }

    @Test("a missing secret file names the key")
    func missingSecretFile() throws {
        let issue = try single("""
        sources:
          - {name: d, type: demo}
        usage:
          - name: app-db
            type: sqlite
            dsn_file: /nonexistent/secret
            queries: {storage_bytes: "SELECT 1"}
        """)
        #expect(issue.key == "usage[0].dsn_file")
        #expect((issue.line, issue.column) == (6, 15))
        #expect(issue.message.contains("does not exist"))
    }

    @Test("malformed YAML gives the position of the syntax error")
    func malformedYAML() throws {
        let issue = try single("""
        sources:
          - name: demo
            type: [demo
        listen: x
        """)
        #expect(issue.key == "(yaml)")
        #expect(issue.line == 4)
        #expect(issue.message.contains("malformed YAML"))
    }

    @Test("a duplicated key in one mapping is malformed YAML at the key")
    func duplicatedKey() throws {
        let issue = try single("sources:\n  - {name: d, type: demo}\nlisten: \"a:1\"\nlisten: \"b:2\"\n")
        #expect(issue.key == "(yaml)")
        #expect(issue.line == 3)
        #expect(issue.message.contains("duplicate key listen"))
    }

    @Test("an unknown source type lists the known ones")
    func unknownSourceType() throws {
        let issue = try single("sources:\n  - name: x\n    type: digitalocean\n    token_env: DO\n")
        #expect(issue.key == "sources[0].type")
        #expect((issue.line, issue.column) == (3, 11))
        #expect(issue.message.contains("known: beget, cloudru, demo, focus, focus_sql, openstack, selectel, yandex"))
    }

    @Test("every problem in a file is reported at once, in file order")
    func allAtOnce() {
        let found = issues("""
        listen: nowhere
        reporting:
          currency: RUR
          timezone: Mars/Olympus
        sources:
          - name: demo
            type: demo
            interval: 1x
          - name: demo
            type: demo
        """)
        #expect(found.map(\.key) == ["listen", "reporting.currency", "reporting.timezone", "sources[0].interval", "sources[1].name"])
        #expect(found.map(\.line) == [1, 3, 4, 8, 9])
    }

    @Test("the description reads file:line:column: key: message")
    func issueFormat() throws {
        let issue = try single("sources:\n  - {name: d, type: demo, retries: 99}\n")
        #expect(issue.description.hasPrefix("test.yaml:2:36: sources[0].retries: 99 is out of range"))
    }
}
