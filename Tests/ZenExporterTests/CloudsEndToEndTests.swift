import Foundation
import Testing

/// The real binary with one `openstack` source (price list) and one `cloudru` source pointed at
/// the loopback fakes. The daemon runs on the real clock, so only figures that do not depend on
/// the date are checked: run rates and the unpriced count (OpenStackSourceTests and
/// CloudRuSourceTests check month-to-date figures at a fixed time).
@Suite("OpenStack and Cloud.ru through the daemon", .serialized)
struct CloudsEndToEndTests {
    @Test("/metrics carries both sources, promtool check metrics is clean, no secret reaches the log, exposition or database")
    func bothClouds() async throws {
        let openstack = try OpenStackFake()
        let cloudru = try CloudRuFake()
        try await openstack.start()
        try await cloudru.start()
        let daemon = try Daemon(config: """
        storage: {path: ./data/infrazen.db}
        sources:
          - {name: vk, type: openstack, identity_url: "\(openstack.identityURL)", username_env: OS_USER, password_env: OS_PASSWORD,
             user_domain: users, project_id: \(OpenStackFake.project), price_list: \(OpenStackSourceTests.prices), account: vk-prod,
             interval: 1h, retries: 0, timeout: 120s}
          - {name: cr, type: cloudru, key_id_env: CLOUDRU_KEY_ID, key_secret_env: CLOUDRU_KEY_SECRET, agreement_id: "\(CloudRuFake.agreement)",
             project_ids: [\(CloudRuFake.projectA)], page_size: 2, base_url: "\(cloudru.baseURL)", interval: 1h, retries: 0, timeout: 120s}
        """)
        try daemon.start(environment: OpenStackSourceTests.environment.merging(CloudRuSourceTests.environment) { $1 })
        try await daemon.waitUntilReady()
        // Generous bounds: a loaded CI machine (two shared cores) can take tens of seconds for a sync.
        let deadline = Date().addingTimeInterval(180)
        var text = ""
        while Date() < deadline {
            text = (try? await daemon.metrics()) ?? ""
            if ParsedExposition(text).sum("infrazen_source_up") == 2 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let metrics = ParsedExposition(text)
        #expect(metrics.value("infrazen_source_up", ["source": "vk", "provider": "openstack"]) == 1, "\(daemon.logText)")
        #expect(metrics.value("infrazen_source_up", ["source": "cr", "provider": "cloudru"]) == 1, "\(daemon.logText)")
        // vm-app 2.50 ₽/h + its 100 GB at 0.01 ₽/GB-h; cr-vm-1 (150 + its disk's 10) ₽ a day / 24.
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["source": "vk", "resource_id": "vm-app"]) == 3.5)
        #expect(abs((metrics.value("infrazen_resource_cost_per_hour", ["source": "cr", "resource_id": "cr-vm-1"]) ?? 0) - 160.0 / 24) < 1e-6)
        #expect(metrics.value("infrazen_unpriced_resources", ["source": "vk", "resource_type": "server", "price_key": "GPU-X"]) == 1)
        #expect(metrics.helps["infrazen_unpriced_resources"] != nil)
        #expect(metrics.value("infrazen_sync_errors_total", ["source": "vk", "endpoint": "nova/RegionTwo", "reason": "http_500"]) == 1)
        let check = try runTool("promtool", ["check", "metrics"], stdin: Data(text.utf8))
        #expect(check.status == 0 && check.output.isEmpty, "promtool: \(check.output)")
        _ = daemon.stop()
        await openstack.stop()
        await cloudru.stop()

        var database = Data()
        for suffix in ["", "-wal", "-shm"] {
            database += (try? Data(contentsOf: URL(fileURLWithPath: daemon.databasePath + suffix))) ?? Data()
        }
        #expect(database.range(of: Data("vm-app".utf8)) != nil)
        for secret in [OpenStackFake.password, "hunter2-meta", "os-token-1", CloudRuFake.keySecret, CloudRuFake.keyID, "cloudru-token-1"] {
            #expect(!daemon.logText.contains(secret), "\(secret) in the log")
            #expect(!text.contains(secret), "\(secret) in the exposition")
            #expect(database.range(of: Data(secret.utf8)) == nil, "\(secret) in the database")
        }
    }
}
