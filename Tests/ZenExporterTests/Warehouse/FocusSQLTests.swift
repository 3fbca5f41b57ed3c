import AsyncHTTPClient
import CostModel
import Foundation
import Logging
import NIOCore
@testable import ProviderWarehouse
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// A small FOCUS table, loaded by hand into each engine, whose sums are worked out below.
/// November 2026, days 18–20 at midnight UTC (the same dates in Moscow), and one October row.
enum HandTable {
    struct Row {
        var cost: String
        var day: String
        var category = "Usage"
        var serviceCategory = "Compute"
        var service = "Cloud Server"
        var resource: String
        var name = ""
        var tags = ""
    }

    static let rows: [Row] = [
        Row(cost: "100.10", day: "2026-11-18", resource: "vm-1", name: "web-1", tags: #"{"tenant":"acme"}"#),
        Row(cost: "100.10", day: "2026-11-19", resource: "vm-1", name: "web-1", tags: #"{"tenant":"acme"}"#),
        Row(cost: "100.10", day: "2026-11-20", resource: "vm-1", name: "web-1", tags: #"{"tenant":"acme"}"#),
        // Half a hundredth of a kopeck, in a second row of the same day: the sum must keep it.
        Row(cost: "0.00005", day: "2026-11-20", resource: "vm-1", name: "web-1", tags: #"{"tenant":"acme"}"#),
        Row(cost: "12.345", day: "2026-11-18", serviceCategory: "Storage", service: "Block Storage", resource: "vol-1"),
        Row(cost: "12.345", day: "2026-11-19", serviceCategory: "Storage", service: "Block Storage", resource: "vol-1"),
        Row(cost: "12.345", day: "2026-11-20", serviceCategory: "Storage", service: "Block Storage", resource: "vol-1"),
        // In the 90-day window, not in November's month-to-date.
        Row(cost: "999.99", day: "2026-10-31", serviceCategory: "Storage", service: "Block Storage", resource: "vol-1"),
        Row(cost: "250.00", day: "2026-11-18", serviceCategory: "Databases", service: "Managed PostgreSQL", resource: "db-1"),
        Row(cost: "249.99", day: "2026-11-19", serviceCategory: "Databases", service: "Managed PostgreSQL", resource: "db-1"),
        Row(cost: "250.01", day: "2026-11-20", serviceCategory: "Databases", service: "Managed PostgreSQL", resource: "db-1"),
        Row(cost: "-10.00", day: "2026-11-20", category: "Credit", serviceCategory: "Databases", service: "Managed PostgreSQL", resource: "db-1"),
        // No resource and no service: billed as resource "Tax|acct-1", service "Tax", as `type: focus` does.
        Row(cost: "20.00", day: "2026-11-20", category: "Tax", serviceCategory: "", service: "", resource: ""),
    ]

    /// By hand: vm-1 300.30005, vol-1 37.035, db-1 740.00 (750.00 less the 10.00 credit), tax
    /// 20.00: 1097.33505, exported rounded once to 1097.34.
    static let monthToDate = Decimal(string: "1097.34")!
    static let windowPerResource: [String: Decimal] = [
        "vm-1": Decimal(string: "300.30005")!, "vol-1": Decimal(string: "1037.025")!, "db-1": Decimal(string: "740.00")!,
        "Tax|acct-1": Decimal(string: "20.00")!,
    ]
    /// Daily run rates: usage on the last day with usage (the credit is not usage).
    static let dailyRate: [String: Decimal] = [
        "vm-1": Decimal(string: "100.10005")!, "vol-1": Decimal(string: "12.345")!, "db-1": Decimal(string: "250.01")!,
    ]
    static let now = ISO8601DateFormatter().date(from: "2026-11-21T09:00:00Z")!

    static func values(_ quote: (String) -> String, timestamp: (String) -> String) -> String {
        rows.map { row in
            let fields = [row.cost, "'RUB'", timestamp(row.day), quote(row.category), quote(row.serviceCategory), quote(row.service),
                          "'Yandex Cloud'", "'acct-1'", quote(row.resource), quote(row.name), "''", "'ru-central1'", quote(row.tags)]
            return "(" + fields.joined(separator: ", ") + ")"
        }.joined(separator: ", ")
    }

    static let columnList = "BilledCost, BillingCurrency, ChargePeriodStart, ChargeCategory, ServiceCategory, ServiceName, "
        + "ServiceProviderName, SubAccountId, ResourceId, ResourceName, ResourceType, RegionId, Tags"

    /// What the source and the daemon made of the table, checked against the hand sums.
    static func expectHandSums(config: ExporterConfig) async throws {
        let source = try #require(config.sources.first).makeSource()
        let window = CollectionWindow(now: now, historyDays: 90, reporting: config.reporting)
        let snapshot = try await source.collect(window)
        var perResource: [String: Decimal] = [:]
        for row in snapshot.dailyCosts { perResource[row.resourceID, default: 0] += row.cost.amount }
        #expect(perResource == windowPerResource)
        let resources = try #require(snapshot.described?.resources)
        var rates: [String: Decimal] = [:]
        for resource in resources { rates[resource.id] = resource.rate.amount }
        #expect(rates == dailyRate)
        let vm = try #require(resources.first { $0.id == "vm-1" })
        #expect(vm.provider == "yandex cloud" && vm.name == "web-1" && vm.category == .compute && vm.region == "ru-central1")
        #expect(vm.tags == ["tenant": "acme"])
        #expect(snapshot.endpointFailures.isEmpty)

        let (engine, _) = try recordingEngine(config)
        #expect(await engine.syncAllOnce() == [])
        let monthToDate = await engine.estate.currentEvaluation.monthToDate.lines.filter { $0.line.source == "wh" }
        #expect(monthToDate.map(\.amount).reduce(0, +) == Self.monthToDate)
        #expect(monthToDate.filter { $0.line.service == "Managed PostgreSQL" }.map(\.amount).reduce(0, +) == Decimal(string: "740.00")!)
    }
}

extension HandTable {
    /// A daemon at `now` on `config` whose log lines are kept, to look for credentials in them.
    static func recordingEngine(_ config: ExporterConfig) throws -> (SyncEngine, LogRecorder) {
        let recorder = LogRecorder()
        var engine = SyncEngine(config: config, store: try Store(), logger: Logger(label: "test") { _ in recorder })
        engine.clock = { now }
        return (engine, recorder)
    }

    /// The same table twice is `unchanged` by its fingerprint; after `change`, it is read again.
    static func expectFingerprint(_ config: ExporterConfig, change: () async throws -> Void) async throws {
        let source = try #require(config.sources.first).makeSource()
        var window = CollectionWindow(now: now, historyDays: 7, reporting: config.reporting)
        let first = try await source.collect(window)
        window.previousFingerprint = first.fingerprint
        #expect(first.fingerprint != nil && !first.unchanged && !first.dailyCosts.isEmpty)
        #expect(try await source.collect(window).unchanged)
        try await change()
        let changed = try await source.collect(window)
        #expect(!changed.unchanged && changed.fingerprint != first.fingerprint && !changed.dailyCosts.isEmpty)
    }

    /// After a sync that ran out of time: a timeout failure, in time, and the hand month-to-date kept.
    static func expectTimedOutKeepingData(_ engine: SyncEngine, within limit: Duration) async throws {
        let started = ContinuousClock.now
        #expect(await engine.syncAllOnce() == ["wh"])
        #expect(ContinuousClock.now - started < limit)
        let status = try #require(await engine.estate.status(of: "wh"))
        #expect(status.errors.keys.map(\.reason) == ["timeout"] && status.up == false)
        let monthToDate = await engine.estate.currentEvaluation.monthToDate.lines.filter { $0.line.source == "wh" }
        #expect(monthToDate.map(\.amount).reduce(0, +) == HandTable.monthToDate)
    }
}

/// Sends SQL to the throwaway ClickHouse that ./scripts/test starts.
enum TestClickHouse {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static func url() throws -> String {
        try #require(environment["ZEN_TEST_CLICKHOUSE_URL"], "ZEN_TEST_CLICKHOUSE_URL is not set: run ./scripts/test, which starts ClickHouse")
    }

    static func password() throws -> String {
        try #require(environment["ZEN_TEST_CLICKHOUSE_PASSWORD"], "ZEN_TEST_CLICKHOUSE_PASSWORD is not set: run ./scripts/test")
    }

    static func execute(_ statements: String...) async throws {
        for sql in statements {
            var request = HTTPClientRequest(url: try url() + "/")
            request.method = .POST
            request.headers.add(name: "X-ClickHouse-User", value: environment["ZEN_TEST_CLICKHOUSE_USER"] ?? "zen")
            request.headers.add(name: "X-ClickHouse-Key", value: try password())
            request.body = .bytes(ByteBuffer(string: sql))
            let response = try await ProviderClient.shared.execute(request, timeout: .seconds(30))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(response.status == .ok, "\(sql.prefix(60)): \(body)")
        }
    }

    static func tableName() -> String { "focus_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased() }

    static func createHandTable(_ table: String) async throws {
        try await execute("""
            CREATE TABLE default.\(table) (BilledCost Decimal(18, 9), BillingCurrency String, ChargePeriodStart DateTime('UTC'),
              ChargeCategory String, ServiceCategory String, ServiceName String, ServiceProviderName String, SubAccountId String,
              ResourceId String, ResourceName String, ResourceType String, RegionId String, Tags String) ENGINE = Memory
            """,
            "INSERT INTO default.\(table) (\(HandTable.columnList)) VALUES "
                + HandTable.values({ "'\($0)'" }, timestamp: { "toDateTime('\($0) 00:00:00', 'UTC')" }))
    }

    static func yaml(_ table: String, timeout: String = "10s", columns: String = "ProviderName: ServiceProviderName") throws -> String {
        """
        sources:
          - name: wh
            type: focus_sql
            engine: clickhouse
            url: \(try url())
            user: \(environment["ZEN_TEST_CLICKHOUSE_USER"] ?? "zen")
            password_env: ZEN_TEST_CLICKHOUSE_PASSWORD
            table: default.\(table)
            timeout: \(timeout)
            retries: 0
            columns: {\(columns)}
        """
    }

    static func config(_ yaml: String) throws -> ExporterConfig {
        try ConfigLoader.parse(yaml, file: "wh.yaml", environment: environment)
    }
}

@Suite("focus_sql on ClickHouse", .serialized)
struct FocusSQLClickHouseTests {
    @Test("month-to-date, per-resource sums and run rates equal the hand sums to the micro-unit")
    func handSums() async throws {
        let table = TestClickHouse.tableName()
        try await TestClickHouse.createHandTable(table)
        try await HandTable.expectHandSums(config: try TestClickHouse.config(try TestClickHouse.yaml(table)))
        try await TestClickHouse.execute("DROP TABLE default.\(table)")
    }

    @Test("an unchanged table is unchanged by its fingerprint; a new row changes it")
    func fingerprint() async throws {
        let table = TestClickHouse.tableName()
        try await TestClickHouse.createHandTable(table)
        try await HandTable.expectFingerprint(try TestClickHouse.config(try TestClickHouse.yaml(table))) {
            try await TestClickHouse.execute("INSERT INTO default.\(table) (\(HandTable.columnList)) VALUES "
                + "(0.01, 'RUB', toDateTime('2026-11-20 05:00:00', 'UTC'), 'Usage', 'Compute', 'x', 'y', 'a', 'vm-9', '', '', '', '')")
        }
        try await TestClickHouse.execute("DROP TABLE default.\(table)")
    }

    @Test("a column that does not exist is a named query failure; the password shows nowhere")
    func wrongColumn() async throws {
        let table = TestClickHouse.tableName()
        try await TestClickHouse.createHandTable(table)
        let (engine, recorder) = try HandTable.recordingEngine(
            try TestClickHouse.config(try TestClickHouse.yaml(table, columns: "ProviderName: ServiceProviderName, ResourceName: NoSuchColumn")))
        #expect(await engine.syncAllOnce() == ["wh"])
        let status = try #require(await engine.estate.status(of: "wh"))
        #expect(status.errors == [.init(endpoint: "resources", reason: "query"): 1])
        #expect(status.lastError?.contains("NoSuchColumn") == true, "\(status.lastError ?? "")")
        let password = try TestClickHouse.password()
        #expect(!recorder.text.contains(password) && status.lastError?.contains(password) == false)
        #expect(!String(buffer: engine.estate.exposition.rendered.body).contains(password))
        try await TestClickHouse.execute("DROP TABLE default.\(table)")
    }

    @Test("a query slower than the timeout is a timeout failure; the last good month-to-date stays")
    func timeoutKeepsData() async throws {
        let table = TestClickHouse.tableName()
        try await TestClickHouse.createHandTable(table)
        let (engine, recorder) = try HandTable.recordingEngine(try TestClickHouse.config(try TestClickHouse.yaml(table, timeout: "1s")))
        // The good first sync with time to spare: under the whole suite's load it once took
        // over the 1 s the slow one is held to (the same engine state, a longer timeout).
        var patient = engine
        patient.sources = engine.sources.map { configured in
            var longer = configured
            longer.config.timeout = .seconds(30)
            return longer
        }
        #expect(await patient.syncAllOnce() == [])
        // The table becomes a view that sleeps 0.2 s a row: 2.6 s for its 13 rows.
        try await TestClickHouse.execute("RENAME TABLE default.\(table) TO default.\(table)_rows",
                                         "CREATE VIEW default.\(table) AS SELECT * FROM default.\(table)_rows WHERE sleepEachRow(0.2) = 0")
        try await HandTable.expectTimedOutKeepingData(engine, within: .seconds(10))
        #expect(!recorder.text.contains(try TestClickHouse.password()))
        try await TestClickHouse.execute("DROP TABLE default.\(table)", "DROP TABLE default.\(table)_rows")
    }
}

@Suite("focus_sql on PostgreSQL", .serialized)
struct FocusSQLPostgresTests {
    static func createHandTable(_ schema: String) async throws {
        let text = ["ChargeCategory", "ServiceCategory", "ServiceName", "ServiceProviderName", "SubAccountId", "ResourceId",
                    "ResourceName", "ResourceType", "RegionId"].map { "\"\($0)\" text" }.joined(separator: ", ")
        let columns = HandTable.columnList.split(separator: ",").map { "\"\($0.trimmingCharacters(in: .whitespaces))\"" }.joined(separator: ", ")
        try await PostgresUsageTests.execute(
            "CREATE SCHEMA \(schema)",
            "CREATE TABLE \(schema).focus (\"BilledCost\" numeric(20, 10), \"BillingCurrency\" text, \"ChargePeriodStart\" timestamptz, \(text), \"Tags\" jsonb)",
            "INSERT INTO \(schema).focus (\(columns)) VALUES "
                + HandTable.values({ $0.isEmpty ? "NULL" : "'\($0)'" }, timestamp: { "'\($0) 00:00:00+00'" }))
    }

    static func yaml(_ schema: String, timeout: String = "10s") -> String {
        """
        sources:
          - name: wh
            type: focus_sql
            engine: postgres
            dsn_env: ZEN_TEST_POSTGRES_DSN
            table: \(schema).focus
            timeout: \(timeout)
            retries: 0
            columns: {ProviderName: ServiceProviderName}
        """
    }

    static func config(_ yaml: String) throws -> ExporterConfig {
        try ConfigLoader.parse(yaml, file: "wh.yaml", environment: ProcessInfo.processInfo.environment)
    }

    @Test("month-to-date, per-resource sums and run rates equal the hand sums to the micro-unit (NULLs for empty text)")
    func handSums() async throws {
        let schema = PostgresUsageTests.schemaName()
        try await Self.createHandTable(schema)
        try await HandTable.expectHandSums(config: try Self.config(Self.yaml(schema)))
        try await PostgresUsageTests.execute("DROP SCHEMA \(schema) CASCADE")
    }

    @Test("an unchanged table is unchanged by its fingerprint; a restated amount changes it")
    func fingerprint() async throws {
        let schema = PostgresUsageTests.schemaName()
        try await Self.createHandTable(schema)
        try await HandTable.expectFingerprint(try Self.config(Self.yaml(schema))) {
            try await PostgresUsageTests.execute("UPDATE \(schema).focus SET \"BilledCost\" = 12.346 WHERE \"BilledCost\" = 12.345")
        }
        try await PostgresUsageTests.execute("DROP SCHEMA \(schema) CASCADE")
    }

    @Test("a column that does not exist is a named query failure naming it")
    func wrongColumn() async throws {
        let schema = PostgresUsageTests.schemaName()
        try await Self.createHandTable(schema)
        let yaml = Self.yaml(schema).replacingOccurrences(of: "{ProviderName: ServiceProviderName}",
                                                          with: "{ProviderName: ServiceProviderName, ResourceName: NoSuchColumn}")
        let (engine, _) = try HandTable.recordingEngine(try Self.config(yaml))
        #expect(await engine.syncAllOnce() == ["wh"])
        let status = try #require(await engine.estate.status(of: "wh"))
        #expect(status.errors == [.init(endpoint: "resources", reason: "query"): 1])
        #expect(status.lastError?.contains("NoSuchColumn") == true, "\(status.lastError ?? "")")
        try await PostgresUsageTests.execute("DROP SCHEMA \(schema) CASCADE")
    }

    @Test("pg_sleep past statement_timeout is a timeout failure; the last good data stays; the password shows nowhere")
    func timeoutKeepsData() async throws {
        let schema = PostgresUsageTests.schemaName()
        try await Self.createHandTable(schema)
        // 3 s, not 1: the first (good) sync connects and reads within the same limit, and under
        // the whole suite's load it took over a second; pg_sleep(60) is far past either.
        let (engine, recorder) = try HandTable.recordingEngine(try Self.config(Self.yaml(schema, timeout: "3s")))
        #expect(await engine.syncAllOnce() == [])
        try await PostgresUsageTests.execute(
            "ALTER TABLE \(schema).focus RENAME TO focus_rows",
            "CREATE VIEW \(schema).focus AS SELECT focus_rows.* FROM \(schema).focus_rows, (SELECT pg_sleep(60)) pause")
        try await HandTable.expectTimedOutKeepingData(engine, within: .seconds(15))
        let dsn = try #require(PostgresUsageTests.dsn.flatMap(PostgresDSN.init))
        let password = try #require(dsn.password)
        let lastError = await engine.estate.status(of: "wh")?.lastError
        #expect(!recorder.text.contains(password) && lastError?.contains(password) == false)
        // Whichever stops it first names the limit: the server (its statement_timeout, and which
        // server) or the sync's own deadline.
        let server = "postgres://\(dsn.host):\(dsn.port)/\(dsn.database ?? "")"
        #expect(lastError == "\(server) cancelled the query at statement_timeout 3s" || lastError == "no answer within 3s",
                "\(lastError ?? "")")
        try await PostgresUsageTests.execute("DROP SCHEMA \(schema) CASCADE")
    }
}

@Suite("focus_sql config")
struct FocusSQLConfigTests {
    @Test("a table or column that is not a plain identifier is refused at its line:column, before any SQL is sent")
    func badIdentifiers() throws {
        let found = configIssues("""
            sources:
              - name: wh
                type: focus_sql
                engine: clickhouse
                url: http://127.0.0.1:8123
                table: "focus`; DROP TABLE x"
                columns:
                  Tags: "Tags` OR 1=1"
                  BilledCost: ~
            """)
        #expect(found.count == 3, "\(found)")
        let table = try #require(found.first { $0.key.hasSuffix("table") })
        #expect(table.line == 6 && table.column == 12 && table.message.contains("not a plain identifier"))
        let tags = try #require(found.first { $0.key.hasSuffix("columns.Tags") })
        #expect(tags.line == 8 && tags.column == 13)
        let cost = try #require(found.first { $0.key.hasSuffix("columns.BilledCost") })
        #expect(cost.line == 9 && cost.message.contains("required"))
    }

    @Test("credentials stay out of URLs and plain DSNs; the engine's keys are its own")
    func credentialsRefused() throws {
        let clickhouse = configIssues("""
            sources:
              - {name: wh, type: focus_sql, engine: clickhouse, url: "http://zen:hunter2@127.0.0.1:8123", table: focus}
            """)
        #expect(clickhouse.count == 1 && clickhouse.first?.message.contains("not in the URL") == true)
        #expect(!clickhouse.description.contains("hunter2"))
        let postgres = configIssues("""
            sources:
              - {name: wh, type: focus_sql, engine: postgres, dsn: "postgres://zen:hunter2@127.0.0.1/db", table: focus}
            """)
        #expect(postgres.count == 1 && postgres.first?.message.contains("password_env") == true)
        #expect(!postgres.description.contains("hunter2"))
        let mixed = configIssues("""
            sources:
              - {name: wh, type: focus_sql, engine: postgres, url: "http://127.0.0.1:8123", dsn: "postgres://zen@127.0.0.1/db", table: focus}
            """)
        #expect(mixed.count == 1 && mixed.first?.key == "sources[0].url")
        let loads = configIssues("""
            sources:
              - {name: wh, type: focus_sql, engine: postgres, dsn: "postgres://zen@127.0.0.1/db", password_env: PW, table: billing.focus_v1}
            """, environment: ["PW": "s3cret"])
        #expect(loads.isEmpty)
    }

    @Test("docs/providers/focus-sql.md prints the fingerprint query as it is sent, for its example window")
    func documentedQuery() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../..")
        let doc = try String(contentsOf: root.appendingPathComponent("docs/providers/focus-sql.md"), encoding: .utf8)
        let queries = WarehouseQueries(dialect: WarehouseDialect(engine: .clickhouse), table: ["billing", "focus_v1"], columns: WarehouseColumns())
        // 2026-08-24 and 2026-11-22 at 00:00 in Moscow: the 90 days up to 2026-11-21.
        let sql = queries.fingerprint(from: Date(timeIntervalSince1970: 1_787_518_800), to: Date(timeIntervalSince1970: 1_795_294_800)).sql
        #expect(doc.contains(sql), "\(sql)")
        // The daily query's sum columns, as the page prints them, are the ones sent.
        let daily = queries.daily(from: Date(), to: Date(), timeZone: "Europe/Moscow").sql
        let printedSums = doc.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("toString(ifNull(sum") || $0.hasPrefix("toString(countIf(") }
            .map { $0.hasSuffix(",") ? String($0.dropLast()) : $0 }
        #expect(printedSums.count == 3, "\(printedSums)")
        for printed in printedSums { #expect(daily.contains(printed), "\(printed)") }
    }

    @Test("the examples of docs/providers/focus-sql.md and the README load")
    func documentedExamples() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../..")
        let passwordFile = FileManager.default.temporaryDirectory.appendingPathComponent("zen-ch-\(UUID().uuidString)").path
        try "secret\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: passwordFile)
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        var loaded: [String] = []
        for page in ["docs/providers/focus-sql.md", "README.md"] {
            let text = try String(contentsOf: root.appendingPathComponent(page), encoding: .utf8)
            for block in text.components(separatedBy: "```yaml\n").dropFirst().compactMap({ $0.components(separatedBy: "```").first })
            where block.contains("type: focus_sql") {
                let yaml = block.replacingOccurrences(of: "/etc/zen-exporter/clickhouse-password", with: passwordFile)
                let config = try ConfigLoader.parse(yaml, file: page, environment: ["FINOPS_PG_PASSWORD": "pw"])
                loaded += config.sources.map(\.name)
            }
        }
        #expect(loaded == ["warehouse", "warehouse-pg", "warehouse"])
    }
}

@Suite("focus_sql TabSeparated stream")
struct TabSeparatedLinesTests {
    @Test("rows split across chunks at every byte, with escaped tab, line feed and backslash, read back whole")
    func chunkBoundaries() throws {
        // ClickHouse's TabSeparated: a tag value holding a tab, a line break and a backslash.
        let body = "2026-11-20\tvm-1\t{\"note\":\"a\\tb\\nc\\\\d\"}\t100.10005\n2026-11-20\tTax|acct-1\t\t20.000000000000\n"
        let expected = [["2026-11-20", "vm-1", "{\"note\":\"a\tb\nc\\d\"}", "100.10005"], ["2026-11-20", "Tax|acct-1", "", "20.000000000000"]]
        let bytes = Array(body.utf8)
        for split in 0...bytes.count {
            var lines = TabSeparatedLines()
            var rows: [[String]] = []
            try lines.feed(ByteBuffer(bytes: bytes[..<split]), { rows.append($0) })
            try lines.feed(ByteBuffer(bytes: bytes[split...]), { rows.append($0) })
            try lines.finish { rows.append($0) }
            #expect(rows == expected, "split at \(split)")
        }
    }

    @Test("a line longer than the cap is refused with its row number, in whatever chunks it comes")
    func overlongLineRefused() throws {
        var lines = TabSeparatedLines()
        lines.maxLineBytes = 16
        var rows: [[String]] = []
        try lines.feed(Array("a\tb\n".utf8), { rows.append($0) })       // 4 bytes: kept
        #expect(rows == [["a", "b"]])
        // 20 bytes without a newline, fed 5 at a time: refused before it is all held.
        var refused: TabSeparatedLines.LineTooLong?
        for _ in 0..<4 {
            do { try lines.feed(Array("xxxxx".utf8), { rows.append($0) }) } catch let error as TabSeparatedLines.LineTooLong { refused = error; break }
        }
        #expect(refused?.line == 2 && refused?.limit == 16)
        #expect(refused.map { "\($0)" } == "a line over 16 bytes at row 2")
        #expect("\(TabSeparatedLines.LineTooLong(line: 7, limit: 4 << 20))" == "a line over 4 MiB at row 7")
        // Exactly the cap, newline included in the same chunk, passes.
        var exact = TabSeparatedLines()
        exact.maxLineBytes = 16
        try exact.feed(Array("0123456789abcdef\n".utf8), { rows.append($0) })
        #expect(rows.last == ["0123456789abcdef"])
    }
}
