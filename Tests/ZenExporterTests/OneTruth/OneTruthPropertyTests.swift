import CostModel
import Foundation
import Hummingbird
import Logging
import NIOCore
@testable import Storage
import Testing
@testable import ZenExporter

/// The same money in four places, /metrics, the overview page, the monthly report and the
/// shards, on random estates (`OneTruthEstate`): every figure agrees with the others digit
/// for digit, and with sums the test makes itself from the generated rows.
@Suite("One truth", .serialized)
struct OneTruthPropertyTests {
    static let seeds: [UInt64] = [1, 2, 3, 5, 8, 13, 21, 34]

    /// What one exporter (or shard) serves after a first sync of the estate.
    struct Served {
        var metrics: ParsedExposition
        var overview: String
        var report: String
    }

    static func serve(_ estate: OneTruthEstate, shard: String?) async throws -> Served {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("truth-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await estate.write(to: directory)
        let bank = try LoopbackServer()
        let router = Router()
        let xml = estate.bankXML
        router.get("/scripts/XML_daily.asp") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: xml)))
        }
        try await bank.start(router)
        defer { Task { await bank.stop() } }
        let config = try ConfigLoader.parse(estate.config(directory: directory, bank: bank.port, shard: shard), file: "t.yaml", environment: [:])
        let store = try Store(path: config.storage.path)
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test"))
        engine.clock = { OneTruthEstate.now }
        await engine.restore(evaluate: false)
        let failed = await engine.syncAllOnce()
        #expect(failed.isEmpty, "seed \(estate.seed): \(failed)")
        let report = try await MonthlyReport.build(month: try #require(ReportMonth("2026-11")), config: engine.config, store: store,
                                                   evaluation: await engine.estate.currentEvaluation, now: OneTruthEstate.now)
        let served = Served(metrics: ParsedExposition(String(buffer: engine.estate.exposition.rendered.body)),
                            overview: String(buffer: await engine.estate.overviewPage), report: report.render(.csv))
        try store.close()
        await bank.stop()
        return served
    }

    static func decimal(_ sample: ParsedExposition.Sample) -> Decimal { Decimal(string: sample.text)! }

    /// Per key, the exact sum of the family's series as written.
    static func sums(_ metrics: ParsedExposition, _ family: String, by key: ([String: String]) -> String) -> [String: Decimal] {
        metrics.values(family).reduce(into: [:]) { $0[key($1.labels), default: 0] += decimal($1) }
    }

    /// `section,key,…,amount` rows of the report's CSV: key|currency → amount.
    static func section(_ csv: String, _ name: String) -> [String: Decimal] {
        var rows: [String: Decimal] = [:]
        var columns: [String] = []
        for line in csv.split(separator: "\n") {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if cells.first == "section" { columns = cells; continue }
            guard cells.first == name, let amount = columns.firstIndex(of: "amount"), let currency = columns.firstIndex(of: "currency") else { continue }
            rows["\(cells[1])|\(cells[currency])"] = Decimal(string: cells[amount])
        }
        return rows
    }

    @Test("each source's month-to-date series add up, per currency, to its bill rounded once", arguments: seeds)
    func sourcesAddUpToTheirBills(seed: UInt64) async throws {
        let estate = OneTruthEstate(seed: seed)
        let served = try await Self.serve(estate, shard: nil)
        let exported = Self.sums(served.metrics, "infrazen_cost_month_to_date") { "\($0["source"]!)|\($0["currency"]!)" }
        var expected: [String: Decimal] = [:]
        for (source, bill) in estate.bills { for (currency, amount) in bill { expected["\(source)|\(currency)"] = OneTruthEstate.cents(amount) } }
        #expect(exported == expected, "seed \(seed)")
    }

    @Test("the report of the running month shows /metrics' totals, sources and tenants digit for digit", arguments: seeds)
    func reportIsMetrics(seed: UInt64) async throws {
        let estate = OneTruthEstate(seed: seed)
        let served = try await Self.serve(estate, shard: nil)
        let metrics = served.metrics
        let totals = Self.sums(metrics, "infrazen_cost_month_to_date") { "total|\($0["currency"]!)" }
        #expect(Self.section(served.report, "total") == totals, "seed \(seed)")
        #expect(Self.section(served.report, "source") == Self.sums(metrics, "infrazen_cost_month_to_date") { "\($0["source"]!)|\($0["currency"]!)" })
        var tenants = Self.sums(metrics, "infrazen_tenant_cost_month_to_date") { "\($0["tenant"]!)|\($0["currency"]!)" }
        for (key, amount) in Self.sums(metrics, "infrazen_unallocated_cost_month_to_date", by: { "(unallocated)|\($0["currency"]!)" }) {
            tenants[key] = amount
        }
        #expect(Self.section(served.report, "tenant").filter { $0.value != 0 } == tenants.filter { $0.value != 0 }, "seed \(seed)")
        // Tenants with the unallocated rest are the same whole as the sources.
        var allocated: [String: Decimal] = [:]
        for (key, amount) in tenants { allocated["total|" + key.split(separator: "|").last!, default: 0] += amount }
        #expect(allocated.filter { $0.value != 0 } == totals.filter { $0.value != 0 }, "seed \(seed)")
    }

    @Test("tenants' month to date is each day's billed cost split by that day's usage, within the rounding", arguments: seeds)
    func tenantsFollowDailyUsage(seed: UInt64) async throws {
        let estate = OneTruthEstate(seed: seed)
        let served = try await Self.serve(estate, shard: nil)
        let exported = Self.sums(served.metrics, "infrazen_tenant_cost_month_to_date") { "\($0["tenant"]!)|\($0["currency"]!)" }
        // Each tenant is rounded to the estate's whole, which is the sum of the sources' bills
        // rounded once: at most a cent, plus half a cent per source, from its exact share.
        let tolerance = Decimal(string: "0.01")! + Decimal(estate.sourceNames.count) * Decimal(string: "0.005")!
        for (tenant, amounts) in estate.tenantsExact {
            for (currency, exact) in amounts {
                let got = exported["\(tenant)|\(currency)"] ?? 0
                #expect(abs(got - exact) <= tolerance, "seed \(seed) \(tenant) \(currency): \(got) against \(exact)")
            }
        }
    }

    @Test("the overview page shows the report's month to date and the tenants' figures", arguments: seeds)
    func overviewIsMetrics(seed: UInt64) async throws {
        let estate = OneTruthEstate(seed: seed)
        let served = try await Self.serve(estate, shard: nil)
        for (key, amount) in Self.section(served.report, "total") {
            let currency = key.split(separator: "|").last!
            let row = "<tr><td>\(currency)</td><td class=\"n\">"
            let cells = served.overview.components(separatedBy: row).dropFirst().first?.components(separatedBy: "</td>") ?? []
            #expect(cells.count > 2 && cells[1] == "<td class=\"n\">\(MonthlyReport.money(amount))", "seed \(seed) \(currency): \(cells.prefix(2))")
        }
        // A tenant billed this month whose resources are all gone has no run rate and no row.
        var rowsChecked = 0
        for sample in served.metrics.values("infrazen_tenant_cost_month_to_date") {
            let tenant = sample.labels["tenant"]!
            let run = served.metrics.value("infrazen_tenant_cost_monthly", ["tenant": tenant, "currency": sample.labels["currency"]!])
            guard let run else { continue }
            rowsChecked += 1
            let row = "<tr><td>\(tenant)</td><td class=\"n\">\(MonthlyReport.money(Decimal(run)))</td><td class=\"n\">\(MonthlyReport.money(Self.decimal(sample)))</td>"
            #expect(served.overview.contains(row), "seed \(seed) \(tenant)")
        }
        #expect(rowsChecked > 0, "seed \(seed): no tenant row to compare")
    }

    @Test("two shards add up to one exporter for every per-source family, series by series", arguments: seeds)
    func shardsAddUp(seed: UInt64) async throws {
        let estate = OneTruthEstate(seed: seed)
        let whole = try await Self.serve(estate, shard: nil)
        let zero = try await Self.serve(estate, shard: "0/2")
        let one = try await Self.serve(estate, shard: "1/2")
        for family in ["infrazen_cost_month_to_date", "infrazen_infrastructure_cost_monthly", "infrazen_waste_cost_monthly",
                       "infrazen_potential_savings_monthly", "infrazen_item_cost_monthly"] {
            func series(_ labels: [String: String]) -> String { labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
            let expected = Self.sums(whole.metrics, family, by: series)
            var added = Self.sums(zero.metrics, family, by: series)
            added.merge(Self.sums(one.metrics, family, by: series), uniquingKeysWith: +)
            #expect(added == expected, "seed \(seed) \(family)")
        }
    }
}
