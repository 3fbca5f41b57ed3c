import CostModel
import Foundation
import Logging
import NIOCore
@testable import ProviderYandex
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// The export's `date` as a calendar day, key files as `yc iam key create` writes them, and
/// Compute page tokens sent intact.
@Suite("Yandex Cloud: calendar days, key files, page tokens", .serialized)
struct YandexCalendarDayTests {
    static let keyID = "ajekey0000000000000a"
    static let serviceAccountID = "ajesa00000000000000b"

    /// A directory with an export folder and an authorised key whose `private_key` is
    /// `prefix` followed by a fresh PKCS #8 PEM; the public half for the fake.
    struct Account {
        var directory: URL
        var export: URL
        var keyFile: URL
        var publicKey: String
    }

    static func account(privateKeyPrefix: String = "") throws -> Account {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("yc-day-\(UUID().uuidString)")
        let export = directory.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: export, withIntermediateDirectories: true)
        let pem = directory.appendingPathComponent("key.pem").path
        #expect(try runTool("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem]).status == 0)
        let publicKey = try runTool("openssl", ["pkey", "-in", pem, "-pubout"]).output
        let privateKey = privateKeyPrefix + (try String(contentsOfFile: pem, encoding: .utf8))
        let keyFile = directory.appendingPathComponent("authorized_key.json")
        try JSONSerialization.data(withJSONObject: [
            "id": keyID, "service_account_id": serviceAccountID, "created_at": "2026-03-10T19:16:05.289441568Z",
            "key_algorithm": "RSA_2048", "public_key": publicKey, "private_key": privateKey]).write(to: keyFile)
        return Account(directory: directory, export: export, keyFile: keyFile, publicKey: publicKey)
    }

    func row(_ resource: String, _ date: String, _ cost: String) -> String {
        "dn2acct,account-main,b1gcloud,prod-cloud,b1gfolder00000000000,default,\(resource),srv,Compute Cloud,sku,\"vCPU\",\(date),RUB,1,unit,\(cost),0,0,0,0,0,prod,en,1763600000,2026-12-02T10:00:05Z"
    }

    func source(_ account: Account, fake: YandexFake, folders: [String] = []) throws -> YandexSource {
        YandexSource(settings: .init(key: Secret(try String(contentsOf: account.keyFile, encoding: .utf8)), billingAccountID: "dn2acct",
                                     exportDirectory: account.export.path, folderIDs: folders,
                                     iamURL: "\(fake.baseURL)/iam/v1/tokens", billingURL: "\(fake.baseURL)/billing/v1/billingAccounts",
                                     computeURL: "\(fake.baseURL)/compute/v1/instances"),
                     http: ProviderClient(timeout: .seconds(5), retries: 0))
    }

    @Test("with reporting.timezone UTC, December's month to date is the sum of the rows dated 1 and 2 December")
    func monthToDateInUTC() async throws {
        let account = try Self.account()
        defer { try? FileManager.default.removeItem(at: account.directory) }
        try ([YandexSourceTests.header,
              row("vm-a", "2026-11-30", "1000.00"),
              row("vm-a", "2026-12-01", "100.25"),
              row("vm-b", "2026-12-01", "7.50"),
              row("vm-a", "2026-12-02", "40.10")].joined(separator: "\n") + "\n")
            .write(to: account.export.appendingPathComponent("202612.csv"), atomically: true, encoding: .utf8)
        let fake = try YandexFake(publicKeyPEM: account.publicKey, keyID: Self.keyID, serviceAccountID: Self.serviceAccountID)
        try await fake.start()
        let config = try ConfigLoader.parse("""
        reporting: {timezone: UTC}
        sources:
          - {name: yc, type: yandex, billing_account_id: dn2acct, key_file: \(account.keyFile.path), billing_export: \(account.export.path),
             base_url: "\(fake.baseURL)", retries: 0}
        """, file: "t.yaml", environment: [:])
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        engine.clock = { ISO8601DateFormatter().date(from: "2026-12-02T12:00:00Z")! }
        #expect(await engine.syncAllOnce() == [])
        await fake.stop()
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        // 1 December 100.25 + 7.50, 2 December 40.10; 30 November is last month's.
        #expect(abs(metrics.sum("infrazen_cost_month_to_date", where: { $0["source"] == "yc" }) - 147.85) < 0.005)
    }

    @Test("a row's date is the day it is filed under, whatever the reporting zone")
    func rowDateIsTheDay() async throws {
        let account = try Self.account()
        defer { try? FileManager.default.removeItem(at: account.directory) }
        try ([YandexSourceTests.header, row("vm-a", "2026-12-01", "100.25")].joined(separator: "\n") + "\n")
            .write(to: account.export.appendingPathComponent("20261201.csv"), atomically: true, encoding: .utf8)
        let fake = try YandexFake(publicKeyPEM: account.publicKey, keyID: Self.keyID, serviceAccountID: Self.serviceAccountID)
        try await fake.start()
        let now = ISO8601DateFormatter().date(from: "2026-12-02T12:00:00Z")!
        for zone in ["UTC", "America/New_York", "Asia/Tokyo", "Europe/Moscow"] {
            var reporting = ReportingConfig()
            reporting.timeZone = try #require(TimeZone(identifier: zone))
            let snapshot = try await source(account, fake: fake).collect(CollectionWindow(now: now, historyDays: 90, reporting: reporting))
            #expect(snapshot.dailyCosts.map(\.day) == [LocalDay(year: 2026, month: 12, day: 1)], "\(zone)")
        }
        await fake.stop()
    }

    @Test("a key file whose private_key starts with the PLEASE DO NOT REMOVE THIS LINE! line signs a JWT the IAM accepts")
    func keyFileWithIDLine() async throws {
        let account = try Self.account(privateKeyPrefix: "PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <\(Self.keyID)>\n")
        defer { try? FileManager.default.removeItem(at: account.directory) }
        try ([YandexSourceTests.header, row("vm-a", "2026-12-01", "24.00")].joined(separator: "\n") + "\n")
            .write(to: account.export.appendingPathComponent("20261201.csv"), atomically: true, encoding: .utf8)
        let fake = try YandexFake(publicKeyPEM: account.publicKey, keyID: Self.keyID, serviceAccountID: Self.serviceAccountID)
        try await fake.start()
        let snapshot = try await source(account, fake: fake).collect(CollectionWindow(now: Date(), historyDays: 90, reporting: ReportingConfig()))
        await fake.stop()
        #expect(snapshot.endpointFailures.isEmpty, "\(snapshot.endpointFailures.map(\.message))")
        #expect(fake.requests.withLock { $0 }.filter { $0 == "POST iam" }.count == 1)
        #expect(snapshot.accounts.map(\.balance) == [Money(Decimal(string: "15234.56")!, .rub)])
    }

    @Test("a Compute page token with + / = and & reaches the API intact, and the second page is listed")
    func pageTokenEncoded() async throws {
        let account = try Self.account()
        defer { try? FileManager.default.removeItem(at: account.directory) }
        try ([YandexSourceTests.header, row("vm-a", "2026-12-01", "24.00")].joined(separator: "\n") + "\n")
            .write(to: account.export.appendingPathComponent("20261201.csv"), atomically: true, encoding: .utf8)
        let token = "Cg4I+vLh/Ah==&folderId=x"
        let fake = try YandexFake(publicKeyPEM: account.publicKey, keyID: Self.keyID, serviceAccountID: Self.serviceAccountID, nextPageToken: token)
        try await fake.start()
        let snapshot = try await source(account, fake: fake, folders: ["b1gfolder00000000000"])
            .collect(CollectionWindow(now: Date(), historyDays: 90, reporting: ReportingConfig()))
        await fake.stop()
        #expect(snapshot.endpointFailures.isEmpty, "\(snapshot.endpointFailures.map(\.message))")
        #expect(Set(snapshot.inventory.map(\.resourceID)) == ["fhm0vm000000000000aa", "fhm0vm000000000000bb"])
        #expect(fake.requests.withLock { $0 }.filter { $0.hasPrefix("GET instances") } == ["GET instances ", "GET instances \(token)"])
    }
}
