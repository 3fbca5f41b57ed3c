import CostModel
import Foundation
import Logging
import NIOCore
@testable import ProviderSelectel
@testable import Storage
import Testing
@testable import ZenExporter

/// Amounts from providers are read from their JSON text: `1e-5` and `1.2345678901234567E+16`
/// arrive digit for digit (they used to pass through `Double` and come out as binary noise),
/// and a number that is not finite or absurd is refused as a counted bad value while the last
/// good data stays served.
@Suite("Provider amounts, exactly", .serialized)
struct ProviderAmountsTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!

    /// An engine syncing one Beget source from `fake`.
    func engine(_ fake: BegetFake) throws -> SyncEngine {
        let config = try ConfigLoader.parse("""
        sources:
          - {name: beget, type: beget, login_env: BEGET_LOGIN, password_env: BEGET_PASSWORD, base_url: "\(fake.baseURL)", retries: 0, timeout: 30s}
        """, file: "t.yaml", environment: ["BEGET_LOGIN": BegetFake.login, "BEGET_PASSWORD": BegetFake.password])
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        engine.retryBase = .milliseconds(1)
        engine.clock = { Self.now }
        return engine
    }

    /// The value of one series exactly as exported (text, not a Double).
    static func exportedText(_ engine: SyncEngine, _ prefix: String) -> [String] {
        String(buffer: engine.estate.exposition.rendered.body).split(separator: "\n")
            .filter { $0.hasPrefix(prefix) }.compactMap { $0.split(separator: " ").last.map(String.init) }
    }

    static func accountInfo(balance: String, rate: String = #""60.73""#) -> String {
        #"{"plan_name": "Blog", "user_rate_current": \#(rate), "user_balance": \#(balance), "user_days_to_block": 105}"#
    }

    @Test("a balance of 1.2345678901234567E+16 exports as 12345678901234567, one of 1.23E-7 as 0.000000123")
    func exponentFormsArriveExactly() async throws {
        for (balance, expected) in [("1.2345678901234567E+16", "12345678901234567"), ("1.23E-7", "0.000000123"), ("-2.5e-5", "-0.000025")] {
            let fake = try BegetFake(.init(accountInfo: Self.accountInfo(balance: balance)))
            try await fake.start()
            let engine = try engine(fake)
            #expect(await engine.syncAllOnce() == [])
            await fake.stop()
            #expect(Self.exportedText(engine, "infrazen_account_balance{") == [expected], "\(balance)")
        }
    }

    @Test("a plan rate of 2.4E-5 a day is 0.000001 an hour; 1.5E+12 a day 62500000000")
    func exponentRates() async throws {
        for (rate, perHour) in [("2.4E-5", "0.000001"), ("1.5E+12", "62500000000")] {
            let fake = try BegetFake(.init(accountInfo: Self.accountInfo(balance: "1", rate: rate)))
            try await fake.start()
            let engine = try engine(fake)
            #expect(await engine.syncAllOnce() == [])
            await fake.stop()
            let hosting = String(buffer: engine.estate.exposition.rendered.body).split(separator: "\n")
                .first { $0.hasPrefix("infrazen_resource_cost_per_hour{") && $0.contains("resource_id=\"hosting\"") }
            #expect(hosting?.split(separator: " ").last.map(String.init) == perHour, "\(rate)")
        }
    }

    @Test("NaN, Infinity, 1e400, -1e400 and 1e19 are refused: the sync fails with reason bad_value at the value's path, counted, the last good balance served")
    func badValuesRefused() async throws {
        let fake = try BegetFake()
        try await fake.start()
        let engine = try engine(fake)
        #expect(await engine.syncAllOnce() == [])
        let bad = [#""NaN""#, #""Infinity""#, "1e400", "-1e400", "1e19", #""-inf""#]
        for (count, value) in bad.enumerated() {
            fake.behaviour.withLock { $0.accountInfo = Self.accountInfo(balance: value) }
            #expect(await engine.syncAllOnce() == ["beget"], "\(value)")
            let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
            #expect(metrics.value("infrazen_sync_errors_total", ["endpoint": "user/getAccountInfo", "reason": "bad_value"]) == Double(count + 1))
            #expect(metrics.value("infrazen_source_up", ["source": "beget"]) == 0)
            #expect(Self.exportedText(engine, "infrazen_account_balance{") == ["1339.57"], "\(value)")
            let error = await engine.estate.status(of: "beget")?.lastError ?? ""
            #expect(error.contains("answer.result.user_balance"), "\(error)")
        }
        await fake.stop()
    }

    @Test("a daily price whose day does not fit the micro-units (9.2 × 10¹² a day) is refused, not clamped")
    func dailyPriceBeyondMicros() async throws {
        let fake = try BegetFake(.init(accountInfo: Self.accountInfo(balance: "1", rate: "1e16")))
        try await fake.start()
        let engine = try engine(fake)
        #expect(await engine.syncAllOnce() == ["beget"])
        await fake.stop()
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_sync_errors_total", ["endpoint": "user/getAccountInfo", "reason": "bad_value"]) == 1)
        #expect(metrics.values("infrazen_cost_month_to_date").isEmpty)
    }

    @Test("Selectel consumption: 1e-5 and 1.2345678901234567E+16 kopecks read exactly, 1e400 and \"NaN\" are bad values at their byte")
    func consumptionAmounts() throws {
        func values(_ literal: String) throws -> [Decimal] {
            var body = #"{"status": "success", "data": [{"object": {"id": "vm"}, "period": "2026-11-19T10:00:00", "value": \#(literal)}]}"#
            var read: [Decimal] = []
            _ = try body.withUTF8 { bytes in
                try Selectel.ConsumptionReader.read(UnsafeRawBufferPointer(bytes)) { row in read.append(row.value?.decimal ?? -1) }
            }
            return read
        }
        #expect(try values("1e-5") == [Decimal(sign: .plus, exponent: -5, significand: 1)])
        #expect(try values("1.2345678901234567E+16") == [Decimal(string: "12345678901234567")!])
        #expect(try values("0.1") == [Decimal(string: "0.1")!])
        for bad in ["1e400", #""NaN""#, "1e18", "-1E+999"] {
            do {
                _ = try values(bad)
                Issue.record("\(bad) was read")
            } catch let malformed as Selectel.ConsumptionReader.Malformed {
                #expect(malformed.badValue, "\(bad): \(malformed)")
                #expect(malformed.description.contains("value"), "\(malformed)")
            }
        }
    }
}
