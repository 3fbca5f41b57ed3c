import CostModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// One sync in one transaction: per-resource and per-scope days, the snapshot, the resources
/// that changed, and the pruning that keeps each table within its retention.
extension Store {
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
    package func commit(source: String, costs handed: Handed<DailyCostTable>, then pending: Pending<SyncRecord>,
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
                if let effective = sync.effectiveDays {
                    try Self.replaceEffectiveDaily(db, source: source, rows: effective, from: range.first, through: range.last)
                }
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
    package static let commitPageCacheKiB = 16 * 1024
    package static let idlePageCacheKiB = 2000

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
    package static let autoCheckpointPages = 1000

    /// The writing connection's page cache limit in KiB, once the writes queued before are done.
    package func writerPageCacheKiB() async throws -> Int {
        try await writer.writeWithoutTransaction { db in -(try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? 0) }
    }

    /// Records a good sync that found its source unchanged (same files, same fingerprint):
    /// one small row, so that a resync that changes nothing does not grow the database.
    package func commitUnchanged(source: String, provider: String, startedAt: Date, finishedAt: Date, resources: Int, fingerprint: String?) async throws {
        try await writer.write { db in
            // The extras of an unchanged sync are the last stored ones.
            _ = try Self.insertSnapshot(db, source, provider, startedAt, finishedAt, counts: [.unchanged: resources], extras: nil, fingerprint: fingerprint)
        }
    }

    /// Records a failed sync so the history shows it; the last good snapshot stays the one served.
    package func recordFailure(source: String, provider: String, startedAt: Date, finishedAt: Date, error: String) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO sync_snapshots (source, provider, started_at, finished_at, status, error)
                VALUES (?, ?, ?, ?, 'error', ?)
                """, arguments: [source, provider, startedAt.timeIntervalSince1970, finishedAt.timeIntervalSince1970, error])
        }
    }

    /// Replaces a source's per-scope history from `first` through `last` (after the
    /// allocation rules changed, scopes are summed again from the per-resource rows).
    package func replaceScopeHistory(source: String, days: [LocalDay: ScopeHistory.Day], from first: LocalDay, through last: LocalDay) async throws {
        try await writer.write { db in try Self.replaceScopeDaily(db, source: source, days: days, from: first, through: last) }
    }

    package func setMeta(_ key: String, _ value: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
        }
    }

    package func meta(_ key: String) async throws -> String? {
        try await writer.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    /// The newest extras stored for a source (snapshots store them only when they change).
    package static func latestExtras(_ db: Database, source: String) throws -> String? {
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
                    FastStatement.bind(sqlite, 8, rate.perHour.amount.rounded(scale: 8).description)
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
    package static func storedLines(_ db: Database, source: String) throws -> [CostLineSet.Entry] {
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
        try db.execute(sql: "DELETE FROM effective_daily WHERE source = ? AND day < ?", arguments: [source, reference.day.adding(days: -retention.days).ordinal])
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
    package func pruneRemovedSources(keeping configured: Set<String>, now: Date, graceDays: Int) async throws -> [String: Int] {
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
                                  "DELETE FROM scope_daily WHERE source = ?", "DELETE FROM effective_daily WHERE source = ?"] {
                    try db.execute(sql: statement, arguments: [source])
                    rows += db.changesCount
                }
                deleted[source] = rows
            }
            if !deleted.isEmpty { try Self.reclaimFreePages(db, atLeast: 0) }
            return deleted
        }
    }
}
