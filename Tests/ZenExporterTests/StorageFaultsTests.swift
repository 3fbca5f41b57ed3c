import CostModel
import Foundation
import GRDB
import Logging
@testable import ProviderDemo
@testable import SourceKit
@testable import Storage
import Synchronization
import Testing
@testable import ZenExporter

/// Faults around the database, on real SQLite files: a full disk, a clock that jumps ahead,
/// and a database that stays bounded as sources and resources come and go.
@Suite("Storage faults", .serialized)
struct StorageFaultsTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    static let moscow = TimeZone(identifier: "Europe/Moscow")!
    /// The demo estate's run rate, by hand from its eight resources (docs/benchmarks.md).
    static let demoMonthly = 117_150.0
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zen-faults-\(UUID().uuidString)")
    var path: String { directory.appendingPathComponent("infrazen.db").path }

    /// A wall clock the test moves.
    final class TestClock: Sendable {
        private let time: Mutex<Date>
        init(_ time: Date) { self.time = Mutex(time) }
        func set(_ date: Date) { time.withLock { $0 = date } }
        func now() -> Date { time.withLock { $0 } }
    }

    func engine(_ yaml: String, store: Store, clock: TestClock, replacing name: String? = nil, with source: (any Source)? = nil) throws -> SyncEngine {
        var engine = SyncEngine(config: try ConfigLoader.parse(yaml, file: "t.yaml", environment: [:]), store: store, logger: Logger(label: "t"))
        engine.clock = { clock.now() }
        engine.retryBase = .milliseconds(1)
        if let name, let source { engine = engine.replacingSource(name, with: source) }
        return engine
    }

    func exposition(_ engine: SyncEngine) -> ParsedExposition {
        ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
    }

    func demo(at time: Date = Self.now, historyDays: Int = 90, scale: Int = 1) -> SourceSnapshot {
        DemoEstate.snapshot(now: time, historyDays: historyDays, timeZone: Self.moscow, scale: scale)
    }

    /// Month-to-date of November 2026 summed from the source's own daily rows (not through the
    /// store or the cost model).
    func novemberToDate(_ snapshot: SourceSnapshot, through last: LocalDay = LocalDay(year: 2026, month: 11, day: 20)) -> Double {
        let first = LocalDay(year: 2026, month: 11, day: 1)
        let sum = snapshot.dailyCosts.filter { $0.day >= first && $0.day <= last }.map(\.cost.amount).reduce(0, +)
        return NSDecimalNumber(decimal: sum).doubleValue
    }

    func scalar(_ sql: String, _ arguments: StatementArguments = []) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { try Int.fetchOne($0, sql: sql, arguments: arguments) ?? -1 }
    }

    /// The resource of each cost line stored for `source` (`cost_line_sets`).
    func lineResources(_ source: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { try Store.storedLines($0, source: source).map(\.line.resourceID) }
    }

    /// How many resources the source's stored set holds (0 without one).
    func storedResources(_ source: String) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let packed = try queue.read { try Data.fetchOne($0, sql: "SELECT resources FROM resource_sets WHERE source = ?", arguments: [source]) }
        return try packed.map(ResourceSet.unpack)?.count ?? 0
    }

    // MARK: Disk full

    @Test("a full disk fails the sync as disk_full; the last good figures stay served; the next sync after space returns lands")
    func diskFull() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store(path: path)
        defer { try? store.close() }
        // The second snapshot is fifty copies of the estate: far more rows than the file has room for.
        let clock = TestClock(Self.now)
        let engine = try engine("sources:\n  - {name: demo, type: demo, retries: 2}\n", store: store, clock: clock, replacing: "demo",
                                with: ScriptedSource([.succeed(demo()), .succeed(demo(scale: 50))]))
        #expect(await engine.syncAllOnce() == [])
        let before = exposition(engine)
        #expect(before.sum("infrazen_infrastructure_cost_monthly") == Self.demoMonthly)
        let monthToDate = novemberToDate(demo())
        #expect(abs(before.sum("infrazen_cost_month_to_date") - monthToDate) < 0.005)

        try await store.limitPages(1)
        clock.set(Self.now.addingTimeInterval(600))
        #expect(await engine.syncAllOnce() == ["demo"])
        let during = exposition(engine)
        #expect(during.sum("infrazen_infrastructure_cost_monthly") == Self.demoMonthly)
        #expect(abs(during.sum("infrazen_cost_month_to_date") - monthToDate) < 0.005)
        for name in ["infrazen_resource_cost_per_hour", "infrazen_resource_info", "infrazen_cost_month_to_date"] {
            #expect(during.values(name).count == before.values(name).count, "\(name)")
            #expect(during.sum(name) == before.sum(name), "\(name)")
        }
        // One attempt: retrying cannot make room.
        #expect(during.value("infrazen_sync_errors_total", ["source": "demo", "endpoint": "storage", "reason": "disk_full"]) == 1)
        #expect(during.value("infrazen_source_up", ["source": "demo"]) == 0)
        #expect(during.value("infrazen_sync_last_success_timestamp_seconds", ["source": "demo"]) == Self.now.timeIntervalSince1970)

        try await store.limitPages(nil)
        clock.set(Self.now.addingTimeInterval(1200))
        #expect(await engine.syncAllOnce() == [])
        let after = exposition(engine)
        #expect(after.sum("infrazen_infrastructure_cost_monthly") == 50 * Self.demoMonthly)
        #expect(after.value("infrazen_source_up", ["source": "demo"]) == 1)
        #expect(after.value("infrazen_sync_errors_total", ["source": "demo", "endpoint": "storage", "reason": "disk_full"]) == 1)
        #expect(after.value("infrazen_sync_last_success_timestamp_seconds", ["source": "demo"]) == Self.now.timeIntervalSince1970 + 1200)
    }

    // MARK: Clock

    @Test("a clock two years ahead for one sync, then back: no day inside retention is pruned, from memory or from the file")
    func forwardClockJump() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let yaml = "sources:\n  - {name: demo, type: demo}\n"
        // A provider bills by its own dates: after the first sync it restates the last week,
        // whatever the exporter's clock says.
        let week = demo(historyDays: 7)
        let clock = TestClock(Self.now)
        let store = try Store(path: path)
        let running = try engine(yaml, store: store, clock: clock, replacing: "demo",
                                 with: ScriptedSource([.succeed(demo()), .succeed(week)]))
        await running.syncAllOnce()
        // 90 days of history and today; per resource, resource_retention_days (62) back from today.
        let days = try scalar("SELECT COUNT(DISTINCT day) FROM scope_daily")
        let resourceDays = try scalar("SELECT COUNT(DISTINCT day) FROM resource_daily")
        #expect(days == 91 && resourceDays == 63)
        let monthToDate = novemberToDate(demo())
        #expect(abs(exposition(running).sum("infrazen_cost_month_to_date") - monthToDate) < 0.005)

        clock.set(Self.now.addingTimeInterval(2 * 365 * 86_400))
        #expect(await running.syncAllOnce() == [])
        clock.set(Self.now.addingTimeInterval(3600))
        #expect(await running.syncAllOnce() == [])
        #expect(abs(exposition(running).sum("infrazen_cost_month_to_date") - monthToDate) < 0.005)
        #expect(try scalar("SELECT COUNT(DISTINCT day) FROM scope_daily") == days)
        #expect(try scalar("SELECT COUNT(DISTINCT day) FROM resource_daily") == resourceDays)
        #expect(try await store.snapshotCount(source: "demo") == 3)
        try store.close()

        let reopened = try Store(path: path)
        defer { try? reopened.close() }
        let restarted = try engine(yaml, store: reopened, clock: clock, replacing: "demo", with: ScriptedSource([.hang]))
        await restarted.restore()
        #expect(abs(exposition(restarted).sum("infrazen_cost_month_to_date") - monthToDate) < 0.005)
    }

    @Test("a last sync stamped in the future (the clock was ahead) delays the first sync after a start by one interval at most")
    func firstSyncAfterClockJump() {
        let interval = 3600.0
        #expect(SyncEngine.firstSyncDelay(lastSuccess: Self.now.addingTimeInterval(2 * 365 * 86_400), now: Self.now,
                                          interval: interval, jitter: 0) == interval)
        #expect(SyncEngine.firstSyncDelay(lastSuccess: Self.now.addingTimeInterval(-1000), now: Self.now, interval: interval, jitter: 0.5) == 4400)
        #expect(SyncEngine.firstSyncDelay(lastSuccess: Self.now.addingTimeInterval(-7200), now: Self.now, interval: interval, jitter: 0) == 0)
    }

    // MARK: Bounded

    static let tables = ["sync_snapshots", "resource_sets", "cost_line_sets", "resource_daily", "scope_daily"]

    func rows(_ source: String) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for table in Self.tables { counts[table] = try scalar("SELECT COUNT(*) FROM \(table) WHERE source = ?", [source]) }
        return counts
    }

    /// Pages holding data (`page_count` − `freelist_count`), the file's pages, and the free ones.
    func pages() throws -> (live: Int, file: Int, free: Int) {
        let file = try scalar("PRAGMA page_count"), free = try scalar("PRAGMA freelist_count")
        return (file - free, file, free)
    }

    @Test("a source removed from the config (removed_source_days: 0) is deleted at the next start: its rows and series go, the file shrinks, the other source is untouched")
    func removedSourceDeleted() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = TestClock(Self.now)
        let first = try Store(path: path)
        let both = try engine("""
            sources:
              - {name: demo, type: demo, scale: 50}
              - {name: gone, type: demo, scale: 50}
            """, store: first, clock: clock)
        #expect(await both.syncAllOnce() == [])
        let served = exposition(both)
        try first.close()
        let kept = try rows("demo"), removed = try rows("gone")
        #expect(try storedResources("gone") == 350 && removed["resource_sets"] == 1 && removed["scope_daily"] ?? 0 > 0)
        let before = try pages()
        let sizeBefore = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0

        let second = try Store(path: path)
        let one = try engine("""
            storage: {removed_source_days: 0}
            sources:
              - {name: demo, type: demo, scale: 50}
            """, store: second, clock: clock)
        await one.restore()
        let restored = exposition(one)
        try second.close()

        #expect(try rows("gone").values.allSatisfy { $0 == 0 })
        #expect(try rows("demo") == kept)
        let after = try pages()
        // Two equal estates: about half the data goes. The pages go back to the file system.
        #expect(after.live < before.live * 3 / 4, "\(before) → \(after)")
        #expect(after.free == 0 && after.file < before.file * 3 / 4, "\(before) → \(after)")
        let sizeAfter = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        #expect(sizeAfter < sizeBefore * 3 / 4, "\(sizeBefore) → \(sizeAfter)")
        #expect(restored.samples.filter { $0.labels["source"] == "gone" }.isEmpty)
        #expect(restored.sum("infrazen_infrastructure_cost_monthly") == 50 * Self.demoMonthly)
        #expect(served.sum("infrazen_infrastructure_cost_monthly") == 100 * Self.demoMonthly)
        #expect(abs(restored.sum("infrazen_cost_month_to_date") - novemberToDate(demo(scale: 50))) < 0.01)
    }

    @Test("a removed source's data is kept for removed_source_days (default 30) after its last sync, counted by the other sources' billed days")
    func removedSourceKeptForGrace() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = TestClock(Self.now)
        let store = try Store(path: path)
        defer { try? store.close() }
        let both = try engine("sources:\n  - {name: demo, type: demo}\n  - {name: gone, type: demo}\n", store: store, clock: clock)
        await both.syncAllOnce()
        let removed = try rows("gone")

        // A clock 40 days ahead with no newer bill is not 40 days of absence.
        clock.set(Self.now.addingTimeInterval(40 * 86_400))
        let one = try engine("sources:\n  - {name: demo, type: demo}\n", store: store, clock: clock)
        await one.restore()
        #expect(try rows("gone") == removed)

        clock.set(Self.now.addingTimeInterval(29 * 86_400))
        await one.syncAllOnce()
        await one.pruneRemovedSources()
        #expect(try rows("gone") == removed)

        clock.set(Self.now.addingTimeInterval(31 * 86_400))
        await one.syncAllOnce()
        await one.pruneRemovedSources()
        #expect(try rows("gone").values.allSatisfy { $0 == 0 })
        #expect(try storedResources("demo") == 7 && storedResources("gone") == 0)
    }

    @Test("a usage query removed from the config loses its values and daily totals once its last poll is removed_source_days old")
    func removedUsageQueryPruned() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store(path: path)
        defer { try? store.close() }
        let day = LocalDay(Self.now, in: TimeZone(identifier: "UTC") ?? .current)
        // Two tenants' values, one daily total and the two tenants' values of the day: five rows a query.
        for (dimension, daysAgo) in [("sites", 40.0), ("orders", 10.0), ("users", 1.0)] {
            try await store.saveUsage(["t-1": 3, "t-2": 4], source: "app", dimension: dimension,
                                      fetchedAt: Self.now.addingTimeInterval(-daysAgo * 86_400), day: day, retentionDays: 90)
        }
        func rows(_ dimension: String) throws -> Int {
            let sql = "SELECT " + ["usage_values", "usage_daily", "usage_tenant_daily"]
                .map { "(SELECT COUNT(*) FROM \($0) WHERE source = 'app' AND dimension = '\(dimension)')" }.joined(separator: " + ")
            let result = try runTool("sqlite3", [path, sql])
            return Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let configured: Set = [UsageReference(usage: "app", dimension: "users")]
        // Polled 40 days ago: past 30 days of grace. 10 days ago: within it.
        let first = try await store.pruneRemovedUsage(keeping: configured, now: Self.now, graceDays: 30)
        #expect(first == [UsageReference(usage: "app", dimension: "sites"): 5])
        #expect(try [rows("sites"), rows("orders"), rows("users")] == [0, 5, 5])
        // removed_source_days: 0 deletes a removed query's rows at once; a configured one keeps its own.
        let second = try await store.pruneRemovedUsage(keeping: configured, now: Self.now, graceDays: 0)
        #expect(second == [UsageReference(usage: "app", dimension: "orders"): 5])
        #expect(try [rows("sites"), rows("orders"), rows("users")] == [0, 0, 5])
    }

    @Test("a usage poll under a clock jumped a year ahead keeps the daily totals still within retention of the newest billed day")
    func usageHistorySurvivesClockJump() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store(path: path)
        defer { try? store.close() }
        let utc = TimeZone(identifier: "UTC") ?? .current
        let today = LocalDay(Self.now, in: utc)
        // Billing up to today; usage polled on each of the last 10 days.
        let key = ScopeKey(provider: "demo", account: "a", service: "s", category: .compute, tenant: "", team: "", currency: .rub)
        try await store.replaceScopeHistory(source: "demo", days: [today: [key: 1_000_000]], from: today, through: today)
        for back in 0..<10 {
            let day = today.adding(days: -back)
            try await store.saveUsage(["t-1": Double(back)], source: "app", dimension: "sites",
                                      fetchedAt: day.start(in: utc).addingTimeInterval(3600), day: day, retentionDays: 90)
        }
        func days() throws -> Int {
            let result = try runTool("sqlite3", [path, "SELECT COUNT(*) FROM usage_daily WHERE source = 'app' AND dimension = 'sites'"])
            return Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        #expect(try days() == 10)
        // 400 days ahead: counted from the clock, all ten days would be past 90 days of retention.
        let jumped = Self.now.addingTimeInterval(400 * 86_400)
        try await store.saveUsage(["t-1": 1], source: "app", dimension: "sites", fetchedAt: jumped,
                                  day: LocalDay(jumped, in: utc), retentionDays: 90)
        #expect(try days() == 11)
    }

    @Test("unreadable stored cost lines do not stop the source: its per-resource days start again from the next sync, its month-to-date stays, and the log says so")
    func corruptCostLinesRecovered() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let recorder = LogRecorder()
        let store = try Store(path: path, logger: Logger(label: "t") { _ in recorder })
        defer { try? store.close() }
        let week = demo(historyDays: 7)
        let running = try engine("sources:\n  - {name: demo, type: demo}\n", store: store, clock: TestClock(Self.now),
                                 replacing: "demo", with: ScriptedSource([.succeed(demo()), .succeed(week)]))
        #expect(await running.syncAllOnce() == [])
        #expect(try await store.dailyCosts(source: "demo", from: LocalDay(year: 2026, month: 8, day: 1)).count > week.dailyCosts.count)
        // Version 1, then a count of seven shared strings in a blob of two bytes.
        let queue = try DatabaseQueue(path: path)
        try await queue.write { try $0.execute(sql: "UPDATE cost_line_sets SET lines = X'0107' WHERE source = 'demo'") }
        try queue.close()

        #expect(await running.syncAllOnce() == [])
        #expect(recorder.text.contains("the stored cost lines of a source cannot be read"), "\(recorder.text)")
        #expect(recorder.text.contains("error=packed cost lines: count 7 with 0 bytes left at byte 1"), "\(recorder.text)")
        #expect(recorder.text.contains("source=demo"))
        // The per-resource days are the second sync's week alone, read back through the new lines.
        let days = try await store.dailyCosts(source: "demo", from: LocalDay(year: 2026, month: 8, day: 1))
        #expect(Set(days.map(\.day)) == Set(week.dailyCosts.map(\.day)))
        #expect(days.map(\.cost.amount).reduce(0, +) == week.dailyCosts.map(\.cost.amount).reduce(0, +))
        // Month-to-date comes from the per-scope history, which stays whole.
        #expect(abs(exposition(running).sum("infrazen_cost_month_to_date") - novemberToDate(demo())) < 0.01)
    }

    @Test("a deleted resource leaves the stored set at once, and its cost lines once its days are past resource_retention_days; current ones keep theirs")
    func longGoneResourcePruned() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func without(_ id: String, _ snapshot: SourceSnapshot) -> SourceSnapshot {
            var smaller = snapshot
            smaller.billing.removeAll { $0.resourceID == id }
            smaller.inventory.removeAll { $0.resourceID == id }
            smaller.dailyCosts = smaller.dailyCosts.filter { $0.resourceID != id }
            return smaller
        }
        let day = 86_400.0
        let later = [1.0, 20, 40].map { Self.now.addingTimeInterval($0 * day) }
        let clock = TestClock(Self.now)
        let store = try Store(path: path)
        defer { try? store.close() }
        let running = try engine("storage: {resource_retention_days: 35}\nsources:\n  - {name: demo, type: demo}\n", store: store, clock: clock,
                                replacing: "demo", with: ScriptedSource([.succeed(demo())] + later.map { ScriptedSource.Step.succeed(without("yc-static", demo(at: $0, historyDays: 7))) }))
        await running.syncAllOnce()
        let lines = try lineResources("demo").filter { $0 != "yc-static" }.count
        #expect(try lineResources("demo").contains("yc-static"))
        for time in later.dropLast() {
            clock.set(time)
            await running.syncAllOnce()
        }
        // Deleted on day 1; its last billed day is day 0. Day 20 is within 35 days of both.
        let stored = try #require(try await store.latestSnapshot(source: "demo")).resources.map(\.id)
        #expect(!stored.contains("yc-static") && stored.count == 6)
        #expect(try scalar("SELECT COUNT(*) FROM resource_states WHERE resource_id = 'yc-static' AND action = 'deleted'") == 1)
        #expect(try lineResources("demo").contains("yc-static"))

        clock.set(later[2])
        await running.syncAllOnce()
        #expect(try !lineResources("demo").contains("yc-static"))
        #expect(try await store.latestSnapshot(source: "demo")?.resources.count == 6)
        #expect(try lineResources("demo").count == lines)
    }

    @Test("a database made before incremental vacuum is converted once at open, keeping its rows; a new one starts incremental")
    func incrementalVacuumMigration() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let old = try DatabaseQueue(path: path)
        try await old.write { db in
            try db.execute(sql: "CREATE TABLE legacy_notes (note TEXT NOT NULL); INSERT INTO legacy_notes VALUES ('kept')")
        }
        try old.close()
        #expect(try scalar("PRAGMA auto_vacuum") == 0)

        try Store(path: path).close()
        #expect(try scalar("PRAGMA auto_vacuum") == Store.incrementalVacuum)
        #expect(try scalar("SELECT COUNT(*) FROM legacy_notes WHERE note = 'kept'") == 1)

        let fresh = directory.appendingPathComponent("fresh.db").path
        try Store(path: fresh).close()
        let queue = try DatabaseQueue(path: fresh)
        let mode = try await queue.read { try Int.fetchOne($0, sql: "PRAGMA auto_vacuum") }
        #expect(mode == Store.incrementalVacuum)
        try queue.close()
    }
}
