import CostModel
import Foundation
import Logging
import NIOCore
@testable import ProviderYandex
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

@Suite("Yandex Cloud over real HTTP", .serialized)
struct YandexSourceTests {
    static let header = "billing_account_id,billing_account_name,cloud_id,cloud_name,folder_id,folder_name,resource_id,service_id,service_name,sku_id,sku_name,date,currency,pricing_quantity,pricing_unit,cost,credit,monetary_grant_credit,volume_incentive_credit,cud_credit,misc_credit,label.user_labels.env,locale,updated_at,exported_at"

    func row(_ resource: String, _ service: String, _ sku: String, _ date: String, _ cost: String, _ credit: String) -> String {
        "dn2acct,account-main,b1gcloud,prod-cloud,b1gfolder00000000000,default,\(resource),srv,\(service),sku,\"\(sku)\",\(date),RUB,1,unit,\(cost),\(credit),\(credit),0,0,0,prod,en,1763600000,2026-11-20T10:00:05Z"
    }

    @Test("IAM by a verified PS256 JWT; balance; paged instances; export → run rate, history and a zombie, to the kopeck")
    func endToEnd() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("yc-\(UUID().uuidString)")
        let export = directory.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: export, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyPath = directory.appendingPathComponent("key.pem").path
        #expect(try runTool("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyPath]).status == 0)
        let publicKey = try runTool("openssl", ["pkey", "-in", keyPath, "-pubout"]).output
        let privateKey = try String(contentsOfFile: keyPath, encoding: .utf8)
        let authorizedKey = try JSONSerialization.data(withJSONObject: [
            "id": "ajekey0000000000000a", "service_account_id": "ajesa00000000000000b", "key_algorithm": "RSA_2048",
            "public_key": publicKey, "private_key": privateKey])
        try authorizedKey.write(to: directory.appendingPathComponent("authorized_key.json"))

        try ([Self.header,
              row("fhm0vm000000000000aa", "Compute Cloud", "Intel Ice Lake. 100% vCPU", "2026-11-19", "90.00", "0"),
              row("fhm0vm000000000000aa", "Compute Cloud", "Intel Ice Lake. RAM", "2026-11-19", "50.00", "0"),
              row("my-bucket", "Object Storage", "Standard storage, GB", "2026-11-19", "12.00", "0")].joined(separator: "\n") + "\n")
            .write(to: export.appendingPathComponent("20261119.csv"), atomically: true, encoding: .utf8)
        try ([Self.header,
              row("fhm0vm000000000000aa", "Compute Cloud", "Intel Ice Lake. 100% vCPU", "2026-11-20", "100.00", "-20.00"),
              row("fhm0vm000000000000aa", "Compute Cloud", "Intel Ice Lake. RAM", "2026-11-20", "50.00", "0"),
              row("my-bucket", "Object Storage", "Standard storage, GB", "2026-11-20", "12.34", "0"),
              row("enp0nlb000000000000", "Network Load Balancer", "NLB hour", "2026-11-20", "5.00", "0"),
              row("fhm0gone00000000000", "Compute Cloud", "Intel Ice Lake. 100% vCPU", "2026-11-20", "10.00", "0")].joined(separator: "\n") + "\n")
            .write(to: export.appendingPathComponent("20261120.csv"), atomically: true, encoding: .utf8)

        let fake = try YandexFake(publicKeyPEM: publicKey, keyID: "ajekey0000000000000a", serviceAccountID: "ajesa00000000000000b")
        try await fake.start()
        let config = try ConfigLoader.parse("""
        sources:
          - name: yc
            type: yandex
            billing_account_id: dn2acct
            key_file: \(directory.appendingPathComponent("authorized_key.json").path)
            billing_export: \(export.path)
            folder_ids: [b1gfolder00000000000]
            base_url: "\(fake.baseURL)"
            retries: 0
        """, file: "t.yaml", environment: [:])
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        engine.clock = { ISO8601DateFormatter().date(from: "2026-11-20T12:00:00Z")! }
        #expect(await engine.syncAllOnce() == [])
        await fake.stop()
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))

        // Run rate from 20 November, net of credits: VM 80 + 50 = 130 a day; bucket 12.34; NLB 5; gone VM 10.
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": "fhm0vm000000000000aa"]) == 5.41666667)  // 130 / 24
        #expect(abs(metrics.sum("infrazen_infrastructure_cost_monthly") - (130 + 12.34 + 5 + 10) * 30) < 0.005)  // 4720.20
        let info = Dictionary(uniqueKeysWithValues: metrics.values("infrazen_resource_info").map { ($0.labels["resource_id"] ?? "", $0.labels) })
        #expect(info["fhm0gone00000000000"]?["zombie"] == "true")
        #expect(info["fhm0vm000000000000aa"]?["zombie"] == "false")
        #expect(info["fhm0vm000000000000aa"]?["flavor"] == "standard-v3/2vCPU/4GiB")
        #expect(info["my-bucket"]?["zombie"] == "false")  // buckets are not in the inventory this source reads
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_id": "fhm0vm000000000000aa", "tenant": "shop"]) != nil)
        #expect(metrics.value("infrazen_account_balance", ["provider": "yandex", "account": "dn2acct", "currency": "RUB"]) == 15234.56)
        // Month-to-date: 19 Nov 152.00 + 20 Nov 157.34.
        #expect(abs(metrics.sum("infrazen_cost_month_to_date", where: { $0["source"] == "yc" }) - 309.34) < 0.005)
        #expect(fake.requests.withLock { $0 } .filter { $0.hasPrefix("GET instances") } == ["GET instances ", "GET instances p2"])
        #expect(fake.requests.withLock { $0 }.filter { $0 == "POST iam" }.count == 1)
    }

    @Test("a JWT signed with another key is refused, and the export still lands")
    func wrongKey() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("yc-\(UUID().uuidString)")
        let export = directory.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: export, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["a.pem", "b.pem"] {
            #expect(try runTool("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                                            "-out", directory.appendingPathComponent(name).path]).status == 0)
        }
        let otherPublic = try runTool("openssl", ["pkey", "-in", directory.appendingPathComponent("b.pem").path, "-pubout"]).output
        let key = try JSONSerialization.data(withJSONObject: ["id": "k", "service_account_id": "sa",
            "private_key": try String(contentsOfFile: directory.appendingPathComponent("a.pem").path, encoding: .utf8)])
        try key.write(to: directory.appendingPathComponent("key.json"))
        try (Self.header + "\n" + row("r", "Compute Cloud", "x", "2026-11-20", "24.00", "0") + "\n")
            .write(to: export.appendingPathComponent("20261120.csv"), atomically: true, encoding: .utf8)
        let fake = try YandexFake(publicKeyPEM: otherPublic, keyID: "k", serviceAccountID: "sa")
        try await fake.start()
        let source = YandexSource(settings: .init(key: Secret(try String(contentsOf: directory.appendingPathComponent("key.json"), encoding: .utf8)),
                                                  billingAccountID: "dn2", exportDirectory: export.path, folderIDs: ["f"],
                                                  iamURL: "\(fake.baseURL)/iam/v1/tokens", billingURL: "\(fake.baseURL)/billing/v1/billingAccounts",
                                                  computeURL: "\(fake.baseURL)/compute/v1/instances"),
                                  http: ProviderClient(timeout: .seconds(5), retries: 0))
        let snapshot = try await source.collect(CollectionWindow(now: Date(), historyDays: 90, reporting: ReportingConfig()))
        await fake.stop()
        #expect(snapshot.endpointFailures.map(\.endpoint) == ["iam"])
        #expect(snapshot.endpointFailures.first?.reason == "http_401")
        #expect(snapshot.billing.map(\.rate.perHour.amount) == [1])
    }
}

