import CostModel
import Foundation
import Hummingbird
import Logging
import NIOCore
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
}
