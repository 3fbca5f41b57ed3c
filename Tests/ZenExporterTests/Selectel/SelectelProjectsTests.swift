import CostModel
import Foundation
import Logging
import NIOCore
@testable import ProviderSelectel
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// One `selectel` source over an account of three projects (SelectelProjectsFake): prod and
/// staging configured, staging's Keystone token refused, client left out. Every figure below
/// is added up by hand from the fixture rows in SelectelProjectsFake, in kopecks:
///
/// the latest billed hour (2026-11-20T10:00 Moscow), per object:
///   prod:    web-a 120 + 80 = 200, disk-a 30 (parent web-a), zombie-a 150        → 380
///   staging: stage-vm 250                                                         → 250
///   client:  client-vm 400, client-disk 45 (parent client-vm)                     → 445
///   account: 380 + 250 + 445                                                      → 1075
/// month to date (1–20 November, Moscow): the two billed hours (19th and 20th, 1075 each)
/// and the daily rows of 10 November (4800 + 3600 + 6000 + 9600 = 24000):
///   2 × 1075 + 24000 = 26150 (the 9600 of 30 October is last month's)
@Suite("Selectel: one source, several projects", .serialized)
struct SelectelProjectsTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    typealias Fake = SelectelProjectsFake

    static func yaml(_ fake: Fake, projects: String, extra: String = "") -> String {
        """
        sources:
          - name: sel
            type: selectel
            token_env: SEL_TOKEN
            username_env: SEL_USER
            password_env: SEL_PASSWORD
            account_id: "\(Fake.account)"
        \(projects)
            base_url: "\(fake.baseURL)"
            retries: 0
            timeout: 30s
        \(extra)
        """
    }

    static let environment = ["SEL_TOKEN": Fake.staticToken, "SEL_USER": Fake.username, "SEL_PASSWORD": Fake.password]
    static let configured = "    project_ids: [\(Fake.prod), \(Fake.staging)]"

    struct Run {
        var metrics: ParsedExposition
        var text: String
        var logs: String
        var database: Data
        var fake: Fake
    }

    /// One sync through the real engine into a real SQLite file, logs recorded.
    static func run(projects: String = configured, extra: String = "") async throws -> Run {
        let fake = try Fake()
        try await fake.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("selectel-projects-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("infrazen.db").path
        let recorder = LogRecorder()
        let config = try ConfigLoader.parse(yaml(fake, projects: projects, extra: extra), file: "t.yaml", environment: environment)
        var engine = SyncEngine(config: config, store: try Store(path: path), logger: Logger(label: "test") { _ in recorder })
        engine.retryBase = .milliseconds(10)
        engine.clock = { Self.now }
        let failed = await engine.syncAllOnce()
        await fake.stop()
        #expect(failed == [])
        let text = String(buffer: engine.estate.exposition.rendered.body)
        var database = Data()
        for suffix in ["", "-wal", "-shm"] {
            database += (try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data()
        }
        return Run(metrics: ParsedExposition(text), text: text, logs: recorder.text, database: database, fake: fake)
    }

    func perHour(_ metrics: ParsedExposition, project: String) -> Double {
        metrics.sum("infrazen_resource_cost_per_hour") { $0["project"] == project }
    }

    @Test("run rate per project equals the hand-computed sums of its rows, the unconfigured project's included")
    func projectTotals() async throws {
        let run = try await Self.run()
        #expect(abs(perHour(run.metrics, project: Fake.prod) - 3.80) < 1e-9)      // 380 kopecks
        #expect(abs(perHour(run.metrics, project: Fake.staging) - 2.50) < 1e-9)   // 250
        #expect(abs(perHour(run.metrics, project: Fake.client) - 4.45) < 1e-9)    // 445, not configured
        #expect(run.metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Fake.webA, "project": Fake.prod]) == 2.30)  // 200 + disk 30
        #expect(run.metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Fake.clientVM, "project": Fake.client]) == 4.45)
    }

    @Test("a zombie only where its own project's inventory answered: not in the refused or the unconfigured project")
    func zombiesPerProject() async throws {
        let run = try await Self.run()
        let info = Dictionary(uniqueKeysWithValues: run.metrics.values("infrazen_resource_info").map { ($0.labels["resource_id"] ?? "", $0.labels) })
        #expect(info[Fake.zombieA]?["zombie"] == "true")     // prod's ru-1 answered without it
        #expect(info[Fake.webA]?["zombie"] == "false")
        #expect(info[Fake.stageVM]?["zombie"] == "false")    // staging's token was refused
        #expect(info[Fake.clientVM]?["zombie"] == "false")   // client is not configured
        // Waste: zombie-a alone, 1.50 ₽/h × 720 h.
        #expect(run.metrics.sum("infrazen_waste_cost_monthly") { $0["kind"] == "zombie" } == 1080)
    }

    @Test("nothing double counted: the account's totals are its rows summed once")
    func accountTotals() async throws {
        let run = try await Self.run()
        let series = run.metrics.values("infrazen_resource_cost_per_hour")
        #expect(series.count == Set(series.map { $0.labels["resource_id"] ?? "" }).count)
        #expect(abs(run.metrics.sum("infrazen_resource_cost_per_hour") - 10.75) < 1e-9)                 // 1075 kopecks
        #expect(abs(run.metrics.sum("infrazen_infrastructure_cost_monthly") - 7740) < 1e-6)              // 10.75 × 720
        #expect(abs(run.metrics.sum("infrazen_cost_month_to_date") { $0["account"] == Fake.account } - 261.50) < 1e-6)  // 26150
        #expect(run.fake.count("GET consumption hour") == 1 && run.fake.count("GET consumption day") == 1)
    }

    @Test("a refused token fails its project's inventory alone; the other project's inventory and utilisation are read")
    func refusedToken() async throws {
        let run = try await Self.run()
        #expect(run.metrics.value("infrazen_sync_errors_total", ["source": "sel", "endpoint": "identity", "reason": "http_403"]) == 1)
        #expect(run.metrics.value("infrazen_source_up", ["source": "sel"]) == 1)
        #expect(run.fake.count("GET nova \(Fake.prod)") == 1 && run.fake.count("GET nova \(Fake.staging)") == 0)
        #expect(run.fake.count("POST identity \(Fake.client)") == 0)
        #expect(run.metrics.value("infrazen_resource_info", ["resource_id": Fake.webA, "flavor": "SL1.2-4096", "status": "RUNNING"]) == 1)
        #expect(run.metrics.value("infrazen_resource_info", ["resource_id": Fake.stageVM, "status": "MISSING"]) == 1)
        #expect(run.metrics.value("infrazen_resource_utilization_ratio", ["resource_id": Fake.webA, "dimension": "cpu"]) == 0.1)
        #expect(run.logs.contains("project \(Fake.staging)"))
    }

    @Test("no password, static token or Keystone token in the logs, the exposition or the SQLite file")
    func noSecrets() async throws {
        let run = try await Self.run()
        let tokens = run.fake.issuedTokens
        #expect(!tokens.isEmpty)
        let database = String(decoding: run.database, as: UTF8.self)
        #expect(database.contains(Fake.zombieA))   // the file was read and holds the resources
        for secret in [Fake.password, Fake.staticToken, Fake.tokenPrefix] + tokens {
            #expect(!run.logs.contains(secret), "\(secret) in the logs")
            #expect(!run.text.contains(secret), "\(secret) in the exposition")
            #expect(run.database.range(of: Data(secret.utf8)) == nil, "\(secret) in the database")
        }
    }

    @Test("without project_ids every project of the account is discovered, each with its own token")
    func discovery() async throws {
        let run = try await Self.run(projects: "")
        #expect(run.fake.count("GET projects") == 1)
        for project in [Fake.prod, Fake.staging, Fake.client] { #expect(run.fake.count("POST identity \(project)") == 1) }
        #expect(run.fake.count("GET nova \(Fake.client)") == 1)
        let info = Dictionary(uniqueKeysWithValues: run.metrics.values("infrazen_resource_info").map { ($0.labels["resource_id"] ?? "", $0.labels) })
        #expect(info[Fake.clientVM]?["zombie"] == "true")    // client's own inventory answered without it
        #expect(info[Fake.stageVM]?["zombie"] == "false")
    }

    @Test("allocation rules match on project and account")
    func allocationByProject() async throws {
        let run = try await Self.run(extra: """
        allocation:
          rules:
            - match: { project: "^\(Fake.client)$", account: "^\(Fake.account)$" }
              set: { tenant: client-x }
        """)
        #expect(run.metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Fake.clientVM, "tenant": "client-x"]) == 4.45)
        #expect(run.metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Fake.webA, "tenant": ""]) == 2.30)
        #expect(abs((run.metrics.value("infrazen_tenant_cost_monthly", ["tenant": "client-x"]) ?? 0) - 3204) < 1e-6)  // 4.45 × 720
    }

    @Test("each resource's project is stored and served again after a restart")
    func projectSurvivesRestart() async throws {
        let fake = try Fake()
        try await fake.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("selectel-projects-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("infrazen.db").path
        let config = try ConfigLoader.parse(Self.yaml(fake, projects: Self.configured), file: "t.yaml", environment: Self.environment)
        do {
            let store = try Store(path: path)
            var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test"))
            engine.clock = { Self.now }
            #expect(await engine.syncAllOnce() == [])
            try store.close()
        }
        await fake.stop()
        let store = try Store(path: path)
        defer { try? store.close() }
        var restarted = SyncEngine(config: config, store: store, logger: Logger(label: "test"))
        restarted.clock = { Self.now }
        await restarted.restore()
        let metrics = ParsedExposition(String(buffer: restarted.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Fake.clientVM, "project": Fake.client]) == 4.45)
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": Fake.webA, "project": Fake.prod]) == 2.30)
    }

    // MARK: Config

    func issues(_ yaml: String) -> [ConfigIssue] {
        do {
            _ = try ConfigLoader.parse(yaml, file: "t.yaml", environment: Self.environment)
            return []
        } catch {
            return error.issues
        }
    }

    @Test("two selectel sources on one account are a config error naming both")
    func sameAccountTwice() {
        let found = issues("""
        sources:
          - { name: sel-prod, type: selectel, token_env: SEL_TOKEN, account_id: "200001", project_id: \(Fake.prod) }
          - { name: sel-staging, type: selectel, token_env: SEL_TOKEN, account_id: "200001", project_id: \(Fake.staging) }
          - { name: other, type: selectel, token_env: SEL_TOKEN, account_id: "200002" }
        """)
        #expect(found.count == 1)
        #expect(found.first?.key == "sources[1].account_id" && found.first?.line == 3)
        #expect(found.first.map { $0.message.contains("\"sel-prod\"") && $0.message.contains("\"sel-staging\"") } == true)
    }

    @Test("project_ids is a list; project_id still reads as one project; both at once is an error")
    func projectKeys() throws {
        let fake = try Fake()
        let listed = try ConfigLoader.parse(Self.yaml(fake, projects: Self.configured), file: "t.yaml", environment: Self.environment)
        #expect((listed.sources.first?.settings as? SelectelSource.Settings)?.projectIDs == [Fake.prod, Fake.staging])
        let single = try ConfigLoader.parse(Self.yaml(fake, projects: "    project_id: \(Fake.prod)"), file: "t.yaml", environment: Self.environment)
        #expect((single.sources.first?.settings as? SelectelSource.Settings)?.projectIDs == [Fake.prod])
        let both = issues(Self.yaml(fake, projects: "    project_id: \(Fake.prod)\n    project_ids: [\(Fake.staging)]"))
        #expect(both.map(\.key) == ["sources[0].project_ids"])
    }
}
