import CostModel
import Foundation
import GRDB
import Hummingbird
import Logging
import NIOCore
@testable import SourceKit
@testable import Storage
import Synchronization
import Testing
@testable import ZenExporter

@Suite("Central Bank of Russia rates", .serialized)
struct FXRatesTests {
    static let xml = """
    <?xml version="1.0" encoding="windows-1251"?>
    <ValCurs Date="20.11.2026" name="Foreign Currency Market">
    <Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal><Name>US Dollar</Name><Value>81,5000</Value><VunitRate>81,5</VunitRate></Valute>
    <Valute ID="R01335"><NumCode>398</NumCode><CharCode>KZT</CharCode><Nominal>100</Nominal><Name>Tenge</Name><Value>16,0000</Value><VunitRate>0,16</VunitRate></Valute>
    </ValCurs>
    """

    @Test("rates are roubles per Nominal units with a decimal comma: USD 81.5, KZT 16 / 100 = 0.16")
    func parse() throws {
        let rates = try FXRates.parseCBR(Data(Self.xml.utf8))
        #expect(rates == [Currency("USD"): Decimal(string: "81.5")!, Currency("KZT"): Decimal(string: "0.16")!])
        #expect(throws: SyncFailure.self) { try FXRates.parseCBR(Data("<html>maintenance</html>".utf8)) }
    }

    /// The bank's daily XML on loopback.
    final class Bank: Sendable {
        let server: LoopbackServer
        var port: Int { server.port }
        init() throws { server = try LoopbackServer() }
        func start() async throws {
            let router = Router()
            router.get("/scripts/XML_daily.asp") { _, _ in
                Response(status: .ok, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: FXRatesTests.xml)))
            }
            try await server.start(router)
        }
        func stop() async { await server.stop() }
    }

    @Test("fetched rates convert the totals; unreachable, the last good ones stay, also after a restart, with their age")
    func lastGoodRates() async throws {
        let bank = try Bank()
        try await bank.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try ConfigLoader.parse("""
        storage: {path: \(directory.path)/infrazen.db}
        fx: {source: cbr, url: "http://127.0.0.1:\(bank.port)/scripts/XML_daily.asp"}
        sources:
          - {name: demo, type: demo}
        items:
          - {name: openai, kind: ai, cost: 120, currency: USD, period: monthly}
        """, file: "t.yaml", environment: [:])
        let fetchedAt = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
        let store = try Store(path: "\(directory.path)/infrazen.db")
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test"))
        engine.clock = { fetchedAt }
        #expect(await engine.syncAllOnce() == [])
        var metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_infrastructure_cost_monthly", ["category": "ai", "currency": "RUB"]) == 9780)  // 120 × 81.5
        #expect(metrics.value("infrazen_fx_rate", ["currency": "KZT"]) == 0.16)

        await bank.stop()
        engine.clock = { fetchedAt.addingTimeInterval(3600) }
        #expect(await engine.syncAllOnce() == [])
        metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_fx_rate", ["currency": "USD"]) == 81.5)
        #expect(metrics.value("infrazen_fx_rates_age_seconds", [:]) == 3600)
        try store.close()

        let reopened = try Store(path: "\(directory.path)/infrazen.db")
        defer { try? reopened.close() }
        var restarted = SyncEngine(config: config, store: reopened, logger: Logger(label: "test"))
        restarted.clock = { fetchedAt.addingTimeInterval(7200) }
        await restarted.restore()
        #expect(await restarted.syncAllOnce() == [])
        metrics = ParsedExposition(String(buffer: restarted.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_infrastructure_cost_monthly", ["category": "ai", "currency": "RUB"]) == 9780)
        #expect(metrics.value("infrazen_fx_rates_fetched_timestamp_seconds", [:]) == fetchedAt.timeIntervalSince1970)
    }

    /// A bank whose answer the test changes between syncs: a publication date and a USD rate.
    final class MovingBank: Sendable {
        let server: LoopbackServer
        let published = Mutex((date: "01.11.2026", usd: "80,0000"))
        var port: Int { server.port }
        init() throws { server = try LoopbackServer() }
        func start() async throws {
            let router = Router()
            router.get("/scripts/XML_daily.asp") { _, _ in
                let (date, usd) = self.published.withLock { $0 }
                let xml = """
                <?xml version="1.0" encoding="windows-1251"?>
                <ValCurs Date="\(date)" name="Foreign Currency Market">
                <Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal><Name>US Dollar</Name><Value>\(usd)</Value></Valute>
                </ValCurs>
                """
                return Response(status: .ok, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: xml)))
            }
            try await server.start(router)
        }
        func stop() async { await server.stop() }
    }

    @Test("each day is valued at its own day's rate: a new rate for today leaves October and the earlier days of November as they were, also after a restart")
    func historyKeepsItsRates() async throws {
        let bank = try MovingBank()
        try await bank.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fx-daily-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // USD billed on four days: 15 October, 2 and 19 November (a Thursday) and 20 November.
        try Data("""
        BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceCategory,ServiceName,ResourceId
        100,USD,2026-10-15T00:00:00Z,Usage,Compute,VM,vm-1
        10,USD,2026-11-02T00:00:00Z,Usage,Compute,VM,vm-1
        1,USD,2026-11-19T00:00:00Z,Usage,Compute,VM,vm-1
        2,USD,2026-11-20T00:00:00Z,Usage,Compute,VM,vm-1

        """.utf8).write(to: directory.appendingPathComponent("usd.csv"))
        let config = try ConfigLoader.parse("""
        storage: {path: \(directory.path)/infrazen.db}
        fx: {source: cbr, url: "http://127.0.0.1:\(bank.port)/scripts/XML_daily.asp"}
        sources:
          - {name: aws, type: focus, path: "\(directory.path)/usd.csv"}
        budgets:
          - {name: quarter, amount: 1000000, period: quarterly}
        """, file: "t.yaml", environment: [:])
        let store = try Store(path: "\(directory.path)/infrazen.db")
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test"))

        // 1 November: the bank sets 80 for the 1st. 20 November: 90 for the 20th.
        engine.clock = { ISO8601DateFormatter().date(from: "2026-11-01T09:00:00Z")! }
        #expect(await engine.syncAllOnce() == [])
        bank.published.withLock { $0 = (date: "20.11.2026", usd: "90,0000") }
        engine.clock = { ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")! }
        #expect(await engine.syncAllOnce() == [])
        var metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        // By hand: 15 Oct (before the first publication: its rate) 100 × 80 = 8000; 2 Nov 10 × 80 = 800;
        // 19 Nov 1 × 80 = 80 (the rate of the 1st is in force until the 20th); 20 Nov 2 × 90 = 180.
        #expect(metrics.sum("infrazen_cost_month_to_date", where: { $0["currency"] == "RUB" }) == 1060)
        #expect(metrics.value("infrazen_budget_spent", ["budget": "quarter"]) == 9060)
        #expect(metrics.value("infrazen_cost_daily", ["scope": "total"]) == 80)
        #expect(metrics.value("infrazen_fx_rate", ["currency": "USD"]) == 90)

        // The bank republishes today's rate at 95: only the 20th moves, by 2 × 5.
        bank.published.withLock { $0 = (date: "20.11.2026", usd: "95,0000") }
        #expect(await engine.syncAllOnce() == [])
        metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.sum("infrazen_cost_month_to_date", where: { $0["currency"] == "RUB" }) == 1070)
        #expect(metrics.value("infrazen_budget_spent", ["budget": "quarter"]) == 9070)  // October still 8000
        #expect(metrics.value("infrazen_cost_daily", ["scope": "total"]) == 80)
        try store.close()

        // After a restart, with the bank gone, the stored publications give the same figures.
        await bank.stop()
        let reopened = try Store(path: "\(directory.path)/infrazen.db")
        defer { try? reopened.close() }
        var restarted = SyncEngine(config: config, store: reopened, logger: Logger(label: "test"))
        restarted.clock = { ISO8601DateFormatter().date(from: "2026-11-20T10:00:00Z")! }
        await restarted.restore()
        metrics = ParsedExposition(String(buffer: restarted.estate.exposition.rendered.body))
        #expect(metrics.sum("infrazen_cost_month_to_date", where: { $0["currency"] == "RUB" }) == 1070)
        #expect(metrics.value("infrazen_budget_spent", ["budget": "quarter"]) == 9070)
    }

    @Test("a database from before per-day rates opens; its last fetched rates become the publication of the day they were fetched")
    func olderDatabaseKeepsItsRates() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fx-v5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = "\(directory.path)/infrazen.db"
        try Store(path: path).close()
        // Back to the v5 schema: no per-day table, one fetched rate (2026-11-20T09:00Z).
        let old = try DatabaseQueue(path: path)
        try await old.write { db in
            try db.execute(sql: """
                DROP TABLE fx_daily;
                DELETE FROM grdb_migrations WHERE identifier LIKE 'v6:%';
                INSERT INTO fx_rates (currency, rate, fetched_at) VALUES ('USD', '81.5', 1795165200);
                """)
        }
        try old.close()
        let store = try Store(path: path)
        defer { try? store.close() }
        let publications = try await store.fxPublications()
        #expect(publications == [LocalDay(year: 2026, month: 11, day: 20): [Currency("USD"): Decimal(string: "81.5")!]])
    }
}
