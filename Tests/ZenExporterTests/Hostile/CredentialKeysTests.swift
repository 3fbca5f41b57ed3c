import CostModel
import Foundation
import Logging
import NIOCore
@testable import ProviderSelectel
@testable import ProviderYandex
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

@Suite("Tag keys that name credentials are dropped at the connector edge")
struct CredentialKeysTests {
    @Test("the rule: a word part that is a short credential word, or contains a long one; harmless look-alikes stay")
    func rule() {
        let dropped = ["password", "db_password", "DB_PASSWORD", "passwd", "pass", "user-pass", "secret", "client_secret", "aws.secretAccessKey",
                       "token", "X-Auth-Token", "apitoken", "key", "apiKey", "APIKey", "api_key", "ssh-key", "sshkey", "privateKey",
                       "private", "credential", "Credentials", "creds", "jwt", "bearer", "auth", "pwd", "dsn", "cookie", "session_token"]
        let kept = ["keyboard", "passenger", "monkey", "turkey", "tenant", "team", "env", "owner", "compass", "passport", "keynote",
                    "author", "privacy", "tokenizer-version"]
        for key in dropped { #expect(CredentialKeys.namesCredential(key), "\(key) should be dropped") }
        for key in kept where key != "tokenizer-version" { #expect(!CredentialKeys.namesCredential(key), "\(key) should stay") }
        // "tokenizer" contains "token": the rule drops it, on the side of caution (documented).
        #expect(CredentialKeys.namesCredential("tokenizer-version"))
        #expect(CredentialKeys.parts("aws.secretAccessKey") == ["aws", "secret", "access", "key"])
        #expect(CredentialKeys.dropCredentials(["team": "web", "db_password": "x", "keyboard": "qwerty"]) == ["team": "web", "keyboard": "qwerty"])
    }

    @Test("FOCUS Tags and Yandex labels naming credentials never reach the SQLite file or /metrics")
    func neverStoredNorExported() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("credkeys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tags = #"{"tenant": "acme", "db_password": "hunter2-SECRET-A", "apiKey": "AKIA-SECRET-B", "Private": "SECRET-C", "keyboard": "qwerty-kept"}"#
        let csv = """
            BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceCategory,ServiceName,ProviderName,SubAccountId,ResourceId,ResourceName,ResourceType,RegionId,Tags
            12.50,USD,2026-11-19T00:00:00Z,Usage,Compute,EC2,AWS,acct-1,i-0001,web-1,Virtual Machine,eu-west-1,"\(tags.replacingOccurrences(of: "\"", with: "\"\""))"

            """
        try csv.write(to: directory.appendingPathComponent("aws.csv"), atomically: true, encoding: .utf8)
        let config = try ConfigLoader.parse("sources:\n  - {name: aws, type: focus, path: \"\(directory.path)/*.csv\"}\n",
                                            file: "t.yaml", environment: [:])
        let databasePath = directory.appendingPathComponent("zen.db").path
        var engine = SyncEngine(config: config, store: try Store(path: databasePath), logger: Logger(label: "test"))
        engine.clock = { ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z") ?? Date() }
        #expect(await engine.syncAllOnce() == [])
        let exposition = String(buffer: engine.estate.exposition.rendered.body)
        var stored: [UInt8] = []
        for suffix in ["", "-wal", "-shm"] {
            if let data = FileManager.default.contents(atPath: databasePath + suffix) { stored += data }
        }
        let storedText = String(decoding: stored, as: UTF8.self)
        #expect(storedText.contains("qwerty-kept"))  // tags are stored: the test looks where they would be
        #expect(exposition.contains("acme"))
        for secret in ["hunter2-SECRET-A", "AKIA-SECRET-B", "SECRET-C", "db_password", "apiKey"] {
            #expect(!storedText.contains(secret), "\(secret) in the database")
            #expect(!exposition.contains(secret), "\(secret) in /metrics")
        }
    }

    @Test("Yandex billing export: label columns naming credentials are not kept as tags")
    func yandexLabels() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("yclabels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("2026-11-19.csv").path
        try """
            date,currency,cost,credit,service_name,resource_id,label.user_labels.team,label.user_labels.api_token,label.user_labels.db-password
            2026-11-19,RUB,100.00,0,Compute Cloud,vm-1,web,t0ken-VALUE,pw-VALUE

            """.write(toFile: path, atomically: true, encoding: .utf8)
        let file = try YandexExportFile.read(path: path)
        #expect(file.tags == ["vm-1": ["team": "web"]])
    }

    @Test("Selectel: OpenStack server metadata naming credentials (admin_pass, ssh_private_key) is not kept as tags")
    func selectelMetadata() async throws {
        let fake = try SelectelFake()
        try await fake.start()
        let config = try ConfigLoader.parse("""
            sources:
              - {name: sel, type: selectel, token_env: T, username_env: U, password_env: P, account_id: "200001",
                 project_id: 7f1c2a9be0d34c21a8b6f0e2d4c5b6a7, base_url: "\(fake.baseURL)", retries: 0}
            """, file: "t.yaml", environment: ["T": SelectelFake.staticToken, "U": "finops", "P": SelectelFake.servicePassword])
        let source = SelectelSource(settings: try #require(config.sources.first?.settings as? SelectelSource.Settings),
                                    http: ProviderClient(timeout: .seconds(5), retries: 0))
        let snapshot = try await source.collect(RedirectTests.window)
        await fake.stop()
        let web = try #require(snapshot.inventory.first { $0.resourceID == SelectelSourceTests.web })
        #expect(web.tags == ["env": "prod", "tenant": "acme"])  // the fixture also has admin_pass and ssh_private_key
    }
}
