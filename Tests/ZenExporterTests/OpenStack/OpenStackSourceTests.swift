import CostModel
import Foundation
import Logging
@testable import ProviderOpenStack
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// `type: openstack` against OpenStackFake, priced by Tests/Fixtures/openstack/prices.yaml.
/// Every figure is worked out by hand. The sync runs at 2026-11-02T12:00 Moscow (09:00Z); the
/// month began 2026-11-01T00:00 Moscow (2026-10-31T21:00Z), 36 hours earlier. Per resource,
/// month to date (1 November: 24 h, 2 November: 12 h):
///   vm-app      36 h × 2.50 ₽/h                        = 60 + 30   =  90.00
///   vol-app     100 GB × 0.01 ₽/GB-h = 1 ₽/h, 36 h     = 24 + 12   =  36.00
///   vm-new      3600 ₽/month ÷ 720 = 5 ₽/h, from 03:00Z = 6 h      =  30.00
///   vm-stopped  2.50 ₽/h until it stopped (07:00Z) = 10 h           =  25.00
///   vol-stopped 50 GB × 3.6 ₽/GB-month ÷ 720 = 0.25 ₽/h, 36 h = 6 + 3 = 9.00
///   vol-orphan  20 GB × 0.01 = 0.20 ₽/h, 36 h          = 4.8 + 2.4 =   7.20
///   fip-bound   180 ₽/month ÷ 720 = 0.25 ₽/h, 36 h     = 6 + 3     =   9.00
///   fip-free    0.25 ₽/h from 21:00Z on the 1st (midnight Moscow): 12 h = 3.00
///   vm-gpu      GPU-X has no price: unpriced, 0
///   total                                                            = 209.20
/// Run rates now (₽/h): vm-app 2.50 + vol-app 1.00 (folded: 3.50), vm-new 5, vm-stopped 0 +
/// vol-stopped 0.25 (folded: stopped but billed), vol-orphan 0.20, two addresses 0.25 each:
/// 9.45 ₽/h × 720 = 6804 ₽ a month.
@Suite("OpenStack with a price list over real HTTP", .serialized)
struct OpenStackSourceTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-02T09:00:00Z")!
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fixtures/openstack")
    static var prices: String { fixtures.appendingPathComponent("prices.yaml").standardized.path }
    static let environment = ["OS_USER": OpenStackFake.username, "OS_PASSWORD": OpenStackFake.password, "OS_APPCRED": OpenStackFake.credentialSecret]

    static func yaml(_ fake: OpenStackFake, prices: String = prices, credentials: String? = nil, storage: String = "") -> String {
        """
        \(storage)
        sources:
          - name: os
            type: openstack
            identity_url: "\(fake.identityURL)"
        \(credentials ?? """
            username_env: OS_USER
            password_env: OS_PASSWORD
            user_domain: users
            project_id: \(OpenStackFake.project)
        """)
            price_list: \(prices)
            account: vk-prod
            retries: 1
            timeout: 120s   # Gnocchi is asked during the first half: room for a loaded machine
        """
    }

    func source(_ fake: OpenStackFake, credentials: String? = nil) throws -> OpenStackSource {
        let config = try ConfigLoader.parse(Self.yaml(fake, credentials: credentials), file: "t.yaml", environment: Self.environment)
        let entry = try #require(config.sources.first)
        return try #require(entry.makeSource() as? OpenStackSource)
    }

    func window(_ now: Date = now) -> CollectionWindow { CollectionWindow(now: now, historyDays: 30, reporting: ReportingConfig()) }

    func total(_ costs: [DailyCost], _ id: String) -> Decimal {
        costs.filter { $0.resourceID == id }.reduce(0) { $0 + $1.cost.amount }
    }

    @Test("YAML and CSV price lists read the same; a bad row names its file and line")
    func priceListFormats() throws {
        let yaml = try PriceList.load(path: Self.prices)
        let csv = try PriceList.load(path: Self.fixtures.appendingPathComponent("prices.csv").standardized.path)
        #expect(yaml == csv)
        #expect(yaml.price(.flavor, "STD3-2-4") == .init(amount: Decimal(string: "2.50")!, unit: .hour))
        #expect(yaml.price(.volumeType, "ceph-ssd") == .init(amount: Decimal(string: "0.01")!, unit: .gbHour))
        #expect(yaml.price(.flavor, "GPU-X") == nil)
        #expect(yaml.effective == LocalDay(year: 2026, month: 10, day: 1))
        let bad = #expect(throws: PriceList.Failure.self) {
            try PriceList.csv("kind,name,price,unit,currency,effective\nflavor,A,1,hour,RUB,2026-10-01\nvolume_type,B,1,hour,RUB,2026-10-01\n", file: "p.csv")
        }
        #expect(bad?.description.hasPrefix("p.csv:3: unit \"hour\" for volume_type") == true)
        let money = #expect(throws: PriceList.Failure.self) { try PriceList.yaml("currency: RUB\neffective: 2026-10-01\nflavors:\n  A: {hour: 1,5}\n", file: "p.yaml") }
        #expect(money?.description.hasPrefix("p.yaml:4:") == true)
    }

    @Test("month to date by hand: 36 h at 2.50 ₽/h is 90 ₽, 100 GB at 0.01 ₽/GB-h is 24 ₽ a day; GPU-X unpriced; RegionTwo fails alone")
    func monthToDate() async throws {
        let fake = try OpenStackFake()
        try await fake.start()
        let snapshot = try await source(fake).collect(window())
        await fake.stop()
        let costs = snapshot.dailyCosts
        let first = LocalDay(year: 2026, month: 11, day: 1), second = LocalDay(year: 2026, month: 11, day: 2)
        #expect(total(costs, "vm-app") == 90)
        #expect(costs.first { $0.resourceID == "vm-app" && $0.day == first }?.cost.amount == 60)
        #expect(costs.first { $0.resourceID == "vm-app" && $0.day == second }?.cost.amount == 30)
        #expect(costs.first { $0.resourceID == "vol-app" && $0.day == first }?.cost.amount == 24)
        #expect(total(costs, "vol-app") == 36)
        #expect(total(costs, "vm-new") == 30)
        #expect(total(costs, "vm-stopped") == 25)
        #expect(total(costs, "vol-stopped") == 9)
        #expect(total(costs, "vol-orphan") == Decimal(string: "7.2")!)
        #expect(total(costs, "fip-bound") == 9)
        #expect(total(costs, "fip-free") == 3)
        #expect(total(costs, "vm-gpu") == 0)
        #expect(costs.reduce(0) { $0 + $1.cost.amount } == Decimal(string: "209.2")!)
        #expect(Set(costs.map(\.day)) == [first, second])

        #expect(snapshot.unpriced == [UnpricedCount(resourceType: "server", priceKey: "GPU-X", count: 1)])
        #expect(Set(snapshot.billing.map(\.resourceID)) == ["vm-app", "vol-app", "vm-new", "vol-stopped", "vol-orphan", "fip-bound", "fip-free"])
        #expect(snapshot.inventory.contains { $0.resourceID == "vm-gpu" && $0.flavor == "GPU-X" })
        #expect(snapshot.endpointFailures.map(\.endpoint) == ["nova/RegionTwo"])
        #expect(snapshot.endpointFailures.first?.reason == "http_500")
        #expect(snapshot.endpointFailures.first?.message.contains("project \(OpenStackFake.project)") == true)
        #expect(snapshot.inventoriedScopes == [InventoryScope(project: OpenStackFake.project, region: "RegionOne")])
        #expect(fake.count("GET nova r1 2.47") == 2)   // two pages, flavour names asked for
        #expect(fake.count("GET nova r2") == 2)        // one try and one retry of the 500
    }

    @Test("through the engine: run rates, folded and orphan volumes, a stopped server still billed, unpriced counted, no secret anywhere")
    func throughEngine() async throws {
        let fake = try OpenStackFake()
        try await fake.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zen-openstack-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("infrazen.db").path
        let recorder = LogRecorder()
        let config = try ConfigLoader.parse(Self.yaml(fake), file: "t.yaml", environment: Self.environment)
        var engine = SyncEngine(config: config, store: try Store(path: path), logger: Logger(label: "test") { _ in recorder })
        engine.retryBase = .milliseconds(10)
        engine.clock = { Self.now }
        #expect(await engine.syncAllOnce() == [])
        await fake.stop()
        let text = String(buffer: engine.estate.exposition.rendered.body)
        let metrics = ParsedExposition(text)
        #expect(abs(metrics.sum("infrazen_cost_month_to_date") { $0["source"] == "os" } - 209.20) < 0.005)
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": "vm-app"]) == 3.5)
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": "vm-new"]) == 5)
        #expect(abs(metrics.sum("infrazen_infrastructure_cost_monthly") { $0["provider"] == "openstack" } - 6804) < 0.005)
        let info = Dictionary(uniqueKeysWithValues: metrics.values("infrazen_resource_info").map { ($0.labels["resource_id"] ?? "", $0.labels) })
        #expect(info["vol-orphan"]?["orphan"] == "true")
        #expect(info["fip-free"]?["orphan"] == "true")        // port_id null, DOWN: bound to nothing
        #expect(info["fip-bound"]?["orphan"] == "false")
        #expect(info["vol-app"] == nil)                       // folded into vm-app
        #expect(info["vm-stopped"]?["status"] == "STOPPED")
        #expect(info["vm-gpu"]?["flavor"] == "GPU-X")
        #expect(info.values.allSatisfy { $0["zombie"] == "false" })
        #expect(metrics.value("infrazen_waste_cost_monthly", ["kind": "stopped_billed", "provider": "openstack"]) == 180)  // 0.25 × 720
        #expect(metrics.value("infrazen_waste_cost_monthly", ["kind": "orphan_volume", "provider": "openstack"]) == 144)   // 0.20 × 720
        #expect(metrics.value("infrazen_waste_cost_monthly", ["kind": "unused_ip", "provider": "openstack"]) == 180)       // 0.25 × 720
        #expect(metrics.value("infrazen_recommendation_savings_monthly", ["kind": "unused_ip", "resource_id": "fip-free"]) == 180)
        #expect(metrics.values("infrazen_recommendation_savings_monthly").first { $0.labels["resource_id"] == "fip-free" }?.labels["resource_name"]
                == "203.0.113.11")
        #expect(metrics.value("infrazen_unpriced_resources", ["source": "os", "resource_type": "server", "price_key": "GPU-X"]) == 1)
        #expect(metrics.value("infrazen_resource_utilization_ratio", ["resource_id": "vm-app", "dimension": "cpu"]) == 0.1)
        #expect(metrics.value("infrazen_resource_utilization_ratio", ["resource_id": "vm-app", "dimension": "memory"]) == 0.25)
        #expect(metrics.value("infrazen_sync_errors_total", ["source": "os", "endpoint": "nova/RegionTwo", "reason": "http_500"]) == 1)
        #expect(metrics.value("infrazen_source_up", ["source": "os"]) == 1)
        var database = Data()
        for suffix in ["", "-wal", "-shm"] { database += (try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data() }
        #expect(database.range(of: Data("vm-app".utf8)) != nil)
        for secret in [OpenStackFake.password, "hunter2-meta", "os-token-1"] {
            #expect(!recorder.text.contains(secret), "\(secret) in the logs")
            #expect(!text.contains(secret), "\(secret) in the exposition")
            #expect(database.range(of: Data(secret.utf8)) == nil, "\(secret) in the database")
        }
    }

    @Test("an expired token is re-issued and the call repeated")
    func reauthentication() async throws {
        let fake = try OpenStackFake(.init(expireFirstToken: true))
        try await fake.start()
        let snapshot = try await source(fake).collect(window())
        await fake.stop()
        #expect(fake.count("POST identity") == 2)
        #expect(total(snapshot.dailyCosts, "vm-app") == 90)
    }

    @Test("a next-page link to another origin is refused as insecure_url; that origin gets no request and no token")
    func nextLinkToAnotherOrigin() async throws {
        let stranger = try OpenStackFake()  // another port on loopback: another origin
        try await stranger.start()
        let fake = try OpenStackFake(.init(nextPageBase: stranger.baseURL))
        try await fake.start()
        let snapshot = try await source(fake).collect(window())
        await fake.stop()
        await stranger.stop()
        #expect(stranger.requests.withLock { $0.isEmpty })
        let failure = try #require(snapshot.endpointFailures.first { $0.reason == SyncFailure.insecureURL })
        #expect(failure.message.contains(stranger.baseURL.replacingOccurrences(of: "http://", with: "")))
        // The listing is dropped whole (page 1 included): no server of RegionOne is billed
        // from a half-read list, and the volumes, listed apart, still are.
        #expect(total(snapshot.dailyCosts, "vm-new") == 0)
        #expect(total(snapshot.dailyCosts, "vm-app") == 0)
        #expect(total(snapshot.dailyCosts, "vol-orphan") == 7.2)
    }

    @Test("an application credential authenticates without a user or project")
    func applicationCredential() async throws {
        let fake = try OpenStackFake(.init(failRegionTwoNova: false))
        try await fake.start()
        let snapshot = try await source(fake, credentials: """
            application_credential_id: \(OpenStackFake.credentialID)
            application_credential_secret_env: OS_APPCRED
        """).collect(window())
        await fake.stop()
        #expect(snapshot.endpointFailures.isEmpty)
        #expect(total(snapshot.dailyCosts, "vm-app") == 90)
        #expect(snapshot.inventoriedScopes?.count == 2)
    }

    @Test("a VM deleted since the last sync keeps the hours it existed; it has no run rate any more")
    func deletedKeepsItsHours() async throws {
        let fake = try OpenStackFake()
        try await fake.start()
        let source = try source(fake)
        _ = try await source.collect(window())
        fake.behaviour.withLock { $0.deleteNewVM = true }
        let later = try await source.collect(window(Self.now.addingTimeInterval(3600)))
        await fake.stop()
        #expect(total(later.dailyCosts, "vm-new") == 30)       // 6 h at 5 ₽/h, to when it was last seen
        #expect(total(later.dailyCosts, "vm-app") == Decimal(string: "92.5")!)   // 37 h
        #expect(!later.billing.contains { $0.resourceID == "vm-new" })
    }

    @Test("a region whose Nova fails bills its servers on from the last sync; its volumes, listed, as usual")
    func failedListingBillsOn() async throws {
        let fake = try OpenStackFake()
        try await fake.start()
        let source = try source(fake)
        _ = try await source.collect(window())
        fake.behaviour.withLock { $0.failRegionOneNova = true }
        let later = try await source.collect(window(Self.now.addingTimeInterval(3600)))
        await fake.stop()
        #expect(later.endpointFailures.map(\.endpoint) == ["nova/RegionOne", "nova/RegionTwo"])
        #expect(total(later.dailyCosts, "vm-app") == Decimal(string: "92.5")!)   // 37 h at 2.50
        #expect(total(later.dailyCosts, "vm-new") == 35)                         // 7 h at 5
        #expect(total(later.dailyCosts, "vol-app") == 37)                        // 37 h at 1
        #expect(later.billing.contains { $0.resourceID == "vm-app" })
        #expect(later.inventoriedScopes?.isEmpty == true)                         // nothing judged in RegionOne
    }

    @Test("Octavia and Manila where the catalog lists them: a load balancer at 1440 ₽ a month is 2 ₽/h, 72 ₽ in 36 h; a share type with no price is unpriced")
    func octaviaAndManila() async throws {
        let fake = try OpenStackFake(.init(octaviaAndManila: true))
        try await fake.start()
        let snapshot = try await source(fake).collect(window())
        await fake.stop()
        #expect(total(snapshot.dailyCosts, "lb-web") == 72)
        #expect(snapshot.billing.first { $0.resourceID == "lb-web" }?.resourceType == "load_balancer")
        #expect(snapshot.billing.first { $0.resourceID == "lb-web" }?.category == .network)
        #expect(snapshot.inventory.first { $0.resourceID == "share-1" }?.resourceType == "file_storage")
        #expect(snapshot.unpriced == [UnpricedCount(resourceType: "file_storage", priceKey: "default", count: 1),
                                      UnpricedCount(resourceType: "server", priceKey: "GPU-X", count: 1)])
        #expect(snapshot.endpointFailures.map(\.endpoint) == ["nova/RegionTwo"])   // RegionTwo has neither: nothing asked there
    }

    @Test("after the first sync only the days asked for again are billed; yesterday always, so a month's last hours are billed on the 1st")
    func billedWindow() async throws {
        let fake = try OpenStackFake()
        try await fake.start()
        // 2026-11-20 12:00 Moscow, 7 days: 14–20 November. vm-app 24 h a day at 2.50 = 60; 12 h today = 30.
        let later = try await source(fake).collect(CollectionWindow(now: ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!, historyDays: 7,
                                                                    reporting: ReportingConfig()))
        // 2026-11-01 03:00 Moscow, 7 days: from 26 October (yesterday's month is October). vm-app: 60 on the 31st, 3 h = 7.50 on the 1st;
        // vm-stopped had not stopped yet (it stops at 10:00 Moscow): 3 h = 7.50 on the 1st, not up to its future stop.
        let rollover = try await source(fake).collect(CollectionWindow(now: ISO8601DateFormatter().date(from: "2026-11-01T00:00:00Z")!, historyDays: 7,
                                                                       reporting: ReportingConfig()))
        await fake.stop()
        let vmApp = later.dailyCosts.filter { $0.resourceID == "vm-app" }
        #expect(vmApp.map(\.day) == (14...20).map { LocalDay(year: 2026, month: 11, day: $0) })
        #expect(vmApp.first?.cost.amount == 60)
        #expect(vmApp.last?.cost.amount == 30)
        let october31 = LocalDay(year: 2026, month: 10, day: 31), november1 = LocalDay(year: 2026, month: 11, day: 1)
        #expect(rollover.dailyCosts.first { $0.resourceID == "vm-app" && $0.day == october31 }?.cost.amount == 60)
        #expect(rollover.dailyCosts.first { $0.resourceID == "vm-app" && $0.day == november1 }?.cost.amount == Decimal(string: "7.5")!)
        #expect(rollover.dailyCosts.filter { $0.resourceID == "vm-app" }.map(\.day).first == LocalDay(year: 2026, month: 10, day: 26))
        #expect(total(rollover.dailyCosts.filter { $0.day == november1 }, "vm-stopped") == Decimal(string: "7.5")!)
    }

    @Test("a VM deleted while the daemon was down keeps the cost stored before the days the next sync bills again")
    func restartKeepsEarlierDays() async throws {
        let fake = try OpenStackFake()
        try await fake.start()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("zen-openstack-\(UUID().uuidString)/infrazen.db").path
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        let config = try ConfigLoader.parse(Self.yaml(fake), file: "t.yaml", environment: Self.environment)
        let firstStore = try Store(path: path)
        var first = SyncEngine(config: config, store: firstStore, logger: Logger(label: "test"))
        first.retryBase = .milliseconds(10)
        first.clock = { Self.now }
        #expect(await first.syncAllOnce() == [])
        try firstStore.close()

        fake.behaviour.withLock { $0.deleteNewVM = true }
        let secondStore = try Store(path: path)
        defer { try? secondStore.close() }
        var second = SyncEngine(config: config, store: secondStore, logger: Logger(label: "test"))
        second.retryBase = .milliseconds(10)
        second.clock = { ISO8601DateFormatter().date(from: "2026-11-10T09:00:00Z")! }
        await second.restore()
        #expect(await second.syncAllOnce() == [])
        await fake.stop()
        let metrics = ParsedExposition(String(buffer: second.estate.exposition.rendered.body))
        // Stored by the first sync (1–2 November, as at 2 November 12:00 Moscow): 209.20, vm-new's 30 in it.
        // Billed again, 4 November 00:00 to 10 November 12:00 Moscow = 156 h: vm-app 2.50 + vol-app 1 + vol-stopped 0.25
        // + vol-orphan 0.20 + two addresses 0.50 = 4.45 ₽/h → 694.20. No sync saw 2 November's afternoon or the 3rd.
        #expect(abs(metrics.sum("infrazen_cost_month_to_date") { $0["source"] == "os" } - 903.40) < 0.005)
        let stored = try await secondStore.dailyCosts(source: "os", from: LocalDay(year: 2026, month: 11, day: 1))
        #expect(stored.filter { $0.resourceID == "vm-new" }.map(\.cost.amount) == [30])
    }

    @Test("config: a price list that does not parse, and missing credentials, are config errors")
    func configErrors() throws {
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("prices-\(UUID().uuidString).yaml")
        try "currency: RUB\nflavors: {A: {day: 3}}\n".write(to: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: bad) }
        let error = #expect(throws: ConfigErrors.self) {
            try ConfigLoader.parse("""
            sources:
              - {name: os, type: openstack, identity_url: "https://keystone.example/v3", price_list: \(bad.path)}
            """, file: "t.yaml", environment: [:])
        }
        let text = error?.issues.map(\.description).joined(separator: "\n") ?? ""
        #expect(text.contains("sources[0].price_list"))
        #expect(text.contains("expected one price"))
        #expect(text.contains("credentials are required"))
    }
}
