import CostModel
import Foundation
import GRDB
import Logging
import NIOCore
@testable import ProviderBeget
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

@Suite("Beget connector over real HTTP", .serialized)
struct BegetSourceTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!

    func source(_ fake: BegetFake) -> BegetSource {
        var source = BegetSource(
            settings: .init(login: Secret(BegetFake.login), password: Secret(BegetFake.password), baseURL: fake.baseURL, account: "beget-main"),
            http: ProviderClient(timeout: .seconds(5), retries: 2, retryBase: .milliseconds(10)))
        source.pageSize = 2
        return source
    }

    var window: CollectionWindow { CollectionWindow(now: Self.now, historyDays: 90, reporting: ReportingConfig()) }

    @Test("every endpoint collected; prices to the kopeck: 60.73 + 22.00 + 9.73 + 15.50 + 29.00 + 0 a day")
    func collectsEverything() async throws {
        let fake = try BegetFake()
        try await fake.start()
        let snapshot = try await source(fake).collect(window)
        await fake.stop()

        let daily = Dictionary(uniqueKeysWithValues: snapshot.billing.map { ($0.resourceName, $0.rate.over(hours: 24).amount) })
        #expect(daily == ["hosting (Blog)": Decimal(string: "60.73")!, "Objective Perrin": 22, "Calm Turing": Decimal(string: "9.73")!,
                          "Stopped One": Decimal(string: "15.5")!, "Cloud database 1": 29, "Humane Orrin": 0])
        let monthly = snapshot.billing.map { $0.rate.monthly(hoursPerMonth: 720).amount }.reduce(0, +)
        #expect(monthly == Decimal(string: "4108.8")!)  // 136.96 × 30
        #expect(snapshot.accounts == [AccountBalance(provider: "beget", account: "beget-main", balance: Money(Decimal(string: "1339.57")!, .rub),
                                                     daysUntilDepleted: 105)])
        #expect(Set(snapshot.inventory.filter { $0.resourceType == "domain" }.map(\.name)) == ["example.ru", "example.com"])
        #expect(snapshot.endpointFailures.isEmpty)
        // Weekly CPU mean (10 + 20 + 30) / 3 = 20 %; memory (1000 + 1048) / 2 of 2048 MB = 50 %.
        let perrin = snapshot.utilization.filter { $0.resourceID == "b7e3c1a2-9d4f-4e5a-8b6c-1d2e3f4a5b6c" }
        #expect(perrin.first { $0.dimension == .cpu }?.ratio == 0.2)
        #expect(perrin.first { $0.dimension == .memory }?.ratio == 0.5)
    }

    @Test("the VPS list is read page by page until total_count")
    func pagination() async throws {
        let fake = try BegetFake()
        try await fake.start()
        let snapshot = try await source(fake).collect(window)
        await fake.stop()
        #expect(fake.requests.withLock { $0.filter { $0.hasPrefix("GET /v1/vps/server/list") } }
            == ["GET /v1/vps/server/list?offset=0", "GET /v1/vps/server/list?offset=2"])
        #expect(snapshot.inventory.filter { $0.resourceType == "server" }.count == 3)
    }

    @Test("a method refused for permissions is counted against it; the rest of the sync lands")
    func refusedMethod() async throws {
        let fake = try BegetFake(.init(refuseDomains: true))
        try await fake.start()
        let snapshot = try await source(fake).collect(window)
        await fake.stop()
        #expect(snapshot.endpointFailures.map(\.endpoint) == ["domain/getList"])
        #expect(snapshot.endpointFailures.first?.reason == "refused")
        #expect(snapshot.endpointFailures.first?.message.contains("Cannot access method domain/getList") == true)
        #expect(snapshot.billing.count == 6)
    }

    @Test("429 with Retry-After: 1 is retried after a second, not sooner")
    func retryAfter() async throws {
        let fake = try BegetFake(.init(rateLimitVPSOnce: true))
        try await fake.start()
        let started = ContinuousClock.now
        let snapshot = try await source(fake).collect(window)
        let elapsed = ContinuousClock.now - started
        await fake.stop()
        #expect(elapsed >= .seconds(1))
        #expect(snapshot.endpointFailures.isEmpty)
        #expect(fake.requests.withLock { $0.filter { $0 == "GET /v1/vps/server/list?offset=0" }.count } == 2)
    }

    @Test("malformed JSON fails that endpoint with the path of the bad value")
    func malformedJSON() async throws {
        let fake = try BegetFake(.init(malformedCloud: true))
        try await fake.start()
        let snapshot = try await source(fake).collect(window)
        await fake.stop()
        let failure = try #require(snapshot.endpointFailures.first)
        #expect(failure.endpoint == "cloud" && failure.reason == "bad_json")
        #expect(failure.message.contains("service[0].price_day"), "\(failure.message)")
        #expect(snapshot.billing.count == 4)  // hosting and three VPS
    }

    @Test("a 500 after retries fails only that endpoint")
    func serverError() async throws {
        let fake = try BegetFake(.init(failCloud500: true))
        try await fake.start()
        let snapshot = try await source(fake).collect(window)
        await fake.stop()
        #expect(snapshot.endpointFailures.map(\.reason) == ["http_500"])
        #expect(fake.requests.withLock { $0.filter { $0 == "GET /v1/cloud" }.count } == 3)  // one try and two retries
    }

    @Test("through the daemon: /metrics figures, secrets nowhere, up 0 while the fake is down and 1 when it is back")
    func endToEnd() async throws {
        let fake = try BegetFake()
        try await fake.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zen-beget-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try ConfigLoader.parse("""
        storage: {path: \(directory.path)/infrazen.db}
        sources:
          - {name: beget, type: beget, login_env: BEGET_LOGIN, password_env: BEGET_PASSWORD, base_url: "\(fake.baseURL)", retries: 1, timeout: 30s}
        """, file: "t.yaml", environment: ["BEGET_LOGIN": BegetFake.login, "BEGET_PASSWORD": BegetFake.password])
        let store = try Store(path: "\(directory.path)/infrazen.db")
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test"))
        engine.retryBase = .milliseconds(10)
        engine.clock = { Self.now }
        #expect(await engine.syncAllOnce() == [])
        let text = String(buffer: engine.estate.exposition.rendered.body)
        let metrics = ParsedExposition(text)
        #expect(abs(metrics.sum("infrazen_infrastructure_cost_monthly") - 4108.80) < 0.005)
        #expect(metrics.value("infrazen_resource_cost_per_hour", ["resource_name": "Objective Perrin"]) == 0.91666667)  // 22 / 24
        #expect(metrics.value("infrazen_account_balance", ["source": "beget", "account": "beget"]) == 1339.57)
        #expect(metrics.value("infrazen_account_time_until_depleted_seconds", ["source": "beget"]) == 105 * 86_400.0)
        #expect(metrics.value("infrazen_source_up", ["source": "beget"]) == 1)

        await fake.stop()
        #expect(await engine.syncAllOnce() == ["beget"])
        let down = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(down.value("infrazen_source_up", ["source": "beget"]) == 0)
        #expect(abs(down.sum("infrazen_infrastructure_cost_monthly") - 4108.80) < 0.005)

        try await fake.start()
        #expect(await engine.syncAllOnce() == [])
        #expect(ParsedExposition(String(buffer: engine.estate.exposition.rendered.body)).value("infrazen_source_up", ["source": "beget"]) == 1)
        await fake.stop()
        try store.close()

        let database = try Data(contentsOf: URL(fileURLWithPath: "\(directory.path)/infrazen.db"))
            + ((try? Data(contentsOf: URL(fileURLWithPath: "\(directory.path)/infrazen.db-wal"))) ?? Data())
        for secret in [BegetFake.password, "hunter2-admin-password", "db-root-secret", "s3-secret-key-fixture", "AKIABEGETFIXTURE", "eyJhbGci"] {
            #expect(!text.contains(secret), "exposition holds \(secret)")
            #expect(database.range(of: Data(secret.utf8)) == nil, "database holds \(secret)")
        }
    }
}
