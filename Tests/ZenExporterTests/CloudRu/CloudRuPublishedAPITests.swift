import CostModel
import Foundation
import Logging
import NIOCore
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// `type: cloudru` against CloudRuEstateFake, which follows the published shapes. Figures by
/// hand from the rows listed there, roubles:
///   month to date (November, without VAT): 48.10 + 12.34 + 3.60 + 3.60 + 7.05 = 74.69
///   with VAT: 58.682 + 15.0548 + 4.392 + 4.392 + 8.601 = 91.1218 (each = amount × 1.22)
@Suite("Cloud.ru as its published API describes it", .serialized)
struct CloudRuPublishedAPITests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    typealias Fake = CloudRuEstateFake
    static let environment = ["CR_KEY_ID": Fake.keyID, "CR_KEY_SECRET": Fake.keySecret]

    static func yaml(_ fake: Fake, vat: String = "exclude", pageSize: String = "page_size: 2") -> String {
        """
        sources:
          - name: cr
            type: cloudru
            key_id_env: CR_KEY_ID
            key_secret_env: CR_KEY_SECRET
            agreement_id: "\(Fake.agreement)"
            project_ids: [\(Fake.project)]
            vat: \(vat)
            \(pageSize)
            base_url: "\(fake.baseURL)"
            retries: 0
            timeout: 30s
        """
    }

    func collect(_ fake: Fake, vat: String = "exclude", pageSize: String = "page_size: 2",
                 reporting: ReportingConfig = ReportingConfig()) async throws -> SourceSnapshot {
        let config = try ConfigLoader.parse(Self.yaml(fake, vat: vat, pageSize: pageSize), file: "t.yaml", environment: Self.environment)
        let source = try #require(config.sources.first).makeSource()
        return try await source.collect(CollectionWindow(now: Self.now, historyDays: 30, reporting: reporting))
    }

    func monthToDate(_ snapshot: SourceSnapshot) -> Decimal {
        snapshot.dailyCosts.filter { $0.day >= LocalDay(year: 2026, month: 11, day: 1) }.reduce(0) { $0 + $1.cost.amount }
    }

    @Test("all 150 VMs are listed, asked 100 at a time with offset (the API answers 422 above 100)")
    func everyVMListed() async throws {
        let fake = try Fake()
        try await fake.start()
        let snapshot = try await collect(fake, pageSize: "")
        await fake.stop()
        #expect(snapshot.endpointFailures.map(\.message) == [])
        #expect(snapshot.inventory.filter { $0.resourceType == "server" }.count == 150)
        #expect(fake.logged.filter { $0.hasPrefix("GET vms") } == ["GET vms offset=0 limit=100", "GET vms offset=100 limit=100"])
        #expect(snapshot.inventoriedTypes == ["server"])
    }

    @Test("created_time is the creation time; lowercase state is read; the flavour names its vCPUs and RAM")
    func createdTimeAndState() async throws {
        let fake = try Fake()
        try await fake.start()
        let snapshot = try await collect(fake)
        await fake.stop()
        let vm = try #require(snapshot.inventory.first { $0.resourceID == "vm-010" })
        #expect(vm.createdAt == ISO8601DateFormatter().date(from: "2026-06-01T10:00:00Z"))
        #expect(vm.status == "STOPPED")
        #expect(snapshot.inventory.first { $0.resourceID == "vm-011" }?.status == "RUNNING")
        #expect(vm.flavor == "gen-2-4")
        let old = try #require(snapshot.inventory.first { $0.resourceID == "fip-old" })
        #expect(old.createdAt == ISO8601DateFormatter().date(from: "2026-03-01T08:00:00Z"))
    }

    @Test("floating IPs are judged by state: the unbound one is unused, the NAT gateway's is in use; paged like VMs")
    func floatingIPsByState() async throws {
        let fake = try Fake()
        try await fake.start()
        let snapshot = try await collect(fake, pageSize: "")
        await fake.stop()
        let status = Dictionary(uniqueKeysWithValues: snapshot.inventory.filter { $0.resourceType == "ip" }.map { ($0.resourceID, $0.status) })
        #expect(status == ["fip-old": "DOWN", "fip-nat": "ACTIVE", "fip-vm": "ACTIVE"])
        #expect(fake.logged.filter { $0.hasPrefix("GET floating-ips") } == ["GET floating-ips offset=0 limit=100"])
    }

    @Test("consumption v2 is paged by next_page_token; the month to date is exact; v1 is not asked")
    func consumptionV2() async throws {
        let fake = try Fake()
        try await fake.start()
        let snapshot = try await collect(fake)
        await fake.stop()
        #expect(monthToDate(snapshot) == Decimal(string: "74.69")!)
        #expect(fake.logged.filter { $0.hasPrefix("GET v2") } == ["GET v2 token= size=2", "GET v2 token=page-2 size=2", "GET v2 token=page-4 size=2"])
        #expect(fake.count("GET v1") == 0)
    }

    @Test("where v2 is refused, v1 is read instead and the month to date is the same")
    func consumptionFallsBackToV1() async throws {
        let fake = try Fake(.init(refuseV2: true))
        try await fake.start()
        let snapshot = try await collect(fake)
        await fake.stop()
        #expect(monthToDate(snapshot) == Decimal(string: "74.69")!)
        #expect(fake.count("GET v1") == 4)   // 6 rows at 2 a page, then an empty page
        #expect(snapshot.endpointFailures.isEmpty)
    }

    @Test("with reporting.timezone UTC a row counts for its usedate: 1 November stays in November")
    func usedateInUTC() async throws {
        let fake = try Fake()
        try await fake.start()
        var reporting = ReportingConfig()
        reporting.timeZone = try #require(TimeZone(identifier: "UTC"))
        let snapshot = try await collect(fake, reporting: reporting)
        await fake.stop()
        #expect(snapshot.dailyCosts.filter { $0.resourceID == "vm-001" }.map(\.day).sorted()
            == [LocalDay(year: 2026, month: 10, day: 31), LocalDay(year: 2026, month: 11, day: 1), LocalDay(year: 2026, month: 11, day: 20)])
        #expect(monthToDate(snapshot) == Decimal(string: "74.69")!)
    }

    @Test("vat: include reads amount_nds, 22 % on top")
    func withVAT() async throws {
        let fake = try Fake()
        try await fake.start()
        let snapshot = try await collect(fake, vat: "include")
        await fake.stop()
        #expect(monthToDate(snapshot) == Decimal(string: "91.1218")!)
    }

    @Test("through the engine: month to date, the unbound IP an unused address and the NAT IP not; nothing of the token answer anywhere")
    func throughTheEngine() async throws {
        let fake = try Fake()
        try await fake.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zen-cloudru-estate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("infrazen.db").path
        let recorder = LogRecorder()
        let config = try ConfigLoader.parse(Self.yaml(fake), file: "t.yaml", environment: Self.environment)
        let store = try Store(path: path)
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test") { _ in recorder })
        engine.clock = { Self.now }
        #expect(await engine.syncAllOnce() == [])
        await fake.stop()
        let text = String(buffer: engine.estate.exposition.rendered.body)
        let metrics = ParsedExposition(text)
        #expect(abs(metrics.sum("infrazen_cost_month_to_date") { $0["source"] == "cr" } - 74.69) < 0.000_001)
        let unused = metrics.values("infrazen_recommendation_confidence_ratio").filter { $0.labels["kind"] == "unused_ip" }.map { $0.labels["resource_id"] ?? "" }
        #expect(unused == ["fip-old"])
        let orphans = metrics.values("infrazen_resource_info").filter { $0.labels["orphan"] == "true" }.map { $0.labels["resource_id"] ?? "" }
        #expect(orphans.contains("fip-old") && !orphans.contains("fip-nat"), "\(orphans)")
        try store.close()
        var database = Data()
        for suffix in ["", "-wal", "-shm"] { database += (try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data() }
        #expect(database.range(of: Data("vm-001".utf8)) != nil)
        for secret in [Fake.idToken, Fake.idTokenClaims, Fake.ownerEmail, Fake.ownerPhone, "cloudru-estate-token-", Fake.keySecret] {
            #expect(!recorder.text.contains(secret), "\(secret) in the logs")
            #expect(!text.contains(secret), "\(secret) in the exposition")
            #expect(database.range(of: Data(secret.utf8)) == nil, "\(secret) in the database")
        }
    }
}
