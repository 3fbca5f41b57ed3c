import CostModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// The daemon's own memory: every sync as a snapshot, each resource's state in it, and the
/// daily cost history that month-to-date and forecasts read. SQLite in WAL mode; one sync is
/// one transaction, so a crash mid-sync leaves the previous snapshot intact.
final class Store: Sendable {
    private let writer: any DatabaseWriter
    private let logger: Logger

    /// Opens (creating if needed) the database file and applies migrations.
    init(path: String, logger: Logger = Logger(label: "zen-exporter.store")) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "infrazen"
        // WAL's own durability level: a commit is whole or absent after any crash, and one
        // lost to a power cut is fetched again by the next sync; FULL's fsync of the WAL at
        // each commit (tens of megabytes at 100,000 resources) delayed every publish.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        writer = try DatabasePool(path: path, configuration: configuration)
        self.logger = logger
        try Self.useIncrementalVacuum(writer, path: path, logger: logger)
        try Self.migrator.migrate(writer)
    }

    /// A private in-memory database, for `render` and tests that need no file.
    init() throws {
        writer = try DatabaseQueue()
        logger = Logger(label: "zen-exporter.store")
        try Self.useIncrementalVacuum(writer, path: ":memory:", logger: logger)
        try Self.migrator.migrate(writer)
    }

    /// Pages that pruning frees go back to the file system (`PRAGMA incremental_vacuum`, run
    /// after a prune), so the file shrinks with its data. SQLite fixes the mode once the file
    /// has a page (WAL mode writes one on open), and a VACUUM applies a new one: instant on a
    /// new file, before the migrations run; a file made by an older version is rewritten once.
    /// A VACUUM that fails (it needs as much free disk as the file takes) is logged, and the
    /// file is used as it is and converted at a later start.
    private static func useIncrementalVacuum(_ writer: any DatabaseWriter, path: String, logger: Logger) throws {
        try writer.barrierWriteWithoutTransaction { db in
            guard try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") != Self.incrementalVacuum else { return }
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master") ?? 0 > 0 {
                logger.info("converting the database to incremental vacuum: a one-time VACUUM rewrites the file", metadata: ["path": "\(path)"])
            }
            do {
                try db.execute(sql: "VACUUM")
            } catch {
                logger.error("the one-time VACUUM failed; the database is used as it is, and freed pages are not returned to the file system until it succeeds at a later start",
                             metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
    }

    /// `PRAGMA auto_vacuum`'s value for INCREMENTAL.
    static let incrementalVacuum = 2

    /// Test hook (no config key sets it): caps the database at `pages` pages, as a full disk
    /// would (SQLite's `max_page_count` on the connection that writes; SQLite never sets it
    /// below the file's size, so 1 means "no growth"). nil lifts the cap. Returns the cap set.
    @discardableResult
    func limitPages(_ pages: Int?) async throws -> Int {
        try await writer.barrierWriteWithoutTransaction { db in
            try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(pages.map { max(1, $0) } ?? Int(Int32.max))") ?? 0
        }
    }

    func close() throws {
        if let pool = writer as? DatabasePool { try pool.close() }
        if let queue = writer as? DatabaseQueue { try queue.close() }
    }

    // MARK: Writing

    /// Commits one successful sync in one transaction: the per-resource daily costs of the
    /// days the source reported, the snapshot, the resources that changed (their state rows
    /// and the `resources` table) and the per-scope sums of those days (replacing those days,
    /// keeping older history), then prunes each past its retention. Returns the snapshot's id.
    ///
    /// It begins before the rest of the record exists: the per-resource costs (a second at
    /// 3,000,000 rows) are written while the caller still reconciles, then the transaction
    /// waits for the record, writes the resources, and waits for the per-scope sums. An
    /// abandoned record or sums roll everything back. The costs are taken from `handed` and
    /// let go once written.
    @discardableResult
    func commit(source: String, costs handed: Handed<DailyCostTable>, then pending: Pending<SyncRecord>,
                scopes pendingScopes: Pending<[LocalDay: ScopeHistory.Day]>, retention: Retention) async throws -> Int64 {
        defer { afterCommit() }
        let logger = logger
        return try await writer.write { db in
            try db.execute(sql: "PRAGMA cache_size = -\(Self.commitPageCacheKiB); PRAGMA wal_autocheckpoint = 0")
            if let costs = handed.take(), let range = costs.dayRange {
                try Self.replaceResourceDaily(db, source: source, costs: costs, from: range.first, through: range.last, logger: logger)
            }
            guard let sync = pending.wait() else { throw CancellationError() }
            // Extras (balances, utilisation, capacity) are kept once until they change: a
            // snapshot whose extras equal the last stored ones stores none.
            let text = String(decoding: try JSONEncoder.store.encode(sync.extras), as: UTF8.self)
            let stored = text == (try Self.latestExtras(db, source: source)) ? nil : text
            let snapshotID = try Self.insertSnapshot(db, source, sync.provider, sync.startedAt, sync.finishedAt, counts: sync.counts,
                                                     extras: stored, fingerprint: sync.fingerprint)
            try Self.saveChanges(db, sync: sync, snapshotID: snapshotID)
            if let range = sync.dayRange {
                // Summed per scope while the resources above were written.
                guard let scopeDays = pendingScopes.wait() else { throw CancellationError() }
                try Self.replaceScopeDaily(db, source: source, days: scopeDays, from: range.first, through: range.last)
            }
            try Self.prune(db, source: source, now: sync.finishedAt, retention: retention)
            return snapshotID
        }
    }

    /// A large sync writes tens of megabytes in one transaction (100k cost lines, resources and
    /// a month of day rows). With SQLite's default 2 MB page cache its B-tree inserts spill
    /// pages to the WAL and read them back; 16 MB took the store's part of a 100k × 30 first
    /// sync from 1.19 s to 1.06 s (64 MB gained nothing more). The cache is widened for the
    /// commit only and narrowed after it, so that its pages are not held between syncs.
    static let commitPageCacheKiB = 16 * 1024
    static let idlePageCacheKiB = 2000

    /// The commit's tens of megabytes are copied from the WAL into the file after it, while
    /// the sync publishes, rather than by SQLite's automatic checkpoint inside the commit
    /// (which the publish waited for); small writes check-point themselves again.
    private func afterCommit() {
        writer.asyncWriteWithoutTransaction { db in
            try? db.execute(sql: "PRAGMA cache_size = -\(Self.idlePageCacheKiB)")
            _ = try? db.checkpoint(.passive)
            try? db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.autoCheckpointPages)")
        }
    }

    /// SQLite's default: a write that leaves the WAL over this many pages check-points it.
    static let autoCheckpointPages = 1000

    /// The writing connection's page cache limit in KiB, once the writes queued before are done.
    func writerPageCacheKiB() async throws -> Int {
        try await writer.writeWithoutTransaction { db in -(try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? 0) }
    }

    /// Records a good sync that found its source unchanged (same files, same fingerprint):
    /// one small row, so that a resync that changes nothing does not grow the database.
    func commitUnchanged(source: String, provider: String, startedAt: Date, finishedAt: Date, resources: Int, fingerprint: String?) async throws {
        try await writer.write { db in
            // The extras of an unchanged sync are the last stored ones.
            _ = try Self.insertSnapshot(db, source, provider, startedAt, finishedAt, counts: [.unchanged: resources], extras: nil, fingerprint: fingerprint)
        }
    }

    /// Records a failed sync so the history shows it; the last good snapshot stays the one served.
    func recordFailure(source: String, provider: String, startedAt: Date, finishedAt: Date, error: String) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO sync_snapshots (source, provider, started_at, finished_at, status, error)
                VALUES (?, ?, ?, ?, 'error', ?)
                """, arguments: [source, provider, startedAt.timeIntervalSince1970, finishedAt.timeIntervalSince1970, error])
        }
    }

    /// Replaces a source's per-scope history from `first` through `last` (after the
    /// allocation rules changed, scopes are summed again from the per-resource rows).
    func replaceScopeHistory(source: String, days: [LocalDay: ScopeHistory.Day], from first: LocalDay, through last: LocalDay) async throws {
        try await writer.write { db in try Self.replaceScopeDaily(db, source: source, days: days, from: first, through: last) }
    }

    func setMeta(_ key: String, _ value: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
        }
    }

    func meta(_ key: String) async throws -> String? {
        try await writer.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    /// The newest extras stored for a source (snapshots store them only when they change).
    private static func latestExtras(_ db: Database, source: String) throws -> String? {
        try String.fetchOne(db, sql: """
            SELECT extras FROM sync_snapshots WHERE source = ? AND status = 'ok' AND extras IS NOT NULL ORDER BY id DESC LIMIT 1
            """, arguments: [source])
    }

    private static func insertSnapshot(_ db: Database, _ source: String, _ provider: String, _ started: Date, _ finished: Date,
                                       counts: [ChangeAction: Int], extras: String?, fingerprint: String?) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO sync_snapshots (source, provider, started_at, finished_at, status, created, updated, deleted, unchanged, extras, fingerprint)
            VALUES (?, ?, ?, ?, 'ok', ?, ?, ?, ?, ?, ?)
            """, arguments: [source, provider, started.timeIntervalSince1970, finished.timeIntervalSince1970,
                             counts[.created] ?? 0, counts[.updated] ?? 0, counts[.deleted] ?? 0, counts[.unchanged] ?? 0, extras, fingerprint])
        return db.lastInsertedRowID
    }

    /// The resources that changed, a state row each (the audit; none for the resources of a
    /// source's first sync, which its snapshot counts as created), and the source's current
    /// resources, packed in one row (`ResourceSet`). State rows are bound through the C
    /// interface: a sync of a large estate may change every resource.
    private static func saveChanges(_ db: Database, sync: SyncRecord, snapshotID: Int64) throws {
        let encoder = JSONEncoder.store
        let insertState = try db.makeStatement(sql: """
            INSERT INTO resource_states (snapshot_id, resource_id, action, cost_changed, status_changed, config_changed,
                changed_fields, cost_per_hour, currency, previous_state, current_state)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for change in sync.changes where change.action != .unchanged && !(sync.isFirst && change.action == .created) {
            // The state of a created resource is in the packed set; JSON is kept for what an
            // audit compares: both sides of an update, and what a deleted resource was.
            let state = try change.action == .updated ? change.current.map { String(decoding: try encoder.encode($0), as: UTF8.self) } : nil
            let previous = try change.previous.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
            let rate = (change.current ?? change.previous)?.rate
            try FastStatement.run(insertState, db) { sqlite in
                sqlite3_bind_int64(sqlite, 1, snapshotID)
                FastStatement.bind(sqlite, 2, change.resourceID)
                FastStatement.bind(sqlite, 3, change.action.rawValue)
                sqlite3_bind_int64(sqlite, 4, change.costChanged ? 1 : 0)
                sqlite3_bind_int64(sqlite, 5, change.statusChanged ? 1 : 0)
                sqlite3_bind_int64(sqlite, 6, change.configChanged ? 1 : 0)
                FastStatement.bind(sqlite, 7, change.changedFields.isEmpty ? "" : change.changedFields.joined(separator: ","))
                if let rate {
                    FastStatement.bind(sqlite, 8, SampleValue.perHour(rate).text)
                    FastStatement.bind(sqlite, 9, rate.currency.code)
                }
                if let previous { FastStatement.bind(sqlite, 10, previous) }
                if let state { FastStatement.bind(sqlite, 11, state) }
            }
        }
        try db.execute(sql: "INSERT OR REPLACE INTO resource_sets (source, resources) VALUES (?, ?)",
                       arguments: [sync.source, ResourceSet.pack(sync.resources)])
    }

    /// The IDs of `costs`' lines (resource × service × currency) among the source's stored
    /// lines, adding those it brings: the packed set is rewritten only when there are new ones.
    private static func lineIDs(_ db: Database, source: String, costs: DailyCostTable, logger: Logger) throws -> [Int64] {
        var entries: [CostLineSet.Entry]
        do {
            entries = try storedLines(db, source: source)
        } catch let corrupt as PackedBytes.Corrupt {
            // Lines that cannot be read leave the per-resource days that refer to them unreadable
            // too: both start again from this sync, and the per-scope history (month-to-date,
            // budgets, forecasts) stays. Failing every sync instead would leave the source's
            // last good data served for ever.
            try db.execute(sql: "DELETE FROM resource_daily WHERE source = ?", arguments: [source])
            logger.error("the stored cost lines of a source cannot be read; its per-resource daily rows start again from this sync, its per-scope history stays",
                         metadata: ["source": "\(source)", "error": "\(corrupt)", "resource_days_dropped": "\(db.changesCount)"])
            entries = []
        }
        var known: [String: Int64] = [:]
        known.reserveCapacity(entries.count)
        for entry in entries { known[ResourceColumns.lineKey(entry.line.resourceID, entry.line.service, entry.line.currency.code)] = entry.id }
        let stored = entries.count
        var next = (entries.last?.id ?? 0) + 1
        var ids: [Int64] = []
        ids.reserveCapacity(costs.lines.count)
        for line in costs.lines {
            // A source's first sync knows no line: no key to build for each of its lines.
            if !known.isEmpty, let id = known[ResourceColumns.lineKey(line.resourceID, line.service, line.currency.code)] {
                ids.append(id)
                continue
            }
            entries.append(CostLineSet.Entry(id: next, line: line))
            ids.append(next)
            next += 1
        }
        if entries.count > stored { try storeLines(db, source: source, entries) }
        return ids
    }

    /// A source's cost lines in ID order (`CostLineSet`); none before its first sync.
    static func storedLines(_ db: Database, source: String) throws -> [CostLineSet.Entry] {
        guard let packed = try Data.fetchOne(db, sql: "SELECT lines FROM cost_line_sets WHERE source = ?", arguments: [source]) else { return [] }
        return try CostLineSet.unpack(packed)
    }

    private static func storeLines(_ db: Database, source: String, _ entries: [CostLineSet.Entry]) throws {
        if entries.isEmpty {
            try db.execute(sql: "DELETE FROM cost_line_sets WHERE source = ?", arguments: [source])
        } else {
            try db.execute(sql: "INSERT OR REPLACE INTO cost_line_sets (source, lines) VALUES (?, ?)", arguments: [source, CostLineSet.pack(entries)])
        }
    }

    private static func replaceResourceDaily(_ db: Database, source: String, costs: DailyCostTable, from first: LocalDay, through last: LocalDay,
                                             logger: Logger) throws {
        try db.execute(sql: "DELETE FROM resource_daily WHERE source = ? AND day BETWEEN ? AND ?", arguments: [source, first.ordinal, last.ordinal])
        let ids = try lineIDs(db, source: source, costs: costs, logger: logger)
        let insert = try db.makeStatement(sql: "INSERT INTO resource_daily (source, day, lines, micros) VALUES (?, ?, ?, ?)")
        try forEachDay(of: costs, lineIDs: ids) { day, rows in
            let packed = ResourceDay(rows)
            try FastStatement.run(insert, db) { statement in
                FastStatement.bind(statement, 1, source)
                sqlite3_bind_int64(statement, 2, Int64(day))
                FastStatement.bind(statement, 3, packed.lines)
                FastStatement.bind(statement, 4, packed.micros)
            }
        }
    }

    /// The rows of each day, in day order, with stored line IDs. A table already ordered by
    /// day (a FOCUS read is) is cut into runs; any other is grouped first.
    private static func forEachDay(of costs: DailyCostTable, lineIDs ids: [Int64],
                                   _ body: (Int32, [(line: Int64, micros: Int64)]) throws -> Void) throws {
        let days = costs.dayOrdinals, lines = costs.lineOfRow, amounts = costs.micros
        guard zip(days, days.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            var byDay: [Int32: [(line: Int64, micros: Int64)]] = [:]
            for row in days.indices { byDay[days[row], default: []].append((ids[Int(lines[row])], amounts[row])) }
            for (day, rows) in byDay.sorted(by: { $0.key < $1.key }) { try body(day, rows) }
            return
        }
        var rows: [(line: Int64, micros: Int64)] = []
        var start = 0
        while start < days.count {
            var end = start
            rows.removeAll(keepingCapacity: true)
            while end < days.count, days[end] == days[start] {
                rows.append((ids[Int(lines[end])], amounts[end]))
                end += 1
            }
            try body(days[start], rows)
            start = end
        }
    }

    private static func replaceScopeDaily(_ db: Database, source: String, days: [LocalDay: ScopeHistory.Day], from first: LocalDay, through last: LocalDay) throws {
        try db.execute(sql: "DELETE FROM scope_daily WHERE source = ? AND day BETWEEN ? AND ?", arguments: [source, first.ordinal, last.ordinal])
        let insert = try db.makeStatement(sql: """
            INSERT INTO scope_daily (source, day, provider, account, service, category, tenant, team, currency, micros)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (day, scopes) in days.sorted(by: { $0.key < $1.key }) where day >= first && day <= last {
            for (key, micros) in scopes {
                try FastStatement.run(insert, db) { sqlite in
                    FastStatement.bind(sqlite, 1, source)
                    sqlite3_bind_int64(sqlite, 2, Int64(day.ordinal))
                    FastStatement.bind(sqlite, 3, key.provider)
                    FastStatement.bind(sqlite, 4, key.account)
                    FastStatement.bind(sqlite, 5, key.service)
                    FastStatement.bind(sqlite, 6, key.category.rawValue)
                    FastStatement.bind(sqlite, 7, key.tenant)
                    FastStatement.bind(sqlite, 8, key.team)
                    FastStatement.bind(sqlite, 9, key.currency.code)
                    sqlite3_bind_int64(sqlite, 10, micros)
                }
            }
        }
    }

    /// Drops per-scope history past `retention.days`, per-resource rows past
    /// `retention.resourceDays` with the cost lines no kept day refers to, and snapshots past
    /// `retention.days` (with their `resource_states`), but
    /// never the newest good snapshot of the source. Every age is counted back from
    /// `PruneReference`, not from the clock alone. Freed pages go back to the file system.
    private static func prune(_ db: Database, source: String, now: Date, retention: Retention) throws {
        let reference = try PruneReference(db, source: source, now: now)
        try db.execute(sql: "DELETE FROM scope_daily WHERE source = ? AND day < ?", arguments: [source, reference.day.adding(days: -retention.days).ordinal])
        try db.execute(sql: "DELETE FROM resource_daily WHERE source = ? AND day < ?",
                       arguments: [source, reference.day.adding(days: -retention.resourceDays).ordinal])
        if db.changesCount > 0 { try pruneUnusedCostLines(db, source: source) }
        try db.execute(sql: """
            DELETE FROM sync_snapshots WHERE source = ? AND finished_at < ?
              AND id <> (SELECT MAX(id) FROM sync_snapshots WHERE source = ? AND status = 'ok')
              AND id <> (SELECT MAX(id) FROM sync_snapshots WHERE source = ? AND status = 'ok' AND extras IS NOT NULL)
            """, arguments: [source, reference.time(daysBefore: retention.days), source, source])
        try reclaimFreePages(db, atLeast: 0.1)
    }

    /// Cost lines that no kept per-resource day refers to (their days were pruned: resources
    /// long gone, services no longer billed). Found by reading the packed days, which no index
    /// sees into; run only when a prune removed days or resources. A line billed again later
    /// is added again.
    private static func pruneUnusedCostLines(_ db: Database, source: String) throws {
        var used = Set<Int64>()
        let days = try Row.fetchCursor(db, sql: "SELECT lines FROM resource_daily WHERE source = ?", arguments: [source])
        while let row = try days.next() { used.formUnion(ResourceDay.unpack(row[0])) }
        let entries = try storedLines(db, source: source)
        let kept = entries.filter { used.contains($0.id) }
        if kept.count < entries.count { try storeLines(db, source: source, kept) }
    }

    /// Returns free pages to the file system when they are at least `fraction` of the file. A
    /// sync that replaces days frees about as many pages as it then fills; pruning frees more.
    private static func reclaimFreePages(_ db: Database, atLeast fraction: Double) throws {
        let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
        let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        if free > 0, Double(free) >= Double(pages) * fraction { try db.execute(sql: "PRAGMA incremental_vacuum") }
    }

    /// Deletes every row of the sources not in `configured` (sources removed from the config)
    /// whose last sync finished more than `graceDays` before `PruneReference` (0: whatever
    /// its age), then returns the freed pages to the file system. Returns the number of rows
    /// deleted per source.
    func pruneRemovedSources(keeping configured: Set<String>, now: Date, graceDays: Int) async throws -> [String: Int] {
        try await writer.write { db in
            var lastSync: [String: Double] = [:]
            for table in ["sync_snapshots", "resource_sets", "cost_line_sets", "resource_daily", "scope_daily"] {
                for source in try String.fetchAll(db, sql: "SELECT DISTINCT source FROM \(table)") where !configured.contains(source) {
                    lastSync[source] = -.infinity
                }
            }
            guard !lastSync.isEmpty else { return [:] }
            for row in try Row.fetchAll(db, sql: "SELECT source, MAX(finished_at) FROM sync_snapshots GROUP BY source") {
                let source: String = row[0]
                if lastSync[source] != nil, let finished = row[1] as Double? { lastSync[source] = finished }
            }
            let cutoff = try PruneReference(db, source: nil, now: now).time(daysBefore: graceDays)
            var deleted: [String: Int] = [:]
            for (source, finished) in lastSync where graceDays == 0 || finished < cutoff {
                var rows = 0
                for statement in ["DELETE FROM resource_states WHERE snapshot_id IN (SELECT id FROM sync_snapshots WHERE source = ?)",
                                  "DELETE FROM sync_snapshots WHERE source = ?", "DELETE FROM resource_sets WHERE source = ?",
                                  "DELETE FROM cost_line_sets WHERE source = ?", "DELETE FROM resource_daily WHERE source = ?",
                                  "DELETE FROM scope_daily WHERE source = ?"] {
                    try db.execute(sql: statement, arguments: [source])
                    rows += db.changesCount
                }
                deleted[source] = rows
            }
            if !deleted.isEmpty { try Self.reclaimFreePages(db, atLeast: 0) }
            return deleted
        }
    }

    // MARK: Reading

    /// The newest good snapshot of a source, as the daemon serves it after a restart: its
    /// time, extras and fingerprint, and the resources it left current.
    func latestSnapshot(source: String) async throws -> RestoredSnapshot? {
        try await writer.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT id, finished_at, extras, created, updated, deleted, unchanged, fingerprint FROM sync_snapshots
                WHERE source = ? AND status = 'ok' ORDER BY id DESC LIMIT 1
                """, arguments: [source]) else { return nil }
            let id: Int64 = row[0]
            let packed = try Data.fetchOne(db, sql: "SELECT resources FROM resource_sets WHERE source = ?", arguments: [source])
            let resources = try packed.map(ResourceSet.unpack) ?? []
            let extrasText: String? = try row[2] as String? ?? Self.latestExtras(db, source: source)
            let extras = try extrasText.map { try JSONDecoder().decode(SnapshotExtras.self, from: Data($0.utf8)) } ?? SnapshotExtras()
            var actions: [ChangeAction: Int] = [:]
            for (offset, action) in ChangeAction.allCases.enumerated() { actions[action] = row[3 + offset] }
            return RestoredSnapshot(id: id, finishedAt: Date(timeIntervalSince1970: row[1]),
                                    resources: resources, extras: extras, actions: actions, fingerprint: row[7])
        }
    }

    /// A source's per-scope history from `first` on.
    func scopeHistory(source: String, from first: LocalDay) async throws -> ScopeHistory {
        try await writer.read { db in
            var days: [LocalDay: ScopeHistory.Day] = [:]
            var day = LocalDay(ordinal: 0)
            var dayOrdinal = Int.min
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT day, provider, account, service, category, tenant, team, currency, micros FROM scope_daily
                WHERE source = ? AND day >= ? ORDER BY day
                """, arguments: [source, first.ordinal])
            while let row = try cursor.next() {
                let ordinal: Int = row[0]
                if ordinal != dayOrdinal {
                    dayOrdinal = ordinal
                    day = LocalDay(ordinal: ordinal)
                }
                let key = ScopeKey(provider: row[1], account: row[2], service: row[3], category: CostCategory(rawValue: row[4]) ?? .other,
                                   tenant: row[5], team: row[6], currency: Currency(row[7] as String))
                days[day, default: [:]][key, default: 0] &+= row[8] as Int64
            }
            return ScopeHistory(days: days)
        }
    }

    /// The first and last day of a source's per-resource rows; nil when it has none.
    func resourceDayRange(source: String) async throws -> (first: LocalDay, last: LocalDay)? {
        try await writer.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT MIN(day), MAX(day) FROM resource_daily WHERE source = ?
                """, arguments: [source]), let first = row[0] as Int?, let last = row[1] as Int? else { return nil }
            return (LocalDay(ordinal: first), LocalDay(ordinal: last))
        }
    }

    /// A source's per-resource daily costs from `first` through `last`, oldest first.
    func resourceCosts(source: String, from first: LocalDay, through last: LocalDay = LocalDay(ordinal: 1 << 30)) async throws -> DailyCostTable {
        try await writer.read { db in
            var table = DailyCostTable()
            var lines: [Int64: Int32] = [:]
            for entry in try Self.storedLines(db, source: source) { lines[entry.id] = table.intern(entry.line) }
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT day, lines, micros FROM resource_daily WHERE source = ? AND day BETWEEN ? AND ? ORDER BY day
                """, arguments: [source, first.ordinal, last.ordinal])
            while let row = try cursor.next() {
                let day = Int32(row[0] as Int)
                for entry in ResourceDay(lines: row[1], micros: row[2]).rows {
                    guard let line = lines[entry.line] else { continue }
                    table.append(day: day, line: line, micros: entry.micros)
                }
            }
            return table
        }
    }

    /// Daily costs of a source from `first` on, per resource (the rows kept for
    /// `resource_retention_days`).
    func dailyCosts(source: String, from first: LocalDay) async throws -> [DailyCost] {
        try await resourceCosts(source: source, from: first).rows
    }

    /// Records the bank's rates published for `day` (replacing that day's) and when they were
    /// fetched; publications before `keepFrom` go, except each currency's last one before it,
    /// which is still in force on `keepFrom`.
    func saveFXRates(_ rates: [Currency: Decimal], day: LocalDay, fetchedAt: Date, keepFrom: LocalDay) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM fx_rates")
            try db.execute(sql: "DELETE FROM fx_daily WHERE day = ?", arguments: [day.ordinal])
            for (currency, rate) in rates {
                try db.execute(sql: "INSERT INTO fx_rates (currency, rate, fetched_at) VALUES (?, ?, ?)",
                               arguments: [currency.code, rate.plainString, fetchedAt.timeIntervalSince1970])
                try db.execute(sql: "INSERT INTO fx_daily (day, currency, rate) VALUES (?, ?, ?)",
                               arguments: [day.ordinal, currency.code, rate.plainString])
            }
            try db.execute(sql: """
                DELETE FROM fx_daily WHERE day < ?
                  AND day < (SELECT MAX(older.day) FROM fx_daily AS older WHERE older.currency = fx_daily.currency AND older.day < ?)
                """, arguments: [keepFrom.ordinal, keepFrom.ordinal])
        }
    }

    /// The latest fetched rates and when they were fetched.
    func fxRates() async throws -> (rates: [Currency: Decimal], fetchedAt: Date)? {
        try await writer.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT currency, rate, fetched_at FROM fx_rates")
            guard let first = rows.first else { return nil }
            var rates: [Currency: Decimal] = [:]
            for row in rows { if let rate = Decimal.exact(row[1] as String) { rates[Currency(row[0] as String)] = rate } }
            return (rates, Date(timeIntervalSince1970: first[2]))
        }
    }

    /// Every stored publication: the rates the bank set for each day.
    func fxPublications() async throws -> [LocalDay: [Currency: Decimal]] {
        try await writer.read { db in
            var result: [LocalDay: [Currency: Decimal]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT day, currency, rate FROM fx_daily") {
                guard let ordinal = row[0] as Int?, let code = row[1] as String?, let text = row[2] as String?,
                      let rate = Decimal.exact(text), rate > 0 else { continue }
                result[LocalDay(ordinal: ordinal), default: [:]][Currency(code)] = rate
            }
            return result
        }
    }

    // MARK: Usage

    /// Replaces one usage query's values with a successful poll's and records the day's
    /// total (the history capacity forecasts fit), pruning days past the retention (counted
    /// like billing's, `PruneReference`).
    func saveUsage(_ values: [String: Double], source: String, dimension: String, fetchedAt: Date, day: LocalDay, retentionDays: Int) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM usage_values WHERE source = ? AND dimension = ?", arguments: [source, dimension])
            for (tenant, value) in values {
                try db.execute(sql: "INSERT INTO usage_values (source, dimension, tenant, value, fetched_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [source, dimension, tenant, value, fetchedAt.timeIntervalSince1970])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO usage_daily (source, dimension, day, value) VALUES (?, ?, ?, ?)",
                           arguments: [source, dimension, day.description, values.values.reduce(0, +)])
            // The day's per-tenant values, the last poll of the day winning: the weights that
            // allocate that day's billed cost (`BilledSpend`).
            try db.execute(sql: "DELETE FROM usage_tenant_daily WHERE source = ? AND dimension = ? AND day = ?",
                           arguments: [source, dimension, day.ordinal])
            for (tenant, value) in values where tenant != UsageStatus.total {
                try db.execute(sql: "INSERT INTO usage_tenant_daily (source, dimension, day, tenant, value) VALUES (?, ?, ?, ?, ?)",
                               arguments: [source, dimension, day.ordinal, tenant, value])
            }
            // Counted back from the newest billed day when the clock is past it (a clock that
            // jumped ahead must not prune the history forecasts still fit), as billing is.
            let newest = min(day, try PruneReference(db, source: nil, now: fetchedAt).day)
            try db.execute(sql: "DELETE FROM usage_daily WHERE source = ? AND dimension = ? AND day < ?",
                           arguments: [source, dimension, newest.adding(days: -retentionDays).description])
            try db.execute(sql: "DELETE FROM usage_tenant_daily WHERE source = ? AND dimension = ? AND day < ?",
                           arguments: [source, dimension, newest.adding(days: -retentionDays).ordinal])
        }
    }

    /// Deletes the values and daily totals of usage queries no longer in the config once their
    /// last poll is `graceDays` old (counted as `pruneRemovedSources` counts; 0: at once).
    /// Returns the rows deleted per query.
    func pruneRemovedUsage(keeping configured: Set<UsageReference>, now: Date, graceDays: Int) async throws -> [UsageReference: Int] {
        try await writer.write { db in
            var lastPoll: [UsageReference: Double] = [:]
            for table in ["usage_values", "usage_daily", "usage_tenant_daily"] {
                for row in try Row.fetchAll(db, sql: "SELECT DISTINCT source, dimension FROM \(table)") {
                    guard let usage = String.fromDatabaseValue(row[0] as DatabaseValue),
                          let dimension = String.fromDatabaseValue(row[1] as DatabaseValue) else { continue }
                    let reference = UsageReference(usage: usage, dimension: dimension)
                    if !configured.contains(reference) { lastPoll[reference] = -.infinity }
                }
            }
            guard !lastPoll.isEmpty else { return [:] }
            for row in try Row.fetchAll(db, sql: "SELECT source, dimension, MAX(fetched_at) FROM usage_values GROUP BY source, dimension") {
                guard let usage = String.fromDatabaseValue(row[0] as DatabaseValue), let dimension = String.fromDatabaseValue(row[1] as DatabaseValue),
                      let fetched = Double.fromDatabaseValue(row[2] as DatabaseValue) else { continue }
                let reference = UsageReference(usage: usage, dimension: dimension)
                if lastPoll[reference] != nil { lastPoll[reference] = fetched }
            }
            let cutoff = try PruneReference(db, source: nil, now: now).time(daysBefore: graceDays)
            var deleted: [UsageReference: Int] = [:]
            for (reference, fetched) in lastPoll where graceDays == 0 || fetched < cutoff {
                var rows = 0
                for table in ["usage_values", "usage_daily", "usage_tenant_daily"] {
                    try db.execute(sql: "DELETE FROM \(table) WHERE source = ? AND dimension = ?", arguments: [reference.usage, reference.dimension])
                    rows += db.changesCount
                }
                deleted[reference] = rows
            }
            return deleted
        }
    }

    /// Each usage query's last good values and when they were fetched.
    func usageValues() async throws -> [UsageReference: (values: [String: Double], fetchedAt: Date)] {
        try await writer.read { db in
            var result: [UsageReference: (values: [String: Double], fetchedAt: Date)] = [:]
            // Read leniently: a row another version or a hand edit left NULL or mistyped is skipped,
            // never a trap at start (the caller drops values that are not finite).
            for row in try Row.fetchAll(db, sql: "SELECT source, dimension, tenant, value, fetched_at FROM usage_values") {
                guard let source = String.fromDatabaseValue(row[0] as DatabaseValue), let dimension = String.fromDatabaseValue(row[1] as DatabaseValue),
                      let tenant = String.fromDatabaseValue(row[2] as DatabaseValue), let value = Double.fromDatabaseValue(row[3] as DatabaseValue),
                      let fetchedAt = Double.fromDatabaseValue(row[4] as DatabaseValue), fetchedAt.isFinite else { continue }
                let key = UsageReference(usage: source, dimension: dimension)
                var entry = result[key] ?? ([:], Date(timeIntervalSince1970: fetchedAt))
                entry.values[tenant] = value
                result[key] = entry
            }
            return result
        }
    }

    /// One usage query's daily totals from `first` on, oldest first.
    func usageHistory(_ reference: UsageReference, from first: LocalDay) async throws -> [(day: LocalDay, value: Double)] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT day, value FROM usage_daily WHERE source = ? AND dimension = ? AND day >= ? ORDER BY day",
                             arguments: [reference.usage, reference.dimension, first.description]).compactMap { row in
                guard let text = String.fromDatabaseValue(row[0] as DatabaseValue), let day = LocalDay(text),
                      let value = Double.fromDatabaseValue(row[1] as DatabaseValue), UsageCollector.isSane(value) else { return nil }
                return (day, value)
            }
        }
    }

    /// Each usage query's per-tenant values by day, from `first` through `last`, and its last
    /// stored day before `first` (the values in force on `first` until a poll that day).
    func usageTenantDays(from first: LocalDay, through last: LocalDay) async throws -> [UsageReference: [LocalDay: [String: Double]]] {
        try await writer.read { db in
            var result: [UsageReference: [LocalDay: [String: Double]]] = [:]
            // Read leniently, as `usageValues` is: a row another version left mistyped is skipped.
            for row in try Row.fetchAll(db, sql: """
                SELECT source, dimension, day, tenant, value FROM usage_tenant_daily AS u
                WHERE day BETWEEN ? AND ?
                   OR day = (SELECT MAX(day) FROM usage_tenant_daily AS v WHERE v.source = u.source AND v.dimension = u.dimension AND v.day < ?)
                """, arguments: [first.ordinal, last.ordinal, first.ordinal]) {
                guard let source = String.fromDatabaseValue(row[0] as DatabaseValue), let dimension = String.fromDatabaseValue(row[1] as DatabaseValue),
                      let ordinal = Int.fromDatabaseValue(row[2] as DatabaseValue), let tenant = String.fromDatabaseValue(row[3] as DatabaseValue),
                      let value = Double.fromDatabaseValue(row[4] as DatabaseValue), UsageCollector.isSane(value) else { continue }
                result[UsageReference(usage: source, dimension: dimension), default: [:]][LocalDay(ordinal: ordinal), default: [:]][tenant] = value
            }
            return result
        }
    }

    /// A source's failed sync attempts that finished in [`from`, `to`): how many, and the last one's error.
    func failedSyncs(source: String, from: Date, to: Date) async throws -> (count: Int, lastError: String?) {
        try await writer.read { db in
            let count = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM sync_snapshots WHERE source = ? AND status = 'error' AND finished_at >= ? AND finished_at < ?
                """, arguments: [source, from.timeIntervalSince1970, to.timeIntervalSince1970]) ?? 0
            let last = try String.fetchOne(db, sql: """
                SELECT error FROM sync_snapshots WHERE source = ? AND status = 'error' AND finished_at >= ? AND finished_at < ?
                ORDER BY finished_at DESC LIMIT 1
                """, arguments: [source, from.timeIntervalSince1970, to.timeIntervalSince1970])
            return (count, last)
        }
    }

    func snapshotCount(source: String) async throws -> Int {
        try await writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_snapshots WHERE source = ?", arguments: [source]) ?? 0 }
    }

    // MARK: Schema

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: snapshots, resources, resource states, daily costs") { db in
            try db.execute(sql: """
                CREATE TABLE sync_snapshots (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    source TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    started_at DOUBLE NOT NULL,
                    finished_at DOUBLE NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
                    error TEXT,
                    created INTEGER NOT NULL DEFAULT 0,
                    updated INTEGER NOT NULL DEFAULT 0,
                    deleted INTEGER NOT NULL DEFAULT 0,
                    unchanged INTEGER NOT NULL DEFAULT 0,
                    extras TEXT
                );
                CREATE INDEX sync_snapshots_by_source ON sync_snapshots (source, status, id);
                CREATE TABLE resources (
                    source TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    name TEXT NOT NULL,
                    resource_type TEXT NOT NULL,
                    first_seen_snapshot INTEGER NOT NULL,
                    last_seen_snapshot INTEGER NOT NULL,
                    deleted_in_snapshot INTEGER,
                    state TEXT,
                    PRIMARY KEY (source, resource_id)
                );
                CREATE TABLE resource_states (
                    snapshot_id INTEGER NOT NULL REFERENCES sync_snapshots (id) ON DELETE CASCADE,
                    resource_id TEXT NOT NULL,
                    action TEXT NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'unchanged')),
                    cost_changed BOOLEAN NOT NULL,
                    status_changed BOOLEAN NOT NULL,
                    config_changed BOOLEAN NOT NULL,
                    changed_fields TEXT NOT NULL,
                    cost_per_hour TEXT,
                    currency TEXT,
                    previous_state TEXT,
                    current_state TEXT,
                    PRIMARY KEY (snapshot_id, resource_id)
                );
                CREATE TABLE daily_costs (
                    source TEXT NOT NULL,
                    day TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    account TEXT NOT NULL,
                    service TEXT NOT NULL,
                    category TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    amount TEXT NOT NULL,
                    PRIMARY KEY (source, day, resource_id, service, currency)
                );
                """)
        }
        migrator.registerMigration("v2: exchange rates") { db in
            try db.execute(sql: """
                CREATE TABLE fx_rates (currency TEXT PRIMARY KEY, rate TEXT NOT NULL, fetched_at DOUBLE NOT NULL)
                """)
        }
        migrator.registerMigration("v3: usage values and their daily totals") { db in
            try db.execute(sql: """
                CREATE TABLE usage_values (
                    source TEXT NOT NULL, dimension TEXT NOT NULL, tenant TEXT NOT NULL,
                    value DOUBLE NOT NULL, fetched_at DOUBLE NOT NULL,
                    PRIMARY KEY (source, dimension, tenant)
                );
                CREATE TABLE usage_daily (
                    source TEXT NOT NULL, dimension TEXT NOT NULL, day TEXT NOT NULL, value DOUBLE NOT NULL,
                    PRIMARY KEY (source, dimension, day)
                );
                """)
        }
        migrator.registerMigration("v4: money in micro-units, per-resource and per-scope daily history, resources by column") { db in
            try StoreMigrationV4.migrate(db)
        }
        migrator.registerMigration("v5: the project of a resource (Selectel cloud projects)") { db in
            try db.execute(sql: "ALTER TABLE resources ADD COLUMN project TEXT NOT NULL DEFAULT ''")
        }
        migrator.registerMigration("v6: exchange rates per day they are published for") { db in
            // The rates an older version kept are the only ones known: they become the
            // publication of the (UTC) day they were fetched on.
            try db.execute(sql: """
                CREATE TABLE fx_daily (day INTEGER NOT NULL, currency TEXT NOT NULL, rate TEXT NOT NULL, PRIMARY KEY (day, currency));
                INSERT INTO fx_daily (day, currency, rate) SELECT CAST(fetched_at / 86400 AS INTEGER), currency, rate FROM fx_rates;
                """)
        }
        migrator.registerMigration("v7: each source's resources packed in one row; cost lines found by source") { db in
            try StoreMigrationV7.migrate(db)
        }
        migrator.registerMigration("v8: each source's cost lines packed in one row") { db in
            try StoreMigrationV8.migrate(db)
        }
        migrator.registerMigration("v9: usage values per tenant and day") { db in
            // The values an older version kept are the only ones known: they become those of
            // the (UTC) day they were polled on.
            try db.execute(sql: """
                CREATE TABLE usage_tenant_daily (
                    source TEXT NOT NULL, dimension TEXT NOT NULL, day INTEGER NOT NULL, tenant TEXT NOT NULL, value DOUBLE NOT NULL,
                    PRIMARY KEY (source, dimension, day, tenant)
                );
                INSERT INTO usage_tenant_daily (source, dimension, day, tenant, value)
                    SELECT source, dimension, CAST(fetched_at / 86400 AS INTEGER), tenant, value FROM usage_values WHERE tenant <> '';
                """)
        }
        return migrator
    }
}

/// What retention is counted back from: today by the clock, but never a day past the newest
/// billed day in the database (the source's, or any source's when `source` is nil). Billed
/// days carry the provider's dates, so a clock that jumps ahead (a bad NTP server, a virtual
/// machine restored with a wrong time) cannot prune history that is still inside retention; a
/// billed day far in the future (a bad export row) cannot either, since the clock bounds it.
/// With no billed day at all, the clock alone.
struct PruneReference {
    var day: LocalDay
    /// The end of `day`, or the clock if earlier.
    var now: Date

    init(_ db: Database, source: String?, now clock: Date) throws {
        let today = LocalDay(clock, in: TimeZone(identifier: "UTC") ?? .current)
        let newest: Int?
        if let source {
            newest = try Int.fetchOne(db, sql: "SELECT MAX(day) FROM scope_daily WHERE source = ?", arguments: [source])
        } else {
            newest = try Int.fetchOne(db, sql: "SELECT MAX(day) FROM scope_daily")
        }
        guard let newest, newest < today.ordinal else {
            day = today
            now = clock
            return
        }
        day = LocalDay(ordinal: newest)
        now = min(clock, Date(timeIntervalSince1970: Double(newest + 1) * 86_400))
    }

    /// `days` before the reference, in seconds since 1970 (as `sync_snapshots` stores times).
    func time(daysBefore days: Int) -> Double { now.timeIntervalSince1970 - Double(days) * 86_400 }
}

extension SyncFailure {
    /// A write the database refused, as `infrazen_sync_errors_total` counts it: endpoint
    /// `storage`, reason `disk_full` when the disk (or the file's page cap) is full, `storage`
    /// otherwise. Retrying cannot help either; the last good data stays served.
    static func storage(_ error: any Error) -> SyncFailure {
        if let database = error as? DatabaseError, database.resultCode.primaryResultCode == .SQLITE_FULL {
            return SyncFailure(endpoint: "storage", reason: "disk_full",
                               message: "the database is full (no space left on its disk): \(database.message ?? "\(database.resultCode)")")
        }
        return SyncFailure(endpoint: "storage", reason: "storage", message: "\(error)")
    }

    var isStorage: Bool { endpoint == "storage" }
}

/// How long history is kept, by grain.
struct Retention: Sendable {
    /// Per-scope daily costs and snapshots (`storage.retention_days`).
    var days: Int
    /// Per-resource daily costs (`storage.resource_retention_days`): what scopes are summed
    /// again from when the allocation rules change.
    var resourceDays: Int
}

/// What one successful sync hands to the store.
struct SyncRecord: Sendable {
    var source: String
    var provider: String
    var startedAt: Date
    var finishedAt: Date
    /// Every resource's change, unchanged ones included (they are counted, not stored).
    var changes: [ResourceChange]
    /// The source's resources after this sync, stored whole (`ResourceSet`).
    var resources: [Resource]
    /// The first and last day the source reported costs for (their history is replaced; the
    /// days summed per scope are handed over after this record).
    var dayRange: (first: LocalDay, last: LocalDay)?
    var extras: SnapshotExtras
    var fingerprint: String?
    /// The source's first good sync (nothing restored or synced before): every resource is
    /// created, which the snapshot's count records, so no state row is written per resource.
    var isFirst = false

    /// Changes per action, actions without any left out. Tallied by case first: a
    /// dictionary update per change was 9 ms of a sync of 100,000 resources.
    var counts: [ChangeAction: Int] {
        var created = 0, updated = 0, deleted = 0, unchanged = 0
        for change in changes {
            switch change.action {
            case .created: created += 1
            case .updated: updated += 1
            case .deleted: deleted += 1
            case .unchanged: unchanged += 1
            }
        }
        let tally: [ChangeAction: Int] = [.created: created, .updated: updated, .deleted: deleted, .unchanged: unchanged]
        return tally.filter { $0.value > 0 }
    }

    func count(_ action: ChangeAction) -> Int { counts[action] ?? 0 }
}

/// A value handed to another thread once, which lets go of it when done: the last
/// reference can then be dropped while the sender goes on.
final class Handed<Value: Sendable>: Sendable {
    private let value: Mutex<Value?>
    init(_ value: Value) { self.value = Mutex(value) }
    func take() -> Value? { value.withLock { taken in defer { taken = nil }; return taken } }
}

/// Part of a sync (its record, its per-scope sums) handed over to a commit that is already
/// running (`Store.commit(source:costs:then:scopes:retention:)`): the database thread waits
/// for it inside its transaction. Fulfilled or abandoned once; the first call wins.
final class Pending<Value: Sendable>: Sendable {
    private let handed = DispatchSemaphore(value: 0)
    /// nil until handed over; then the value, or nil inside when abandoned.
    private let slot = Mutex<Value??>(nil)

    func fulfill(_ value: Value) { hand(value) }

    /// The sync will not land (it failed or was cancelled before this part was complete).
    func abandon() { hand(nil) }

    private func hand(_ value: Value?) {
        let first = slot.withLock { current in
            guard current == nil else { return false }
            current = .some(value)
            return true
        }
        if first { handed.signal() }
    }

    /// Blocks the calling (database) thread until the value is handed over.
    func wait() -> Value? {
        handed.wait()
        handed.signal()  // later waits return at once
        return slot.withLock { $0 ?? nil }
    }
}

/// How a resource's tags and folded IDs are kept in one text column each: keys and values
/// separated by control characters that no provider's tag uses (any found are replaced by
/// spaces), which reads back an order of magnitude faster than JSON.
enum ResourceColumns {
    static let separator = "\u{1E}"
    static let pairSeparator = "\u{1F}"

    /// Sorted by key, into one byte buffer. A separator inside a key or value becomes a space
    /// (both are ASCII controls, so replacing the byte replaces the character).
    static func tags(_ tags: [String: String]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(tags.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 2 })
        func append(_ text: String) {
            for byte in text.utf8 { bytes.append(byte == 0x1E || byte == 0x1F ? 0x20 : byte) }
        }
        for (index, pair) in tags.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { bytes.append(0x1E) }
            append(pair.key)
            bytes.append(0x1F)
            append(pair.value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func tags(_ text: String) -> [String: String] {
        guard !text.isEmpty else { return [:] }
        var tags: [String: String] = [:]
        for pair in text.utf8.split(separator: 0x1E, omittingEmptySubsequences: true) {
            let parts = pair.split(separator: 0x1F, maxSplits: 1, omittingEmptySubsequences: false)
            tags[String(decoding: parts[0], as: UTF8.self)] = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : ""
        }
        return tags
    }

    /// A stored decimal: through micro-units when it has at most six decimals (every
    /// provider's rates; ten times faster than `Decimal(string:)`), exactly either way.
    static func decimal(_ text: String) -> Decimal? {
        var text = text
        let short = text.withUTF8 { bytes in
            guard let dot = bytes.firstIndex(of: UInt8(ascii: ".")) else { return true }
            return bytes.count - dot - 1 <= 6
        }
        if short, let micros = Micros.parse(text) { return Micros.decimal(micros) }
        return Decimal.exact(text)
    }

    static func lineKey(_ resourceID: String, _ service: String, _ currency: String) -> String {
        "\(resourceID)\u{1F}\(service)\u{1F}\(currency)"
    }
}

/// The parts of a snapshot that are not per-resource rows.
struct SnapshotExtras: Sendable, Codable {
    var accounts: [AccountBalance] = []
    var utilization: [UtilizationSample] = []
    var capacity: [CapacitySample] = []
    var capacityHistory: [CapacityPoint] = []
    var flavors: [String: [Flavor]] = [:]
    var unclassifiedLineItems = 0
    var unpriced: [UnpricedCount] = []

    init(accounts: [AccountBalance] = [], utilization: [UtilizationSample] = [], capacity: [CapacitySample] = [],
         capacityHistory: [CapacityPoint] = [], flavors: [String: [Flavor]] = [:], unclassifiedLineItems: Int = 0,
         unpriced: [UnpricedCount] = []) {
        self.unpriced = unpriced
        self.accounts = accounts
        self.utilization = utilization
        self.capacity = capacity
        self.capacityHistory = capacityHistory
        self.flavors = flavors
        self.unclassifiedLineItems = unclassifiedLineItems
    }

    init(_ snapshot: SourceSnapshot) {
        self.init(accounts: snapshot.accounts, utilization: snapshot.utilization, capacity: snapshot.capacity,
                  capacityHistory: snapshot.capacityHistory, flavors: snapshot.flavors, unclassifiedLineItems: snapshot.unclassifiedLineItems,
                  unpriced: snapshot.unpriced)
    }

    /// Snapshots written before a field existed decode with its default.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        accounts = try container.decodeIfPresent([AccountBalance].self, forKey: .accounts) ?? []
        utilization = try container.decodeIfPresent([UtilizationSample].self, forKey: .utilization) ?? []
        capacity = try container.decodeIfPresent([CapacitySample].self, forKey: .capacity) ?? []
        capacityHistory = try container.decodeIfPresent([CapacityPoint].self, forKey: .capacityHistory) ?? []
        flavors = try container.decodeIfPresent([String: [Flavor]].self, forKey: .flavors) ?? [:]
        unclassifiedLineItems = try container.decodeIfPresent(Int.self, forKey: .unclassifiedLineItems) ?? 0
        unpriced = try container.decodeIfPresent([UnpricedCount].self, forKey: .unpriced) ?? []
    }
}

struct RestoredSnapshot: Sendable {
    var id: Int64
    var finishedAt: Date
    var resources: [Resource]
    var extras: SnapshotExtras
    var actions: [ChangeAction: Int]
    var fingerprint: String?
}

extension JSONEncoder {
    /// Sorted keys: the same state always serialises to the same text.
    static var store: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }
}

/// Binds and steps a prepared statement through SQLite's C interface: GRDB's arguments
/// (an array of existentials per row) cost more than SQLite itself at millions of rows.
enum FastStatement {
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    static func run(_ statement: Statement, _ db: Database, bind: (OpaquePointer) -> Void) throws {
        let sqlite = statement.sqliteStatement
        sqlite3_reset(sqlite)
        sqlite3_clear_bindings(sqlite)
        bind(sqlite)
        let code = sqlite3_step(sqlite)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                                sql: statement.sql)
        }
    }

    static func bind(_ sqlite: OpaquePointer, _ index: Int32, _ blob: Data) {
        blob.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(sqlite, index, bytes.baseAddress, Int32(bytes.count), transient)
        }
    }

    static func bind(_ sqlite: OpaquePointer, _ index: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            _ = bytes.withMemoryRebound(to: CChar.self) { chars in
                if let base = chars.baseAddress {
                    sqlite3_bind_text(sqlite, index, base, Int32(chars.count), transient)
                } else {
                    sqlite3_bind_text(sqlite, index, "", 0, transient)
                }
            }
        }
    }
}

/// One source's per-resource costs of one day, packed: cost line IDs and amounts as two
/// arrays of little-endian Int64, sorted by line, one entry per line. A month of a
/// 100,000-resource estate is 30 rows of 1.6 MB rather than 3,000,000 B-tree rows, which
/// SQLite writes two orders of magnitude faster; per-scope sums (`scope_daily`) stay rows.
struct ResourceDay {
    var lines = Data()
    var micros = Data()

    /// Rows of one day; the same line twice adds up (a provider may bill one resource in
    /// several rows a day).
    init(_ rows: [(line: Int64, micros: Int64)]) {
        // Stored line IDs mostly follow the rows' order already (they are given out in it).
        let ordered = zip(rows, rows.dropFirst()).allSatisfy { $0.line <= $1.line }
        let sorted = ordered ? rows : rows.sorted { $0.line < $1.line }
        var lineIDs: [Int64] = [], amounts: [Int64] = []
        lineIDs.reserveCapacity(sorted.count)
        amounts.reserveCapacity(sorted.count)
        for row in sorted {
            if let last = lineIDs.last, last == row.line {
                amounts[amounts.count - 1] &+= row.micros
            } else {
                lineIDs.append(row.line)
                amounts.append(row.micros)
            }
        }
        lines = Self.pack(lineIDs)
        micros = Self.pack(amounts)
    }

    init(lines: Data, micros: Data) {
        self.lines = lines
        self.micros = micros
    }

    var rows: [(line: Int64, micros: Int64)] {
        let ids = Self.unpack(lines), amounts = Self.unpack(micros)
        return zip(ids, amounts).map { ($0, $1) }
    }

    static func pack(_ values: [Int64]) -> Data {
        var data = Data(count: values.count * 8)
        data.withUnsafeMutableBytes { bytes in
            for (index, value) in values.enumerated() { bytes.storeBytes(of: value.littleEndian, toByteOffset: index * 8, as: Int64.self) }
        }
        return data
    }

    static func unpack(_ data: Data) -> [Int64] {
        data.withUnsafeBytes { bytes in
            (0..<(bytes.count / 8)).map { Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        }
    }
}
