import CostModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// The daemon's own memory: every sync as a snapshot, each resource's state in it, and the
/// daily cost history that month-to-date and forecasts read. SQLite in WAL mode; one sync is
/// one transaction, so a crash mid-sync leaves the previous snapshot intact.
package final class Store: Sendable {
    package let writer: any DatabaseWriter
    package let logger: Logger

    /// Opens (creating if needed) the database file and applies migrations.
    package init(path: String, logger: Logger = Logger(label: "zen-exporter.store")) throws {
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
    package init() throws {
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
    package static let incrementalVacuum = 2

    /// Test hook (no config key sets it): caps the database at `pages` pages, as a full disk
    /// would (SQLite's `max_page_count` on the connection that writes; SQLite never sets it
    /// below the file's size, so 1 means "no growth"). nil lifts the cap. Returns the cap set.
    @discardableResult
    package func limitPages(_ pages: Int?) async throws -> Int {
        try await writer.barrierWriteWithoutTransaction { db in
            try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(pages.map { max(1, $0) } ?? Int(Int32.max))") ?? 0
        }
    }

    package func close() throws {
        if let pool = writer as? DatabasePool { try pool.close() }
        if let queue = writer as? DatabaseQueue { try queue.close() }
    }

    /// A source's failed sync attempts that finished in [`from`, `to`): how many, and the last one's error.
    package func failedSyncs(source: String, from: Date, to: Date) async throws -> (count: Int, lastError: String?) {
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

    package func snapshotCount(source: String) async throws -> Int {
        try await writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_snapshots WHERE source = ?", arguments: [source]) ?? 0 }
    }

}
