import CostModel
import Foundation
import Logging
@testable import ProviderCloudRu
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// `type: cloudru` against CloudRuFake. Figures by hand from the rows in CloudRuFake, roubles
/// without VAT unless said:
///   day 1 (2026-11-20): 18 Nov 150 + 10 = 160; 19 Nov 150 + 10 + 30 + 5 = 195;
///                       month to date 355 (31 October's 100 is last month's)
///   day 2 (2026-11-21): 19 Nov restated, vcpu 100 → 80: 175; 20 Nov 160;
///                       month to date 160 + 175 + 160 = 495 (not 515: the restated day replaces the old one)
///   with VAT, 19 Nov on day 1: 120 + 60 + 12 + 36 + 5 (no amount_nds: the amount) = 233
///   run rate on day 1 (latest day per resource): vm-1 150 + its disk 10 (folded) = 160 a day,
///   6.67 ₽/h; with the ghost's 30 and the address's 5: 195 a day × 30 = 5850 a month
@Suite("Cloud.ru Evolution over real HTTP", .serialized)
struct CloudRuSourceTests {
    static let day1 = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    static let day2 = ISO8601DateFormatter().date(from: "2026-11-21T09:00:00Z")!
    static let environment = ["CLOUDRU_KEY_ID": CloudRuFake.keyID, "CLOUDRU_KEY_SECRET": CloudRuFake.keySecret]

    static func yaml(_ fake: CloudRuFake, vat: String = "exclude", storage: String = "") -> String {
        """
        \(storage)
        sources:
          - name: cr
            type: cloudru
            key_id_env: CLOUDRU_KEY_ID
            key_secret_env: CLOUDRU_KEY_SECRET
            agreement_id: "\(CloudRuFake.agreement)"
            project_ids: [\(CloudRuFake.projectA), \(CloudRuFake.projectB)]
            vat: \(vat)
            page_size: 2
            base_url: "\(fake.baseURL)"
            retries: 1
            timeout: 30s
        """
    }

    func source(_ fake: CloudRuFake, vat: String = "exclude") throws -> CloudRuSource {
        let config = try ConfigLoader.parse(Self.yaml(fake, vat: vat), file: "t.yaml", environment: Self.environment)
        let entry = try #require(config.sources.first)
        return try #require(entry.makeSource() as? CloudRuSource)
    }

    func window(_ now: Date = day1) -> CollectionWindow { CollectionWindow(now: now, historyDays: 30, reporting: ReportingConfig()) }

    func cost(_ snapshot: SourceSnapshot, _ id: String, _ day: Int, month: Int = 11) -> Decimal? {
        let rows = snapshot.dailyCosts.filter { $0.resourceID == id && $0.day == LocalDay(year: 2026, month: month, day: day) }
        return rows.isEmpty ? nil : rows.reduce(0) { $0 + $1.cost.amount }
    }

    @Test("daily rows in roubles without VAT, paged, asked for in whole calendar days; disks from the VM detail")
    func consumption() async throws {
        let fake = try CloudRuFake()
        try await fake.start()
        let snapshot = try await source(fake).collect(window())
        await fake.stop()
        #expect(cost(snapshot, "cr-vm-1", 19) == 150)
        #expect(cost(snapshot, "cr-vm-1", 18) == 150)
        #expect(cost(snapshot, "cr-vm-1", 31, month: 10) == 100)
        #expect(cost(snapshot, "cr-disk-1", 19) == 10)
        #expect(cost(snapshot, "cr-fip-1", 19) == 5)
        // 9 rows at 2 a page: 5 pages; the window is whole days, 30 days back through today.
        #expect(fake.count("GET consumption") == 5)
        #expect(fake.count("GET consumption 1 2026-10-21T00:00:00Z 2026-11-20T23:59:59Z") == 1)
        #expect(fake.count("GET disks") == 0)
        #expect(fake.count("GET vms \(CloudRuFake.projectA)") == 2)   // 3 VMs at 2 a page
        #expect(snapshot.inventory.first { $0.resourceID == "cr-disk-1" }?.attachedTo == "cr-vm-1")
        #expect(snapshot.inventory.first { $0.resourceID == "cr-vm-2" }?.status == "STOPPED")
        #expect(snapshot.inventory.first { $0.resourceID == "cr-fip-1" }?.status == "DOWN")
        #expect(snapshot.inventoriedTypes == ["server"])
        #expect(snapshot.billing.first { $0.resourceID == "cr-vm-1" }?.rate == Rate(Money(150, .rub), per: .daily))
        #expect(snapshot.unclassifiedLineItems == 0)
        #expect(snapshot.endpointFailures.isEmpty)
    }

    @Test("vat: include takes amount_nds, and the amount where a row has none")
    func withVAT() async throws {
        let fake = try CloudRuFake()
        try await fake.start()
        let snapshot = try await source(fake, vat: "include").collect(window())
        await fake.stop()
        let nineteenth = snapshot.dailyCosts.filter { $0.day == LocalDay(year: 2026, month: 11, day: 19) }
        #expect(nineteenth.reduce(0) { $0 + $1.cost.amount } == 233)
    }

    @Test("an expired token is re-issued and the call repeated")
    func reauthentication() async throws {
        let fake = try CloudRuFake(.init(expireFirstToken: true))
        try await fake.start()
        let snapshot = try await source(fake).collect(window())
        await fake.stop()
        #expect(fake.count("POST token") == 2)
        #expect(cost(snapshot, "cr-vm-1", 19) == 150)
    }

    @Test("a project whose VM list fails fails alone; nothing is judged a zombie then")
    func projectFailsAlone() async throws {
        let fake = try CloudRuFake(.init(failProjectB: true))
        try await fake.start()
        let snapshot = try await source(fake).collect(window())
        await fake.stop()
        #expect(snapshot.endpointFailures.map(\.endpoint) == ["compute/vms"])
        #expect(snapshot.endpointFailures.first?.reason == "http_500")
        #expect(fake.count("GET vms \(CloudRuFake.projectB)") == 2)   // one try and one retry
        #expect(snapshot.inventory.contains { $0.resourceID == "cr-vm-1" })
        #expect(snapshot.inventoriedTypes.isEmpty)
        #expect(cost(snapshot, "cr-vm-1", 19) == 150)
    }

    @Test("callers asking for a token at once share one issuance; a refused token is forgotten once")
    func oneIssuance() async throws {
        let fake = try CloudRuFake()
        try await fake.start()
        let token = CloudRuToken(url: "\(fake.baseURL)/api/v1/auth/token", keyID: Secret(CloudRuFake.keyID), secret: Secret(CloudRuFake.keySecret),
                                 http: ProviderClient(timeout: .seconds(5), retries: 0))
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try await token.value() } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(tokens == ["cloudru-token-1"])
        #expect(fake.count("POST token") == 1)
        await token.invalidate("cloudru-token-1")
        #expect(try await token.value() == "cloudru-token-2")
        await token.invalidate("cloudru-token-1")
        #expect(try await token.value() == "cloudru-token-2")
        await fake.stop()
    }

    @Test("a VM whose detail fails is counted and keeps its place in the inventory, without disks")
    func detailFailsAlone() async throws {
        let fake = try CloudRuFake(.init(failDetailOf: "cr-vm-1"))
        try await fake.start()
        let snapshot = try await source(fake).collect(window())
        await fake.stop()
        #expect(snapshot.endpointFailures.map(\.endpoint) == ["compute/vm"])
        #expect(snapshot.endpointFailures.first?.message.hasPrefix("VM cr-vm-1:") == true)
        #expect(fake.count("GET vm cr-vm-1") == 2)   // one try and one retry
        #expect(fake.count("GET vm cr-vm-3") == 1)
        #expect(snapshot.inventory.contains { $0.resourceID == "cr-vm-1" })
        #expect(!snapshot.inventory.contains { $0.resourceID == "cr-disk-1" })
        #expect(snapshot.inventoriedTypes == ["server"])
    }

    @Test("through the engine: a day restated the next day replaces the old one; zombie, folded disk; no secret anywhere")
    func restatedThroughEngine() async throws {
        let fake = try CloudRuFake()
        try await fake.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zen-cloudru-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("infrazen.db").path
        let recorder = LogRecorder()
        let config = try ConfigLoader.parse(Self.yaml(fake), file: "t.yaml", environment: Self.environment)
        let store = try Store(path: path)
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test") { _ in recorder })
        engine.retryBase = .milliseconds(10)
        engine.clock = { Self.day1 }
        #expect(await engine.syncAllOnce() == [])
        let first = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(abs(first.sum("infrazen_cost_month_to_date") { $0["source"] == "cr" } - 355) < 0.005)
        #expect(abs((first.value("infrazen_resource_cost_per_hour", ["resource_id": "cr-vm-1"]) ?? 0) - 160.0 / 24) < 0.0001)
        #expect(abs(first.sum("infrazen_infrastructure_cost_monthly") { $0["provider"] == "cloudru" } - 5850) < 0.005)
        let info = Dictionary(uniqueKeysWithValues: first.values("infrazen_resource_info").map { ($0.labels["resource_id"] ?? "", $0.labels) })
        #expect(info["cr-vm-ghost"]?["zombie"] == "true")
        #expect(info["cr-vm-1"]?["zombie"] == "false")
        #expect(info["cr-disk-1"] == nil)   // folded into cr-vm-1

        fake.behaviour.withLock { $0.day = 2 }
        engine.clock = { Self.day2 }
        #expect(await engine.syncAllOnce() == [])
        await fake.stop()
        let text = String(buffer: engine.estate.exposition.rendered.body)
        let second = ParsedExposition(text)
        #expect(abs(second.sum("infrazen_cost_month_to_date") { $0["source"] == "cr" } - 495) < 0.005)
        let stored = try await store.dailyCosts(source: "cr", from: LocalDay(year: 2026, month: 11, day: 19))
        #expect(stored.filter { $0.day == LocalDay(year: 2026, month: 11, day: 19) && $0.resourceID == "cr-vm-1" }.map(\.cost.amount) == [130])
        try store.close()
        var database = Data()
        for suffix in ["", "-wal", "-shm"] { database += (try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data() }
        #expect(database.range(of: Data("cr-vm-1".utf8)) != nil)
        for secret in [CloudRuFake.keySecret, CloudRuFake.keyID, "cloudru-token-1"] {
            #expect(!recorder.text.contains(secret), "\(secret) in the logs")
            #expect(!text.contains(secret), "\(secret) in the exposition")
            #expect(database.range(of: Data(secret.utf8)) == nil, "\(secret) in the database")
        }
    }

    @Test("rows by hand: the newest updated_dt wins whatever the order; a name that is a listed VM's becomes its ID; a row without an amount is counted")
    func billingRows() throws {
        let json = """
        {"consumptions": [
          {"sku": "cpu", "servname": "Compute", "resource_id": "vm-a", "usedate": "2026-11-19", "amount": 80.00, "updated_dt": "2026-11-21T03:00:00Z"},
          {"sku": "cpu", "servname": "Compute", "resource_id": "vm-a", "usedate": "2026-11-19", "amount": 100.00, "updated_dt": "2026-11-20T03:00:00Z"},
          {"sku": "cpu", "servname": "Compute", "resource_id": "web", "usedate": "2026-11-19", "amount": "12.34", "updated_dt": "2026-11-20T03:00:00Z"},
          {"sku": "cpu", "servname": "Mystery", "resource_id": "x", "usedate": "2026-11-19", "updated_dt": "2026-11-20T03:00:00Z"}]}
        """
        let rows = try JSONDecoder().decode(CloudRu.Consumption.self, from: Data(json.utf8)).consumptions ?? []
        var snapshot = SourceSnapshot()
        let inventory = [InventoryItem(provider: "cloudru", resourceID: "cr-web", name: "web", resourceType: "server", region: "", status: "RUNNING",
                                       createdAt: Self.day1)]
        CloudRuBilling(provider: "cloudru", account: "a", vat: .exclude).fill(&snapshot, rows: rows, inventory: inventory)
        let byID = Dictionary(uniqueKeysWithValues: snapshot.dailyCosts.map { ($0.resourceID, $0.cost.amount) })
        #expect(byID == ["vm-a": 80, "cr-web": Decimal(string: "12.34")!])
        #expect(snapshot.endpointFailures.map(\.reason) == ["bad_row"])
    }
}
