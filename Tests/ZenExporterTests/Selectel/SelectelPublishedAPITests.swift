import CostModel
import Foundation
import Logging
import NIOCore
@testable import Storage
import Testing
@testable import ZenExporter

/// Selectel as its published material describes it (docs.selectel.ru/en/api/balance-statistics,
/// selectel/go-selvpcclient v4): every documented provider key, the documented `group_type`
/// values, and the projects list behind a Keystone token. The account is SelectelProjectsFake's;
/// figures are added up by hand from its rows, in kopecks.
@Suite("Selectel as its published API describes it", .serialized)
struct SelectelPublishedAPITests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    typealias Fake = SelectelProjectsFake

    struct Run {
        var metrics: ParsedExposition
        var logs: String
        var fake: Fake
    }

    /// Syncs `times` times through the real engine, logs recorded.
    static func run(_ behaviour: Fake.Behaviour, projects: String = "    project_ids: [\(Fake.prod)]", times: Int = 1,
                    reporting: String = "", now: Date = now) async throws -> Run {
        let fake = try Fake(behaviour)
        try await fake.start()
        let recorder = LogRecorder()
        let config = try ConfigLoader.parse(reporting + SelectelProjectsTests.yaml(fake, projects: projects), file: "t.yaml",
                                            environment: SelectelProjectsTests.environment)
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test") { _ in recorder })
        engine.retryBase = .milliseconds(10)
        engine.clock = { now }
        for _ in 0..<times { #expect(await engine.syncAllOnce() == []) }
        await fake.stop()
        return Run(metrics: ParsedExposition(String(buffer: engine.estate.exposition.rendered.body)), logs: recorder.text, fake: fake)
    }

    static let cdn = "44444444-0000-4000-8000-000000000001"
    static let function = "55555555-0000-4000-8000-000000000001"

    /// A CDN resource (provider key cdn) and a Cloud Functions function (serverless), billed
    /// every hour the fixture bills.
    static func outsideTheFiveKeys(_ period: String) -> [Fake.Row] {
        [Fake.Row(project: Fake.prod, id: cdn, name: "static-cdn", type: "cdn_traffic", zone: "", period: period, kopecks: 1234, providerKey: "cdn"),
         Fake.Row(project: Fake.prod, id: function, name: "resize-fn", type: "serverless_function", zone: "ru-7", period: period, kopecks: 567,
                  providerKey: "serverless")]
    }

    @Test("CDN and serverless spend is asked for, and the hourly total includes it to the kopeck")
    func everyProviderKey() async throws {
        let behaviour = Fake.Behaviour(extraHourly: ["2026-11-19T10:00:00": Self.outsideTheFiveKeys("2026-11-19T10:00:00"),
                                                     "2026-11-20T10:00:00": Self.outsideTheFiveKeys("2026-11-20T10:00:00")])
        let run = try await Self.run(behaviour)
        // The latest hour: 1075 (vpc rows of all projects) + 1234 (CDN) + 567 (function) = 2876 kopecks.
        #expect(abs(run.metrics.sum("infrazen_resource_cost_per_hour") - 28.76) < 0.000_001)
        #expect(run.metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Self.cdn, "category": "network"]) == 12.34)
        #expect(run.metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Self.function, "category": "compute"]) == 5.67)
        // Month to date: the vpc rows' 26150 (SelectelProjectsTests) + two hours of 1234 + 567 = 29752 kopecks.
        #expect(abs(run.metrics.sum("infrazen_cost_month_to_date") - 297.52) < 0.000_001)
        #expect(run.metrics.value("infrazen_unclassified_line_items", ["source": "sel"]) == 0)
    }

    @Test("with reporting.timezone UTC, the hours of 1 December (Moscow) count for 1 December, not 30 November")
    func moscowDateInUTC() async throws {
        // 00:00 and 01:00 of 1 December in Moscow are 21:00 and 22:00 of 30 November in UTC.
        let vm = "66666666-0000-4000-8000-000000000001"
        let first = [Fake.Row(project: Fake.prod, id: vm, name: "night-vm", type: "cloud_vm", zone: "ru-1a", period: "2026-12-01T00:00:00", kopecks: 1000)]
        let second = [Fake.Row(project: Fake.prod, id: vm, name: "night-vm", type: "cloud_vm", zone: "ru-1a", period: "2026-12-01T01:00:00", kopecks: 2000)]
        let run = try await Self.run(Fake.Behaviour(extraHourly: ["2026-12-01T00:00:00": first, "2026-12-01T01:00:00": second]),
                                     reporting: "reporting: {timezone: UTC}\n", now: ISO8601DateFormatter().date(from: "2026-12-01T00:30:00Z")!)
        // December so far: 10.00 + 20.00 ₽ (the fixture's November rows are last month's).
        #expect(abs(run.metrics.sum("infrazen_cost_month_to_date") - 30) < 0.000_001)
    }

    @Test("a 400 to group_type project_object_region_metric falls back to a documented grouping; logged once over two syncs")
    func documentedGroupType() async throws {
        let run = try await Self.run(Fake.Behaviour(documentedGroupTypesOnly: true), times: 2)
        // The same rows, per object: the latest hour is 1075 kopecks.
        #expect(abs(run.metrics.sum("infrazen_resource_cost_per_hour") - 10.75) < 0.000_001)
        #expect(abs(run.metrics.sum("infrazen_cost_month_to_date") - 261.50) < 0.000_001)
        #expect(run.logs.split(separator: "\n").filter { $0.contains("group_type") }.count == 1, "\(run.logs)")
    }

    @Test("projects list refusing X-Token is read with a domain-scoped Keystone token at the catalog's resell endpoint")
    func projectsByKeystone() async throws {
        let run = try await Self.run(Fake.Behaviour(projectsByKeystoneOnly: true), projects: "")
        #expect(run.fake.count("POST identity domain \(Fake.account)") == 1)
        // Every enabled project is then read with its own token, as when X-Token is accepted.
        for project in [Fake.prod, Fake.staging, Fake.client] { #expect(run.fake.count("POST identity \(project)") == 1) }
        let info = Dictionary(uniqueKeysWithValues: run.metrics.values("infrazen_resource_info").map { ($0.labels["resource_id"] ?? "", $0.labels) })
        #expect(info[Fake.zombieA]?["zombie"] == "true")
        #expect(info[Fake.webA]?["zombie"] == "false")
        #expect(!run.logs.contains(Fake.tokenPrefix))
    }
}
