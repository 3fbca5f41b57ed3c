import CostModel
import Foundation
import GRDB
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
@testable import SourceKit
@testable import Storage
import Synchronization
import Testing
@testable import ZenExporter

/// 1,000 tenants of a hosting operator: storage bytes and VPS rows, the same in SQLite and
/// PostgreSQL. Tenant i stores ((i × 7919) mod 1000 + 1) MB and runs i mod 5 VPS.
enum ThousandTenants {
    static let count = 1000
    static func id(_ index: Int) -> String { String(format: "t-%04d", index) }
    static func storage(_ index: Int) -> Int64 { Int64((index * 7919) % 1000 + 1) * 1_000_000 }
    static func vps(_ index: Int) -> Int { index % 5 }
    static var totalStorage: Double { Double((1...count).map(storage).reduce(0, +)) }
    static var totalVPS: Double { Double((1...count).map(vps).reduce(0, +)) }

    static let queries = """
        queries:
          storage_bytes: "SELECT tenant_id AS tenant, SUM(storage_bytes) AS value FROM sites GROUP BY tenant_id"
          vps_count: "SELECT tenant_id, COUNT(*) FROM vps GROUP BY tenant_id"
    """

    /// The demo estate (chom and shop tagged; 19,698 ₽ of storage and 47,391 ₽ of compute
    /// placed on nobody) with the operator's usage spreading that shared cost.
    static func config(usage: String, maxTenants: Int = 100) throws -> ExporterConfig {
        try ConfigLoader.parse("""
        sources:
          - {name: demo, type: demo}
        usage:
        \(usage)
        allocation:
          max_tenants: \(maxTenants)
          shared:
            split: none
            drivers:
              storage: { usage: app/storage_bytes }
              compute: { usage: app/vps_count }
        """, file: "usage.yaml", environment: ProcessInfo.processInfo.environment)
    }

    /// What tenant i should carry: its storage share of 19,698 and VPS share of 47,391.
    static func expectedCost(_ index: Int) -> Double {
        19_698 * Double(storage(index)) / totalStorage + 47_391 * Double(vps(index)) / totalVPS
    }

    static func writeSQLite(_ path: String) throws {
        let database = try DatabaseQueue(path: path)
        try database.write { db in
            try db.execute(sql: "CREATE TABLE sites (tenant_id TEXT, storage_bytes INTEGER); CREATE TABLE vps (tenant_id TEXT)")
            for index in 1...count {
                // Two sites per tenant: the query's SUM adds them back up.
                let half = storage(index) / 2
                try db.execute(sql: "INSERT INTO sites VALUES (?, ?), (?, ?)", arguments: [id(index), half, id(index), storage(index) - half])
                for _ in 0..<vps(index) { try db.execute(sql: "INSERT INTO vps VALUES (?)", arguments: [id(index)]) }
            }
        }
        try database.close()
    }
}

func scratchDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("usage-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Checks the CHOM invariants on an engine that synced the demo and polled the 1,000 tenants.
func expectThousandTenantsAllocated(_ engine: SyncEngine) async throws {
    let evaluation = await engine.estate.currentEvaluation
    let tenants = evaluation.allocation.tenants.values.compactMap { $0[.rub] }.reduce(Decimal(0), +)
    let unallocated = evaluation.allocation.unallocated.values.compactMap { $0[.rub] }.reduce(Decimal(0), +)
    #expect(tenants + unallocated == Decimal(117_150))
    #expect(unallocated == 0)
    #expect(evaluation.allocation.tenants.count == ThousandTenants.count + 2)  // + chom and shop, tagged
    // Folded for the labels: 100 tenants and other, the sum unchanged to the kopeck.
    #expect(evaluation.tenantCosts.count == 101)
    #expect(evaluation.tenantCosts.values.compactMap { $0[.rub] }.reduce(Decimal(0), +) == tenants)
    #expect(evaluation.tenantsFolded == ThousandTenants.count + 2 - 100)
    for index in [1, 7, 500, 999, 1000] {
        let got = try #require(evaluation.allocation.tenants[ThousandTenants.id(index)]?[.rub])
        #expect(abs(NSDecimalNumber(decimal: got).doubleValue - ThousandTenants.expectedCost(index)) < 0.02, "tenant \(index)")
    }
    // As exported: kopeck shares, so the scraped figures add up too.
    let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
    let exported = metrics.sum("infrazen_tenant_cost_monthly") + metrics.sum("infrazen_unallocated_cost_monthly")
    #expect(abs(exported - 117_150) < 1e-6)
    #expect(metrics.values("infrazen_tenant_cost_monthly").count == 101)
    #expect(metrics.value("infrazen_usage_query_up", ["usage": "app", "dimension": "storage_bytes"]) == 1)
    #expect(metrics.sum("infrazen_tenant_usage", where: { $0["dimension"] == "storage_bytes" }) == ThousandTenants.totalStorage)
}

@Suite("Usage sources: SQLite")
struct SQLiteUsageTests {
    /// The 1,000 tenants written to an SQLite file in `directory`, and a config that reads them.
    static func thousandTenantsFile(in directory: URL) throws -> (path: String, config: ExporterConfig) {
        let path = directory.appendingPathComponent("app.db").path
        try ThousandTenants.writeSQLite(path)
        return (path, try ThousandTenants.config(usage: "  - name: app\n    type: sqlite\n    path: \(path)\n" + ThousandTenants.queries))
    }

    @Test("1,000 tenants from an SQLite file: tenant costs plus unallocated equal the infrastructure total exactly")
    func thousandTenants() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, config) = try Self.thousandTenantsFile(in: directory)
        let engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        await engine.syncAllOnce()
        try await expectThousandTenantsAllocated(engine)
    }

    @Test("a query that errors keeps the last good values, reports itself down and is counted")
    func erroringQueryKeepsValues() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (path, config) = try Self.thousandTenantsFile(in: directory)
        let engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        await engine.syncAllOnce()
        let before = await engine.estate.currentEvaluation.tenantCosts

        let database = try DatabaseQueue(path: path)
        try await database.write { try $0.execute(sql: "DROP TABLE sites") }
        try database.close()
        await engine.usage.pollAllOnce()

        let status = try #require(await engine.estate.usageStatus(of: UsageReference(usage: "app", dimension: "storage_bytes")))
        #expect(status.up == false)
        #expect(status.errors == ["query": 1])
        #expect(status.tenantValues.count == ThousandTenants.count)
        #expect(await engine.estate.currentEvaluation.tenantCosts == before)
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_usage_query_up", ["usage": "app", "dimension": "storage_bytes"]) == 0)
        #expect(metrics.value("infrazen_usage_query_errors_total", ["usage": "app", "dimension": "storage_bytes", "reason": "query"]) == 1)
        #expect(metrics.value("infrazen_usage_query_up", ["usage": "app", "dimension": "vps_count"]) == 1)
        #expect(metrics.sum("infrazen_tenant_usage", where: { $0["dimension"] == "storage_bytes" }) == ThousandTenants.totalStorage)
    }

    @Test("a query that runs past its timeout is interrupted, keeps the last good values and is counted")
    func slowQueryTimesOut() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("app.db").path
        let database = try DatabaseQueue(path: path)
        try await database.write { db in
            try db.execute(sql: "CREATE TABLE usage (tenant TEXT, value INTEGER); INSERT INTO usage VALUES ('t-1', 10), ('t-2', 30)")
            try db.execute(sql: "CREATE VIEW usage_now AS SELECT tenant, value FROM usage")
        }
        let config = try ConfigLoader.parse("""
        sources: [{name: demo, type: demo}]
        usage:
          - {name: app, type: sqlite, path: \(path), timeout: 2s, queries: {storage_bytes: "SELECT tenant, value FROM usage_now"}}
        """, file: "t.yaml", environment: [:])
        let engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test"))
        let reference = UsageReference(usage: "app", dimension: "storage_bytes")
        // The first, trivial poll gives the values to keep. On a loaded run (the whole suite
        // in parallel on two cores) even it can pass 2 s: polled again until it has answered.
        for _ in 0..<5 where await engine.estate.usageStatus(of: reference)?.hasData != true { await engine.usage.pollAllOnce() }
        let timeoutsBefore = await engine.estate.usageStatus(of: reference)?.errors["timeout"] ?? 0
        // Now the view counts to a billion: minutes of work, cut at 2 s.
        try await database.write { db in
            try db.execute(sql: """
                DROP VIEW usage_now;
                CREATE VIEW usage_now AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000)
                    SELECT 't-1' AS tenant, COUNT(*) AS value FROM n;
                """)
        }
        try database.close()
        let started = ContinuousClock.now
        await engine.usage.pollAllOnce()
        // Counting to a billion takes minutes; well under that means it was cut. The bound is
        // loose because CI runs the whole suite in parallel on two cores.
        #expect(ContinuousClock.now - started < .seconds(15))
        let status = try #require(await engine.estate.usageStatus(of: reference))
        #expect(status.up == false)
        #expect(status.errors.filter { $0.key != "timeout" }.isEmpty)
        #expect(status.errors["timeout"] == timeoutsBefore + 1)
        #expect(status.values == ["t-1": 10, "t-2": 30])
    }

    @Test("a tenant that is an e-mail never becomes a label: it is counted under other and as a rejected row")
    func emailTenantsAreRejected() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("app.db").path
        let database = try DatabaseQueue(path: path)
        try await database.write { db in
            try db.execute(sql: """
                CREATE TABLE usage (tenant TEXT, value INTEGER);
                INSERT INTO usage VALUES ('t-1', 10), ('jane.doe@customer.example', 5), ('Acme Corp', 7), (42, 1);
                """)
        }
        try database.close()
        let storePath = directory.appendingPathComponent("infrazen.db").path
        let config = try ConfigLoader.parse("""
        sources: [{name: demo, type: demo}]
        usage:
          - {name: app, type: sqlite, path: \(path), queries: {storage_bytes: "SELECT tenant, value FROM usage"}}
        """, file: "t.yaml", environment: [:])
        let store = try Store(path: storePath)
        let engine = SyncEngine(config: config, store: store, logger: Logger(label: "test"))
        await engine.syncAllOnce()
        try store.close()
        let metrics = String(buffer: engine.estate.exposition.rendered.body)
        let parsed = ParsedExposition(metrics)
        #expect(parsed.value("infrazen_tenant_usage", ["tenant": "t-1", "dimension": "storage_bytes"]) == 10)
        #expect(parsed.value("infrazen_tenant_usage", ["tenant": "42", "dimension": "storage_bytes"]) == 1)
        #expect(parsed.value("infrazen_tenant_usage", ["tenant": "other", "dimension": "storage_bytes"]) == 12)
        #expect(parsed.value("infrazen_usage_query_rejected_rows", ["usage": "app", "dimension": "storage_bytes"]) == 2)
        #expect(!metrics.contains("customer.example") && !metrics.contains("Acme Corp"))
        let stored = try Data(contentsOf: URL(fileURLWithPath: storePath))
            + ((try? Data(contentsOf: URL(fileURLWithPath: storePath + "-wal"))) ?? Data())
        #expect(stored.range(of: Data("customer.example".utf8)) == nil)
    }

    @Test("a capacity scope fed by a usage query forecasts exhaustion from its stored daily totals: +10 GB a day, 50 GB left → 5 days")
    func capacityExhaustionFromUsageHistory() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("app.db").path
        let database = try DatabaseQueue(path: path)
        try await database.write { try $0.execute(sql: "CREATE TABLE disk (used INTEGER); INSERT INTO disk VALUES (150000000000)") }
        try database.close()
        let config = try ConfigLoader.parse("""
        sources: [{name: demo, type: demo}]
        usage:
          - {name: app, type: sqlite, path: \(path), queries: {disk_bytes: "SELECT used FROM disk"}}
        capacity:
          - {scope: app-disk, dimension: storage_bytes, used_from: usage/app/disk_bytes, total: 200GB}
        """, file: "t.yaml", environment: [:])
        let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
        let store = try Store()
        let today = LocalDay(now, in: config.reporting.timeZone)
        for daysAgo in 1...5 {  // 100, 110, 120, 130, 140 GB on the five days before
            try await store.saveUsage([UsageValue.total: Double(150 - 10 * daysAgo) * 1e9], source: "app", dimension: "disk_bytes",
                                      fetchedAt: now, day: today.adding(days: -daysAgo), retentionDays: 400)
        }
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "test"))
        engine.clock = { now }
        await engine.usage.pollAllOnce()
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_capacity_used", ["scope": "app-disk", "dimension": "storage_bytes"]) == 150e9)
        #expect(metrics.value("infrazen_capacity_headroom_ratio", ["scope": "app-disk", "dimension": "storage_bytes"]) == 0.25)
        let seconds = try #require(metrics.value("infrazen_capacity_exhaustion_seconds", ["scope": "app-disk", "dimension": "storage_bytes"]))
        #expect(abs(seconds - 5 * 86_400) < 1)
    }

    @Test("a restart serves the stored usage values before the first poll")
    func restoresUsage() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (path, config) = try Self.thousandTenantsFile(in: directory)
        let storePath = directory.appendingPathComponent("infrazen.db").path
        let first = SyncEngine(config: config, store: try Store(path: storePath), logger: Logger(label: "test"))
        await first.syncAllOnce()
        let before = await first.estate.currentEvaluation.tenantCosts
        try first.store.close()

        try FileManager.default.removeItem(atPath: path)  // nothing to poll: values can only come from the store
        let second = SyncEngine(config: config, store: try Store(path: storePath), logger: Logger(label: "test"))
        await second.restore()
        #expect(await second.estate.currentEvaluation.tenantCosts == before)
        let status = try #require(await second.estate.usageStatus(of: UsageReference(usage: "app", dimension: "vps_count")))
        #expect(status.hasData && status.lastSuccess != nil)
        try second.store.close()
    }
}

@Suite("Usage sources: PostgreSQL", .serialized)
struct PostgresUsageTests {
    /// Set by ./scripts/test, which starts a throwaway PostgreSQL from Debian on 127.0.0.1.
    static var dsn: String? { ProcessInfo.processInfo.environment["ZEN_TEST_POSTGRES_DSN"] }

    static func connection() async throws -> PostgresConnection {
        let dsn = try #require(Self.dsn.flatMap(PostgresDSN.init), "ZEN_TEST_POSTGRES_DSN is not set: run ./scripts/test, which starts PostgreSQL")
        let configuration = PostgresConnection.Configuration(host: dsn.host, port: dsn.port, username: dsn.user, password: dsn.password,
                                                            database: dsn.database, tls: .disable)
        return try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "test"))
    }

    /// Runs each statement in turn (the extended protocol takes one per query) and always
    /// closes the connection, which postgres-nio insists on.
    static func execute(_ statements: String...) async throws {
        let connection = try await connection()
        do {
            for statement in statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Logger(label: "test")) }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    /// A fresh schema holding the 1,000 tenants, by the same formulas as ThousandTenants in SQL:
    /// two sites per tenant, i mod 5 VPS.
    static func createTenants(_ schema: String) async throws {
        let id = "'t-' || lpad(i::text, 4, '0')"
        let bytes = "(((i * 7919) % 1000 + 1) * 1000000::bigint)"
        try await execute(
            "CREATE SCHEMA \(schema)",
            "CREATE TABLE \(schema).sites (tenant_id text NOT NULL, storage_bytes bigint NOT NULL)",
            "CREATE TABLE \(schema).vps (tenant_id text NOT NULL)",
            "INSERT INTO \(schema).sites SELECT \(id), \(bytes) / 2 FROM generate_series(1, 1000) i",
            "INSERT INTO \(schema).sites SELECT \(id), \(bytes) - \(bytes) / 2 FROM generate_series(1, 1000) i",
            "INSERT INTO \(schema).vps SELECT \(id) FROM generate_series(1, 1000) i, generate_series(1, 4) k WHERE k <= i % 5")
    }

    static func usageYAML(_ schema: String, timeout: String = "10s") -> String {
        """
          - name: app
            type: postgres
            dsn_env: ZEN_TEST_POSTGRES_DSN
            timeout: \(timeout)
            queries:
              storage_bytes: "SELECT tenant_id AS tenant, SUM(storage_bytes) AS value FROM \(schema).sites GROUP BY tenant_id"
              vps_count: "SELECT tenant_id, COUNT(*) FROM \(schema).vps GROUP BY tenant_id"
        """
    }

    static func schemaName() -> String { "zen_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased() }

    @Test("1,000 tenants from PostgreSQL: tenant costs plus unallocated equal the infrastructure total exactly")
    func thousandTenants() async throws {
        let schema = Self.schemaName()
        try await Self.createTenants(schema)
        let engine = SyncEngine(config: try ThousandTenants.config(usage: Self.usageYAML(schema)), store: try Store(), logger: Logger(label: "test"))
        await engine.syncAllOnce()
        try await expectThousandTenantsAllocated(engine)
        try await Self.execute("DROP SCHEMA \(schema) CASCADE")
    }

    @Test("a PostgreSQL query that errors or outlives its timeout keeps the last good values and is counted; the password never shows")
    func failuresKeepValues() async throws {
        let schema = Self.schemaName()
        try await Self.createTenants(schema)
        let recorder = LogRecorder()
        // 3 s, not 1: the good first poll runs under the same limit, and a loaded machine
        // (the whole suite at once) took it past 1 s; pg_sleep(60) is still far beyond.
        let engine = SyncEngine(config: try ThousandTenants.config(usage: Self.usageYAML(schema, timeout: "3s")), store: try Store(),
                                logger: Logger(label: "test") { _ in recorder })
        await engine.syncAllOnce()
        let good = await engine.estate.currentEvaluation.tenantCosts

        // The VPS table now answers only after 60 s of pg_sleep; the sites table is gone.
        try await Self.execute(
            "ALTER TABLE \(schema).vps RENAME TO vps_rows",
            "CREATE VIEW \(schema).vps AS SELECT tenant_id FROM \(schema).vps_rows, (SELECT pg_sleep(60)) pause",
            "DROP TABLE \(schema).sites")
        let started = ContinuousClock.now
        await engine.usage.pollAllOnce()
        // Far under the minute of pg_sleep: the query was cancelled (loose for a loaded CI machine).
        #expect(ContinuousClock.now - started < .seconds(15))

        let storage = try #require(await engine.estate.usageStatus(of: UsageReference(usage: "app", dimension: "storage_bytes")))
        let vps = try #require(await engine.estate.usageStatus(of: UsageReference(usage: "app", dimension: "vps_count")))
        #expect(storage.errors == ["query": 1] && storage.up == false)
        #expect(vps.errors == ["timeout": 1] && vps.up == false)
        #expect(storage.tenantValues.count == ThousandTenants.count && vps.tenantValues.count == 800)
        #expect(await engine.estate.currentEvaluation.tenantCosts == good)

        let password = try #require(Self.dsn.flatMap(PostgresDSN.init)?.password)
        let exposition = String(buffer: engine.estate.exposition.rendered.body)
        #expect(!exposition.contains(password))
        #expect(!recorder.text.contains(password))
        #expect(recorder.text.contains("usage query failed"))
        try await Self.execute("DROP SCHEMA \(schema) CASCADE")
    }
}

/// A swift-log handler that keeps every line, to check what the daemon would log.
final class LogRecorder: LogHandler, @unchecked Sendable {
    private let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let fields = (metadata ?? [:]).map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
        lines.withLock { $0.append("\(level) \(message) \(fields)") }
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}
