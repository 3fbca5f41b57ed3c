import CostModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// What a restart and the report read back: the newest snapshot, per-scope and per-resource days.
extension Store {
    /// The newest good snapshot of a source, as the daemon serves it after a restart: its
    /// time, extras and fingerprint, and the resources it left current.
    package func latestSnapshot(source: String) async throws -> RestoredSnapshot? {
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

    /// The extras of a source's newest good snapshot that stored any, without its resources:
    /// what the report reads (invoices) where unpacking 100,000 resources would be waste.
    package func latestExtras(source: String) async throws -> SnapshotExtras? {
        try await writer.read { db in
            try Self.latestExtras(db, source: source).map { try JSONDecoder().decode(SnapshotExtras.self, from: Data($0.utf8)) }
        }
    }

    /// A source's per-scope history from `first` on.
    package func scopeHistory(source: String, from first: LocalDay) async throws -> ScopeHistory {
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
    package func resourceDayRange(source: String) async throws -> (first: LocalDay, last: LocalDay)? {
        try await writer.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT MIN(day), MAX(day) FROM resource_daily WHERE source = ?
                """, arguments: [source]), let first = row[0] as Int?, let last = row[1] as Int? else { return nil }
            return (LocalDay(ordinal: first), LocalDay(ordinal: last))
        }
    }

    /// A source's per-resource daily costs from `first` through `last`, oldest first.
    package func resourceCosts(source: String, from first: LocalDay, through last: LocalDay = LocalDay(ordinal: 1 << 30)) async throws -> DailyCostTable {
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
    package func dailyCosts(source: String, from first: LocalDay) async throws -> [DailyCost] {
        try await resourceCosts(source: source, from: first).rows
    }
}
