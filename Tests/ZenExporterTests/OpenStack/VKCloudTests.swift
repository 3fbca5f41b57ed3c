import CostModel
import Foundation
import Logging
import NIOCore
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// `type: openstack` as VK Cloud bills (vk-cs/docs-public: computing/iaas tariffication, the
/// disk types of computing/iaas concepts/about, the Billing API reference api-billing). Prices
/// per component, by hand:
///   vCPU 0.55 ₽/h, RAM 0.25 ₽/GB-h
///   vm-app  STD3-2-4, 2 vCPU, 4096 MB:  2 × 0.55 + 4 × 0.25  =  1.10 + 1.00  =  2.10 ₽/h
///   vm-gpu  GPU-X, 8 vCPU, 65536 MB:    8 × 0.55 + 64 × 0.25 =  4.40 + 16.00 = 20.40 ₽/h
///   vm-new  STD3-4-8 is priced by name: 3600 ₽/month ÷ 720    =  5.00 ₽/h (its components would be 4.20)
///   vol-app     100 GB ko1-ssd (now ceph-ssd, 0.01 ₽/GB-h) = 1.00 ₽/h
///   vol-stopped  50 GB dp1 (now ceph-hdd, 3.6 ₽/GB-month)  = 180 ₽/month = 0.25 ₽/h
@Suite("VK Cloud: component prices, volume type aliases, balance", .serialized)
struct VKCloudTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-02T09:00:00Z")!
    static let prices = """
    currency: RUB
    effective: 2026-10-01
    vcpu: {hour: 0.55}
    ram_gb: {hour: 0.25}
    flavors:
      STD3-4-8: {month: 3600}
    volume_types:
      ceph-ssd: {gb_hour: 0.01}
      ceph-hdd: {gb_month: 3.6}
    floating_ip: {month: 180}
    """

    struct Setup {
        var directory: URL
        var pricesPath: String
    }

    static func setup() throws -> Setup {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zen-vk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("vk-prices.yaml").path
        try prices.write(toFile: path, atomically: true, encoding: .utf8)
        return Setup(directory: directory, pricesPath: path)
    }

    static func yaml(_ fake: OpenStackFake, prices: String, balance: String = "") -> String {
        """
        sources:
          - name: vk
            type: openstack
            identity_url: "\(fake.identityURL)"
            username_env: OS_USER
            password_env: OS_PASSWORD
            user_domain: users
            project_id: \(OpenStackFake.project)
            price_list: \(prices)
            account: vk-prod
        \(balance)
            retries: 0
            timeout: 120s
        """
    }

    static func hourly(_ snapshot: SourceSnapshot, _ id: String) -> Decimal? {
        snapshot.billing.first { $0.resourceID == id }?.rate.over(hours: 1).amount
    }

    func collect(_ fake: OpenStackFake, setup: Setup) async throws -> SourceSnapshot {
        let config = try ConfigLoader.parse(Self.yaml(fake, prices: setup.pricesPath), file: "t.yaml", environment: OpenStackSourceTests.environment)
        let source = try #require(config.sources.first).makeSource()
        return try await source.collect(CollectionWindow(now: Self.now, historyDays: 30, reporting: ReportingConfig()))
    }

    @Test("a flavour not listed by name is priced from its vCPUs and RAM; a flavour listed by name keeps its price")
    func componentPrices() async throws {
        let setup = try Self.setup()
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        let fake = try OpenStackFake(.init(failRegionTwoNova: false))
        try await fake.start()
        let snapshot = try await collect(fake, setup: setup)
        await fake.stop()
        #expect(Self.hourly(snapshot, "vm-app") == Decimal(string: "2.10")!)
        #expect(Self.hourly(snapshot, "vm-gpu") == Decimal(string: "20.40")!)
        #expect(Self.hourly(snapshot, "vm-new") == 5)
        #expect(snapshot.unpriced.isEmpty)
    }

    @Test("volume types by their outdated names (ko1-ssd, dp1) get the price of their current name")
    func legacyVolumeTypes() async throws {
        let setup = try Self.setup()
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        let fake = try OpenStackFake(.init(failRegionTwoNova: false, legacyVolumeTypes: true))
        try await fake.start()
        let snapshot = try await collect(fake, setup: setup)
        await fake.stop()
        #expect(Self.hourly(snapshot, "vol-app") == 1)
        #expect(Self.hourly(snapshot, "vol-stopped") == Decimal(string: "0.25")!)
        #expect(snapshot.unpriced.isEmpty)
    }

    @Test("an address on a port of ext-net is priced as a floating IP; a router's gateway and a floating IP's own port are not")
    func externalNetworkPorts() async throws {
        let setup = try Self.setup()
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        let fake = try OpenStackFake(.init(failRegionTwoNova: false, externalNetwork: true))
        try await fake.start()
        let config = try ConfigLoader.parse(Self.yaml(fake, prices: setup.pricesPath, balance: "    external_network: ext-net"), file: "t.yaml",
                                            environment: OpenStackSourceTests.environment)
        let snapshot = try await #require(config.sources.first).makeSource()
            .collect(CollectionWindow(now: Self.now, historyDays: 30, reporting: ReportingConfig()))
        await fake.stop()
        // 180 ₽/month ÷ 720 h = 0.25 ₽/h, as each floating IP.
        #expect(Self.hourly(snapshot, "port-vm") == Decimal(string: "0.25")!)
        #expect(snapshot.billing.filter { $0.resourceID == "port-gw" || $0.resourceID == "port-fip" }.isEmpty)
        #expect(snapshot.inventory.first { $0.resourceID == "port-vm" }?.name == "203.0.113.50")
        // Month to date: from 1 November 00:00 Moscow to now, 36 hours × 0.25 = 9.00.
        #expect(snapshot.dailyCosts.filter { $0.resourceID == "port-vm" }.reduce(0) { $0 + $1.cost.amount } == 9)
        #expect(snapshot.endpointFailures.isEmpty)
    }

    func sync(_ fake: OpenStackFake, setup: Setup) async throws -> (failed: [String], metrics: ParsedExposition, logs: String) {
        let balance = ["balance: vk", "balance_pid: \(OpenStackFake.vkPID)", "balance_url: \"\(fake.baseURL)/billing/public/v1\""]
            .map { "    \($0)" }.joined(separator: "\n")
        let config = try ConfigLoader.parse(Self.yaml(fake, prices: setup.pricesPath, balance: balance), file: "t.yaml",
                                            environment: OpenStackSourceTests.environment)
        let recorder = LogRecorder()
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test") { _ in recorder })
        engine.clock = { Self.now }
        let failed = await engine.syncAllOnce()
        return (failed, ParsedExposition(String(buffer: engine.estate.exposition.rendered.body)), recorder.text)
    }

    @Test("balance: vk exports base + bonus of the project's balances as infrazen_account_balance")
    func balanceExported() async throws {
        let setup = try Self.setup()
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        let fake = try OpenStackFake(.init(failRegionTwoNova: false, vkBalance: #"{"base": 1234.56, "bonus": 100.0}"#))
        try await fake.start()
        let run = try await sync(fake, setup: setup)
        await fake.stop()
        #expect(run.failed == [])
        #expect(run.metrics.value("infrazen_account_balance", ["source": "vk", "account": "vk-prod", "currency": "RUB"]) == 1334.56)
        #expect(fake.count("GET balance \(OpenStackFake.vkPID)") == 1)
        // The runway is the engine's (balance over the account's daily run rate), as for Selectel.
        let runway = try #require(run.metrics.value("infrazen_account_time_until_depleted_seconds", ["source": "vk"]))
        #expect(runway > 0)
    }

    @Test("a balance endpoint answering 404 means no balance: the sync lands and counts no failure")
    func balanceNotFound() async throws {
        let setup = try Self.setup()
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        let fake = try OpenStackFake(.init(failRegionTwoNova: false))
        try await fake.start()
        let run = try await sync(fake, setup: setup)
        await fake.stop()
        #expect(run.failed == [])
        #expect(run.metrics.values("infrazen_account_balance").filter { $0.labels["source"] == "vk" }.isEmpty)
        #expect(!run.logs.contains("endpoint failed"), "\(run.logs)")
        #expect(abs(run.metrics.sum("infrazen_resource_cost_per_hour") { $0["resource_id"] == "vm-app" } - 3.10) < 0.000_001)  // 2.10 + vol-app 1.00 folded
    }
}
