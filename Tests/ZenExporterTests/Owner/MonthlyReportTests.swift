import CostModel
import Foundation
import Logging
import NIOCore
@testable import Storage
import Testing
@testable import ZenExporter

/// `zen-exporter report` on a real SQLite database filled by a real sync of the shipped demo
/// config, checked against sums the sqlite3 tool computes from the stored rows.
@Suite("Monthly report", .serialized)
struct MonthlyReportTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!

    /// The shipped config with its database and application database in `directory`, synced
    /// once at `now`; returns the config and the exposition the sync published.
    static func syncedDatabase(in directory: URL) async throws -> (config: ExporterConfig, metrics: ParsedExposition) {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../exporter.yaml").path
        var config = try ConfigLoader.load(path: path, environment: [:])
        config.storage.path = directory.appendingPathComponent("infrazen.db").path
        for index in config.usage.indices { config.usage[index].path = directory.appendingPathComponent("demo-app.db").path }
        let store = try Store(path: config.storage.path)
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test"))
        engine.clock = { now }
        let failed = await engine.syncAllOnce()
        try #require(failed.isEmpty)
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        try store.close()
        return (config, metrics)
    }

    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Days since 1970-01-01 of a calendar date: how `scope_daily.day` is stored (docs/storage.md).
    static func ordinal(_ year: Int, _ month: Int, _ day: Int) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = calendar.date(from: DateComponents(year: year, month: month, day: day))!
        return Int(date.timeIntervalSince1970 / 86_400)
    }

    /// `key → kopecks` of a `SELECT key, SUM(micros) … GROUP BY key` run by the sqlite3 tool.
    static func sums(_ database: String, _ sql: String) throws -> [String: Decimal] {
        let result = try runTool("sqlite3", ["-readonly", database, sql])
        try #require(result.status == 0, "\(result.output)")
        var sums: [String: Decimal] = [:]
        for line in result.output.split(separator: "\n") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            sums[cells[0]] = try #require(Decimal(string: cells[1])) / 1_000_000
        }
        return sums
    }

    /// The rows of one CSV section: first cell after `section`, and the `amount` column.
    static func section(_ csv: String, _ name: String) -> [String: Decimal] {
        var rows: [String: Decimal] = [:]
        var amountColumn = -1
        for line in csv.split(separator: "\n") {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if cells.first == "section" { amountColumn = cells.firstIndex(of: "amount") ?? -1; continue }
            guard cells.first == name, amountColumn > 0 else { continue }
            rows[cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))] = Decimal(string: cells[amountColumn])
        }
        return rows
    }

    static func report(_ month: String, _ format: MonthlyReport.Format, _ config: ExporterConfig) async throws -> String {
        try await ReportCommand.report(try #require(ReportMonth(month)), format: format, config: config, now: now, logger: Logger(label: "test"))
    }

    @Test("October's totals by provider, service and category are the stored rows' sums, to the kopeck")
    func previousMonthMatchesStoredRows() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (config, _) = try await Self.syncedDatabase(in: directory)
        let csv = try await Self.report("2026-10", .csv, config)
        let range = "day BETWEEN \(Self.ordinal(2026, 10, 1)) AND \(Self.ordinal(2026, 10, 31))"
        let database = config.storage.path
        let total = try Self.sums(database, "SELECT 'total', SUM(micros) FROM scope_daily WHERE \(range)")
        #expect(Self.section(csv, "total") == total.mapValues { $0.rounded(scale: 2) })
        for (section, column) in [("provider", "provider"), ("service", "service"), ("category", "category")] {
            let expected = try Self.sums(database, "SELECT \(column), SUM(micros) FROM scope_daily WHERE \(range) GROUP BY 1")
            #expect(!expected.isEmpty)
            let reported = Self.section(csv, section)
            #expect(Set(reported.keys) == Set(expected.keys), "\(section)")
            // Each breakdown is rounded to the total: a part is within a cent of its exact sum,
            // and the parts add up to the total digit for digit.
            for (key, amount) in expected { #expect(abs((reported[key] ?? 0) - amount) < Decimal(string: "0.01")!, "\(section) \(key)") }
            #expect(reported.values.reduce(0, +) == total["total"]?.rounded(scale: 2), "\(section)")
        }
        // The demo bills every day of October: no day is missing.
        #expect(csv.contains("caveats,demo,days without billed rows,none"))
    }

    /// The demo synced once, on 20 November: its usage is stored for that day only, so every
    /// October day is weighed with it (the report says so). By hand from the stored rows:
    /// each tenant's tagged cost, plus untagged compute by VPS count and untagged storage by
    /// storage bytes; the rest stays unallocated.
    @Test("October's tenants are allocated as the live tenants are: tags and rules, then compute and storage by the usage query")
    func previousMonthTenantsLikeLive() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (config, metrics) = try await Self.syncedDatabase(in: directory)
        let csv = try await Self.report("2026-10", .csv, config)
        let database = config.storage.path
        let range = "day BETWEEN \(Self.ordinal(2026, 10, 1)) AND \(Self.ordinal(2026, 10, 31))"
        var expected = try Self.sums(database, "SELECT tenant, SUM(micros) FROM scope_daily WHERE \(range) AND tenant <> '' AND tenant NOT LIKE 'pool:%' GROUP BY 1")
        let rest = try Self.sums(database, "SELECT category, SUM(micros) FROM scope_daily WHERE \(range) AND tenant = '' GROUP BY 1")
        // The CHOM server pool (exporter.yaml): each tenant's sites of the 64 it is sized for, the rest idle.
        let pool = try Self.sums(database, "SELECT 'pool', SUM(micros) FROM scope_daily WHERE \(range) AND tenant = 'pool:chom-shared'")["pool"] ?? 0
        #expect(pool > 0)
        let sites = try Self.sums(database, "SELECT tenant, value * 1000000 FROM usage_tenant_daily WHERE dimension = 'sites'")
        for (tenant, weight) in sites { expected[tenant, default: 0] += pool * weight / 64 }
        expected["__idle__"] = pool * (64 - sites.values.reduce(0, +)) / 64
        for (category, dimension) in [("compute", "vps_count"), ("storage", "storage_bytes")] {
            let weights = try Self.sums(database, "SELECT tenant, value * 1000000 FROM usage_tenant_daily WHERE dimension = '\(dimension)'")
            let all = weights.values.reduce(0, +)
            for (tenant, weight) in weights where weight > 0 { expected[tenant, default: 0] += (rest[category] ?? 0) * weight / all }
        }
        let unallocated = rest.filter { $0.key != "compute" && $0.key != "storage" }.values.reduce(0, +)
        let reported = Self.section(csv, "tenant")
        #expect(Set(reported.keys).subtracting([MonthlyReport.unallocated]) == Set(expected.keys))
        for (tenant, amount) in expected { #expect(abs((reported[tenant] ?? 0) - amount) < Decimal(string: "0.02")!, "\(tenant)") }
        #expect(abs((reported[MonthlyReport.unallocated] ?? 0) - unallocated) < Decimal(string: "0.02")!)
        // The CHOM tenants the overview shows are the report's, and what stays unallocated is
        // no larger a share than the live allocation leaves.
        let live = Set(metrics.values("infrazen_tenant_cost_monthly").compactMap { $0.labels["tenant"] })
        #expect(live == Set(reported.keys).subtracting([MonthlyReport.unallocated]))
        let liveShare = metrics.sum("infrazen_unallocated_cost_monthly") / metrics.sum("infrazen_infrastructure_cost_monthly")
        let total = try #require(Self.section(csv, "total")["total"])
        let share = NSDecimalNumber(decimal: (reported[MonthlyReport.unallocated] ?? 0) / total).doubleValue
        #expect(share <= liveShare + 1e-9, "report \(share), live \(liveShare)")
        #expect(csv.contains("caveats,(all),usage weighed from another day,\"chom-app/vps_count: 31 days without a stored poll weighed with 2026-11-20's values\""),
                "the report says whose usage weighed October")
    }

    @Test("the running month's total is the stored rows' sum and the exported month-to-date's")
    func currentMonthAgreesWithMetrics() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (config, metrics) = try await Self.syncedDatabase(in: directory)
        let csv = try await Self.report("2026-11", .csv, config)
        let stored = try Self.sums(config.storage.path, "SELECT 'total', SUM(micros) FROM scope_daily WHERE day >= \(Self.ordinal(2026, 11, 1))")
        let reported = try #require(Self.section(csv, "total")["total"])
        #expect(reported == stored["total"]?.rounded(scale: 2))
        let exported = metrics.sum("infrazen_cost_month_to_date")
        #expect(abs(exported - NSDecimalNumber(decimal: reported).doubleValue) < 0.01 * Double(metrics.values("infrazen_cost_month_to_date").count))
        // Budgets: the total budget's spend is the month's total.
        #expect(csv.contains("budget,total,monthly,RUB,150000.00,\(String(format: "%.2f", NSDecimalNumber(decimal: reported).doubleValue)),"))
    }

    @Test("the Markdown report has every section, the health reasons and the recommendations with savings")
    func markdownSections() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (config, metrics) = try await Self.syncedDatabase(in: directory)
        let markdown = try await Self.report("2026-10", .markdown, config)
        for heading in ["## Total", "## By provider", "## By service", "## By category", "## By tenant", "## Budget against actual",
                        "## Top movers against 2026-09", "## Anomalies of the month", "## Recommendations (as of 2026-11-20)",
                        "## Health (as of 2026-11-20)", "## Data quality"] {
            #expect(markdown.contains("\n\(heading)\n"), "\(heading) missing")
        }
        // The health score shown is the exported one, with each exported component's reason.
        let score = try #require(metrics.value("infrazen_health_score", [:]))
        #expect(markdown.contains("| score | \(String(format: "%.1f", score)) |"))
        for component in metrics.values("infrazen_health_component") {
            #expect(markdown.contains("| \(component.labels["component"] ?? "") | \(String(format: "%.2f", component.value)) | "))
        }
        // Each exported recommendation appears by its resource's name, with its saving, and its ID last.
        for saving in metrics.values("infrazen_recommendation_savings_monthly") {
            let labels = saving.labels
            let amount = String(format: "%.2f", saving.value)
            let line = markdown.split(separator: "\n").first { $0.hasPrefix("| \(labels["kind"] ?? "") | \(labels["resource_name"] ?? "") | ") }
            #expect(line?.contains("| \(labels["source"] ?? "") | \(amount) |") == true, "\(labels)")
            #expect(line?.hasSuffix("| \(labels["resource_id"] ?? "") |") == true, "\(labels)")
        }
    }

    @Test("a month before any history is empty, not an error; a month not begun is refused")
    func emptyAndFutureMonths() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (config, _) = try await Self.syncedDatabase(in: directory)
        let csv = try await Self.report("2025-01", .csv, config)
        #expect(Self.section(csv, "total").isEmpty)
        let result = try runTool(Daemon.binary.path, ["report", "--config", "/dev/null", "--month", "2031-13"])
        #expect(result.status != 0)
        #expect(result.output.contains("--month: \"2031-13\" is not a month such as 2026-10"))
    }

    /// Headless Chromium draws the HTML report; the bars' colour fills three separate bands
    /// (daily spend, services, tenants). The same page for a month without data has none.
    @Test("the HTML report draws its three charts in headless Chromium")
    func htmlChartsAreDrawn() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (config, _) = try await Self.syncedDatabase(in: directory)
        let bar = (UInt8(0x2b), UInt8(0x6c), UInt8(0xb0))
        let html = try await Self.report("2026-10", .html, config)
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href=\"http"))
        let shot = try Screenshot.take(html: html)
        #expect(shot.count(bar) > 20_000, "bar pixels: \(shot.count(bar))")
        #expect(shot.runs(of: bar).count == 3, "\(shot.runs(of: bar))")
        let empty = try Screenshot.take(html: try await Self.report("2025-01", .html, config))
        #expect(empty.count(bar) == 0)
    }
}
