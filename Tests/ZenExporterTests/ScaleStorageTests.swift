import CostModel
import Foundation
import GRDB
import Logging
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// What the v4 storage promises: history survives the migration from v3, an unchanged FOCUS
/// export is not read or stored again (also after a restart), and per-scope history follows
/// the allocation rules when they change.
@Suite("Storage at scale", .serialized)
struct ScaleStorageTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zen-scale-\(UUID().uuidString)")
    var path: String { directory.appendingPathComponent("infrazen.db").path }

    func engine(_ yaml: String, store: Store) throws -> SyncEngine {
        var engine = SyncEngine(config: try ConfigLoader.parse(yaml, file: "t.yaml", environment: [:]), store: store, logger: Logger(label: "t"))
        engine.clock = { Self.now }
        engine.retryBase = .milliseconds(1)
        return engine
    }

    func exposition(_ engine: SyncEngine) -> ParsedExposition {
        ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
    }

    func count(_ table: String) throws -> Int {
        try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM \(table)") ?? -1 }
    }

    /// The packed cost lines of every source, as stored.
    func linesBlob() throws -> [Data] {
        try DatabaseQueue(path: path).read { try Data.fetchAll($0, sql: "SELECT lines FROM cost_line_sets ORDER BY source") }
    }

    @Test("a v3 database migrates with its daily costs and resources; month-to-date is served from them after the start")
    func migrationKeepsHistory() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // The v3 schema as 0.1 wrote it, with two days of a resource and its JSON state.
        let old = try DatabaseQueue(path: path)
        try await old.write { db in
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('v1: snapshots, resources, resource states, daily costs'), ('v2: exchange rates'),
                    ('v3: usage values and their daily totals');
                CREATE TABLE sync_snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, provider TEXT NOT NULL,
                    started_at DOUBLE NOT NULL, finished_at DOUBLE NOT NULL, status TEXT NOT NULL, error TEXT,
                    created INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0,
                    unchanged INTEGER NOT NULL DEFAULT 0, extras TEXT);
                CREATE TABLE resources (source TEXT NOT NULL, resource_id TEXT NOT NULL, provider TEXT NOT NULL, name TEXT NOT NULL,
                    resource_type TEXT NOT NULL, first_seen_snapshot INTEGER NOT NULL, last_seen_snapshot INTEGER NOT NULL,
                    deleted_in_snapshot INTEGER, state TEXT, PRIMARY KEY (source, resource_id));
                CREATE TABLE resource_states (snapshot_id INTEGER NOT NULL, resource_id TEXT NOT NULL, action TEXT NOT NULL,
                    cost_changed BOOLEAN NOT NULL, status_changed BOOLEAN NOT NULL, config_changed BOOLEAN NOT NULL,
                    changed_fields TEXT NOT NULL, cost_per_hour TEXT, currency TEXT, previous_state TEXT, current_state TEXT,
                    PRIMARY KEY (snapshot_id, resource_id));
                CREATE TABLE daily_costs (source TEXT NOT NULL, day TEXT NOT NULL, provider TEXT NOT NULL, account TEXT NOT NULL,
                    service TEXT NOT NULL, category TEXT NOT NULL, resource_id TEXT NOT NULL, currency TEXT NOT NULL, amount TEXT NOT NULL,
                    PRIMARY KEY (source, day, resource_id, service, currency));
                CREATE TABLE fx_rates (currency TEXT PRIMARY KEY, rate TEXT NOT NULL, fetched_at DOUBLE NOT NULL);
                CREATE TABLE usage_values (source TEXT NOT NULL, dimension TEXT NOT NULL, tenant TEXT NOT NULL, value DOUBLE NOT NULL,
                    fetched_at DOUBLE NOT NULL, PRIMARY KEY (source, dimension, tenant));
                CREATE TABLE usage_daily (source TEXT NOT NULL, dimension TEXT NOT NULL, day TEXT NOT NULL, value DOUBLE NOT NULL,
                    PRIMARY KEY (source, dimension, day));
                INSERT INTO sync_snapshots (source, provider, started_at, finished_at, status, created, extras)
                    VALUES ('sel', 'selectel', 1795160000, 1795165200, 'ok', 1, '{}');
                INSERT INTO daily_costs VALUES ('sel', '2026-10-31', 'selectel', '1', 'Cloud Servers', 'compute', 'vm-1', 'RUB', '999.99');
                INSERT INTO daily_costs VALUES ('sel', '2026-11-01', 'selectel', '1', 'Cloud Servers', 'compute', 'vm-1', 'RUB', '1086.50');
                INSERT INTO daily_costs VALUES ('sel', '2026-11-19', 'selectel', '1', 'Cloud Servers', 'compute', 'vm-1', 'RUB', '0.01');
                """)
            try db.execute(sql: "INSERT INTO resources VALUES ('sel', 'vm-1', 'selectel', 'acme-web-01', 'server', 1, 1, NULL, ?)", arguments: [
                #"{"account":"1","category":"compute","flavor":"SL1","folded":[],"id":"vm-1","isOrphan":false,"isZombie":false,"name":"acme-web-01","#
                + #""provider":"selectel","rate":{"amount":"1086.5","currency":"RUB","period_hours":"24"},"region":"ru-1","resourceType":"server","#
                + #""service":"Cloud Servers","status":"RUNNING","tags":{"tenant":"acme"}}"#])
            // A second source: each source's resources are packed into a row of its own.
            try db.execute(sql: "INSERT INTO resources VALUES ('yc', 'b-1', 'yandex', 'bucket', 'bucket', 1, 1, NULL, ?)", arguments: [
                #"{"account":"c","category":"storage","flavor":"","folded":[],"id":"b-1","isOrphan":false,"isZombie":false,"name":"bucket","#
                + #""provider":"yandex","rate":{"amount":"2","currency":"RUB","period_hours":"24"},"region":"ru-central1","resourceType":"bucket","#
                + #""service":"Object Storage","status":"ACTIVE","tags":{}}"#])
            // Deleted in the snapshot: what it was is the state rows' to keep, not the current set's.
            try db.execute(sql: "INSERT INTO resources VALUES ('sel', 'vm-0', 'selectel', 'old', 'server', 1, 1, 1, ?)", arguments: [
                #"{"account":"1","category":"compute","flavor":"SL1","folded":[],"id":"vm-0","isOrphan":false,"isZombie":false,"name":"old","#
                + #""provider":"selectel","rate":{"amount":"1","currency":"RUB","period_hours":"24"},"region":"ru-1","resourceType":"server","#
                + #""service":"Cloud Servers","status":"RUNNING","tags":{}}"#])
        }
        try old.close()

        let store = try Store(path: path)
        defer { try? store.close() }
        #expect(try await store.latestSnapshot(source: "sel")?.resources.map(\.id) == ["vm-1"])
        let sets = try await DatabaseQueue(path: path).read { db in
            try Row.fetchAll(db, sql: "SELECT source, resources FROM resource_sets ORDER BY source").map { row in
                (row[0] as String, try ResourceSet.unpack(row[1]).map(\.id))
            }
        }
        #expect(sets.map(\.0) == ["sel", "yc"] && sets.map(\.1) == [["vm-1"], ["b-1"]])
        let costs = try await store.dailyCosts(source: "sel", from: LocalDay(year: 2026, month: 10, day: 1))
        #expect(costs.map(\.cost.amount) == [Decimal(string: "999.99")!, Decimal(string: "1086.5")!, Decimal(string: "0.01")!])
        let engine = try engine("sources:\n  - {name: sel, type: demo}\n", store: store)
        await engine.restore()
        let served = exposition(engine)
        // November only: 1086.50 + 0.01, by hand.
        #expect(served.sum("infrazen_cost_month_to_date") == 1086.51)
        #expect(served.value("infrazen_resource_cost_per_hour", ["resource_id": "vm-1", "tenant": "acme"]) == 45.27083333)
        #expect(served.value("infrazen_infrastructure_cost_monthly", ["provider": "selectel"]) == 32595)
    }

    @Test("an unchanged FOCUS export is not read or stored again, also after a restart; a touched one is")
    func unchangedExport() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let csv = directory.appendingPathComponent("export.csv").path
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/gen-focus.py").standardizedFileURL.path
        #expect(try runTool("python3", [script, "50", "3", csv, "--start", "2026-11-16"]).status == 0)
        let yaml = "storage: {path: \(path)}\nsources:\n  - {name: aws, type: focus, path: \"\(csv)\"}\n"
        var resources = 0.0
        do {
            let store = try Store(path: path)
            let engine = try engine(yaml, store: store)
            #expect(await engine.syncAllOnce() == [])
            resources = exposition(engine).value("infrazen_sync_resources", ["source": "aws", "action": "created"]) ?? 0
            #expect(resources > 40)  // the resources with usage on the last day
            let states = try count("resource_states"), days = try count("resource_daily"), lines = try linesBlob()
            #expect(await engine.syncAllOnce() == [])
            #expect(exposition(engine).value("infrazen_sync_resources", ["source": "aws", "action": "unchanged"]) == resources)
            #expect(try count("resource_states") == states && count("resource_daily") == days && linesBlob() == lines)
            try store.close()
        }
        let store = try Store(path: path)
        defer { try? store.close() }
        let restarted = try engine(yaml, store: store)
        await restarted.restore()
        let before = exposition(restarted).sum("infrazen_cost_month_to_date")
        #expect(before > 0)
        #expect(await restarted.syncAllOnce() == [])
        #expect(exposition(restarted).value("infrazen_sync_resources", ["source": "aws", "action": "unchanged"]) == resources)
        #expect(exposition(restarted).sum("infrazen_cost_month_to_date") == before)
        // A new modification time is a new export: read again (same content, nothing changes).
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: csv)
        #expect(await restarted.syncAllOnce() == [])
        #expect(exposition(restarted).value("infrazen_sync_resources", ["source": "aws", "action": "unchanged"]) == resources)
        #expect(try count("sync_snapshots") == 4)
    }

    @Test("changed allocation rules re-sum the stored history per scope at the next start")
    func rulesChangeResumsScopes() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var snapshot = SourceSnapshot()
        let line = BillingLineItem(provider: "selectel", resourceID: "vm-1", resourceName: "acme-web-01", resourceType: "server",
                                   service: "Cloud Servers", category: .compute, region: "ru-1", account: "1",
                                   rate: Rate(Money(100, .rub), per: .daily))
        snapshot.billing = [line]
        snapshot.dailyCosts = (1...19).map { day in
            DailyCost(day: LocalDay(year: 2026, month: 11, day: day), provider: "selectel", resourceID: "vm-1", service: "Cloud Servers",
                      category: .compute, account: "1", cost: Money(100, .rub))
        }
        let budget = "budgets:\n  - {name: acme, amount: 10000, currency: RUB, scope: {tenant: acme}}\n"
        let sources = "storage: {path: \(path)}\nsources:\n  - {name: sel, type: demo}\n"
        do {
            let store = try Store(path: path)
            let engine = try engine(sources + budget, store: store).replacingSource("sel", with: ScriptedSource([.succeed(snapshot)]))
            #expect(await engine.syncAllOnce() == [])
            #expect(exposition(engine).value("infrazen_budget_spent", ["budget": "acme"]) == 0)
            try store.close()
        }
        let rules = "allocation:\n  rules:\n    - match: {name: \"^([a-z]+)-web-\"}\n      set: {tenant: \"$1\"}\n"
        let store = try Store(path: path)
        defer { try? store.close() }
        let restarted = try engine(sources + budget + rules, store: store)
        await restarted.restore()
        // 19 days at 100, now acme's by the rule.
        #expect(exposition(restarted).value("infrazen_budget_spent", ["budget": "acme"]) == 1900)
        #expect(try await store.meta(SyncEngine.scopeLabelsKey) == restarted.allocationFingerprint)
    }

    @Test("a first sync stores its resources without state rows; later creations, updates and deletions get one each")
    func auditRowsFromTheSecondSync() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func line(_ id: String, _ perDay: Decimal) -> BillingLineItem {
            BillingLineItem(provider: "selectel", resourceID: id, resourceName: id, resourceType: "server", service: "Cloud Servers",
                            category: .compute, region: "ru-1", account: "1", rate: Rate(Money(perDay, .rub), per: .daily))
        }
        var first = SourceSnapshot(), second = SourceSnapshot()
        first.billing = [line("vm-1", 100), line("vm-2", 50)]
        second.billing = [line("vm-2", 75), line("vm-3", 10)]  // vm-1 gone, vm-2 dearer, vm-3 new
        let store = try Store(path: path)
        defer { try? store.close() }
        let engine = try engine("storage: {path: \(path)}\nsources:\n  - {name: sel, type: demo}\n", store: store)
            .replacingSource("sel", with: ScriptedSource([.succeed(first), .succeed(second)]))
        #expect(await engine.syncAllOnce() == [])
        #expect(try count("resource_states") == 0)
        #expect(try await store.latestSnapshot(source: "sel")?.resources.map(\.id) == ["vm-1", "vm-2"])
        #expect(await engine.syncAllOnce() == [])
        let actions = try await DatabaseQueue(path: path).read { db in
            try [String: String](uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT resource_id, action FROM resource_states").map { ($0[0], $0[1]) })
        }
        #expect(actions == ["vm-1": "deleted", "vm-2": "updated", "vm-3": "created"])
        // What vm-1 was stays in its state row; the stored set is the current resources.
        #expect(try await store.latestSnapshot(source: "sel")?.resources.map(\.id) == ["vm-2", "vm-3"])
    }

    @Test("a commit's 16 MB page cache is narrowed back to SQLite's 2,000 KiB after it, also after a failed one")
    func pageCacheNarrowedAfterCommit() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func snapshot(servers: Int) -> SourceSnapshot {
            var snapshot = SourceSnapshot()
            snapshot.billing = (0..<servers).map { index in
                BillingLineItem(provider: "selectel", resourceID: "vm-\(index)", resourceName: "vm-\(index)", resourceType: "server",
                                service: "Cloud Servers", category: .compute, region: "ru-1", account: "1", rate: Rate(Money(24, .rub), per: .daily))
            }
            return snapshot
        }
        let store = try Store(path: path)
        defer { try? store.close() }
        #expect(try await store.writerPageCacheKiB() == 2000)  // SQLite's default, -2000
        let engine = try engine("storage: {path: \(path)}\nsources:\n  - {name: sel, type: demo}\n", store: store)
            .replacingSource("sel", with: ScriptedSource([.succeed(snapshot(servers: 1)), .succeed(snapshot(servers: 5000))]))
        #expect(await engine.syncAllOnce() == [])
        #expect(try await store.writerPageCacheKiB() == 2000)
        // A commit that fails (5,000 resources in a file that may not grow) narrows it too.
        try await store.limitPages(1)
        #expect(await engine.syncAllOnce() == ["sel"])
        #expect(try await store.writerPageCacheKiB() == 2000)
    }
}

@Suite("Stored resource columns")
struct ResourceColumnsTests {
    @Test("tags are stored sorted by key, pairs split by 0x1E and key from value by 0x1F; a separator inside becomes a space")
    func tagsEncoding() {
        let tags = ["team": "b\u{1E}e", "env": "prod", "k\u{1F}y": "v", "empty": "", "город": "Москва"]
        // By hand, keys in order: empty, env, k y, team, город (Cyrillic sorts after Latin).
        let expected = "empty\u{1F}\u{1E}env\u{1F}prod\u{1E}k y\u{1F}v\u{1E}team\u{1F}b e\u{1E}город\u{1F}Москва"
        #expect(ResourceColumns.tags(tags) == expected)
        #expect(ResourceColumns.tags(ResourceColumns.tags(tags)) == ["empty": "", "env": "prod", "k y": "v", "team": "b e", "город": "Москва"])
        #expect(ResourceColumns.tags([:]) == "")
    }
}
