import CostModel
import FocusFormat
import Foundation
import Ingest
import SourceKit

/// `type: focus_sql`: a FOCUS-shaped table or view in a SQL engine the organisation already
/// runs (ClickHouse over HTTP, PostgreSQL). The engine does the grouping: the exporter sends
/// GROUP BY queries over the sync's window and reads one row per day × resource × service ×
/// currency, never a raw charge row, and hands the result to the engine in exactly the shape
/// `type: focus` produces (`FocusExport.snapshot()`), so that month-to-date, run rates and
/// tenants work unchanged. A cheap fingerprint query (count, latest charge period and sum
/// over the window) finds an unchanged table first. docs/providers/focus-sql.md.
package struct FocusSQLSource: Source {
    struct Settings: SourceSettings {
        var engine: WarehouseDialect.Engine = .clickhouse
        /// ClickHouse's HTTP URL.
        var url = ""
        var user = "default"
        var password: Secret?
        /// PostgreSQL: the DSN, with the password from `password_env`/`password_file` if given.
        var dsn: PostgresDSN?
        var table: [String] = []
        var columns = WarehouseColumns()
    }

    package static let kind = SourceKind(
        settingKeys: ["engine", "url", "dsn", "dsn_env", "dsn_file", "user", "password_env", "password_file", "table", "columns"],
        readSettings: { fields, reader in FocusSQLConfig.read(fields, reader) },
        make: { config in
            FocusSQLSource(settings: config.settings as? Settings ?? Settings(), timeout: config.timeout)
        }
    )

    let settings: Settings
    let timeout: Duration
    let engine: any WarehouseEngine
    let queries: WarehouseQueries
    package var provider: String { "focus" }

    init(settings: Settings, timeout: Duration) {
        self.settings = settings
        self.timeout = timeout
        switch settings.engine {
        case .clickhouse: engine = ClickHouseEngine(url: settings.url, user: settings.user, password: settings.password)
        case .postgres: engine = PostgresEngine(dsn: settings.dsn)
        }
        queries = WarehouseQueries(dialect: WarehouseDialect(engine: settings.engine), table: settings.table, columns: settings.columns)
    }

    package func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        let zone = window.reporting.timeZone
        guard let zoneName = WarehouseQueries.timeZoneName(zone) else {
            throw SyncFailure(endpoint: "config", reason: "config",
                              message: "reporting.timezone \(zone.identifier) is not an IANA name (letters, digits, /, _, -, +), which the query needs")
        }
        // The history window in whole local days, today included, as `type: focus` would bill it.
        let today = LocalDay(window.now, in: zone)
        let first = today.adding(days: -(max(1, window.historyDays) - 1))
        let range = WarehouseWindow(from: first.start(in: zone), to: today.adding(days: 1).start(in: zone), timeZone: zoneName)

        var fingerprint: String?
        var unchanged = false
        var assembly = WarehouseAssembly(readsEffectiveCost: queries.hasEffectiveCost)
        try await engine.withSession(timeout: timeout) { session in
            try await session.run(queries.fingerprint(from: range.from, to: range.to), window: range) { fields in
                fingerprint = "focus_sql-v1|\(zoneName)|\(first)|\(today)|" + fields.joined(separator: "|")
            }
            if let fingerprint, fingerprint == window.previousFingerprint {
                unchanged = true
                return
            }
            try await session.run(queries.resources(from: range.from, to: range.to), window: range) { fields in
                try assembly.resource(fields)
            }
            try await session.run(queries.daily(from: range.from, to: range.to, timeZone: zoneName), window: range) { fields in
                try assembly.daily(fields)
            }
            if let query = queries.commitments(from: range.from, to: range.to, timeZone: zoneName) {
                try await session.run(query, window: range) { fields in try assembly.commitment(fields) }
            }
            if let query = queries.coverage(from: range.from, to: range.to, timeZone: zoneName) {
                try await session.run(query, window: range) { fields in try assembly.coverage(fields) }
            }
            if let query = queries.invoices(from: range.from, to: range.to, timeZone: zoneName) {
                try await session.run(query, window: range) { fields in try assembly.invoice(fields) }
            }
        }
        if unchanged {
            var snapshot = SourceSnapshot()
            snapshot.unchanged = true
            snapshot.fingerprint = fingerprint
            return snapshot
        }
        var snapshot = assembly.finish().snapshot()
        snapshot.endpointFailures += assembly.failures
        snapshot.fingerprint = fingerprint
        return snapshot
    }
}

/// Grouped rows into a `FocusExport`, field for field as `FocusIngest` fills it from a file:
/// the resource's labels from its first row, the run rate from the latest day with usage.
struct WarehouseAssembly {
    /// The daily query sums EffectiveCost and its usage part too (the column is mapped).
    let readsEffectiveCost: Bool
    private(set) var export = FocusExport()
    private(set) var failures: [SyncFailure] = []
    private var dayOrdinals: [String: Int32] = [:]
    private var entryOfResource: [String: Int32] = [:]
    private var tagSets = FocusTags.Cache()
    private var sums = LineDaySums()
    private var effectiveSums: LineDaySums?
    /// Commitments, coverage and invoices by their keys, as the extra queries answer.
    private var commitments: [String: CommitmentLedger.Commitment] = [:]
    private var coverage: [String: CommitmentLedger.Coverage] = [:]
    private var invoices: [String: CommitmentLedger.Invoice] = [:]

    init(readsEffectiveCost: Bool) { self.readsEffectiveCost = readsEffectiveCost }

    /// resource, provider, name, type, region, account, service category, tags, host provider
    /// (empty unless `HostProviderName` is mapped).
    mutating func resource(_ fields: [String]) throws {
        guard fields.count == 9 else { throw Self.shape("resources", fields.count, 9) }
        // The query groups by resource: each comes once (the first would win, as in a file).
        let id = fields[0]
        guard entryOfResource[id] == nil else { return }
        entryOfResource[id] = Int32(export.entries.count)
        export.entries.append(FocusExport.Resource(id: id, name: fields[2],
                                                   kind: .init(provider: fields[1], type: fields[3], serviceCategory: fields[6]),
                                                   region: fields[4], account: fields[5], tags: tagSets.tags(fields[7]), hostProvider: fields[8]))
    }

    /// day, resource, service, currency, cost, usage cost, usage rows (and EffectiveCost and its
    /// usage part where mapped).
    mutating func daily(_ fields: [String]) throws {
        let expected = readsEffectiveCost ? 9 : 7
        guard fields.count == expected else { throw Self.shape("daily", fields.count, expected) }
        guard let micros = Micros.parse(fields[4]), let usage = Micros.parse(fields[5]), let usageRows = Int(fields[6]) else {
            throw SyncFailure(endpoint: "daily", reason: SyncFailure.badValue, message: """
                the engine summed "\(fields[4].prefix(40))" (usage "\(fields[5].prefix(40))", \(fields[6].prefix(20)) usage rows), \
                not decimals, for \(fields[1].prefix(80)) on \(fields[0].prefix(20))
                """, failsTheSync: true)
        }
        guard let day = dayOrdinal(fields[0]) else {
            throw SyncFailure(endpoint: "daily", reason: "bad_row", message: "the engine's day \"\(fields[0].prefix(40))\" is not YYYY-MM-DD")
        }
        let currency = fields[3]
        guard currency.utf8.count == 3, currency.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            // As a file's bad row: counted and named, the rest lands.
            if failures.count < BadRow.kept {
                failures.append(SyncFailure(endpoint: "daily", reason: "bad_row",
                                            message: "BillingCurrency \"\(currency.prefix(40))\" is not a currency code (\(fields[1]), \(fields[0]))"))
            }
            return
        }
        let id = fields[1]
        let entry = entryOfResource[id]
        let resource = entry.map { export.entries[Int($0)] }
        let line = export.costs.intern(DailyCostTable.Line(
            resourceID: id, service: fields[2], currency: Currency(currency), provider: resource?.provider ?? "focus",
            account: resource?.account ?? "", category: resource?.category ?? .other))
        if Int(line) == export.lastUsageDay.count {
            export.lastUsageDay.append(Int32.min)
            export.lastUsage.append(0)
            export.lastEffective.append(0)
            export.lineEntry.append(entry ?? -1)
        }
        let effectiveUsage = readsEffectiveCost ? Micros.parse(fields[8]) : usage
        guard let effectiveUsage else { throw Self.notDecimal("daily", fields[8], fields[0]) }
        if usageRows > 0, day > export.lastUsageDay[Int(line)] {
            export.lastUsageDay[Int(line)] = day
            export.lastUsage[Int(line)] = usage
            export.lastEffective[Int(line)] = effectiveUsage
        }
        sums.add(line: line, day: day, micros)
        if readsEffectiveCost {
            guard let effective = Micros.parse(fields[7]) else { throw Self.notDecimal("daily", fields[7], fields[0]) }
            effectiveSums = effectiveSums ?? LineDaySums()
            effectiveSums?.add(line: line, day: day, effective)
        }
        export.rows += 1
    }

    /// day, commitment, status, currency, name, type, category, provider, EffectiveCost.
    mutating func commitment(_ fields: [String]) throws {
        guard fields.count == 9 else { throw Self.shape("commitments", fields.count, 9) }
        guard let day = dayOrdinal(fields[0]) else { throw Self.badDay("commitments", fields[0]) }
        guard let micros = Micros.parse(fields[8]) else { throw Self.notDecimal("commitments", fields[8], fields[0]) }
        let key = fields[1] + "\u{1F}" + fields[3]
        var entry = commitments[key] ?? CommitmentLedger.Commitment(
            id: fields[1], name: fields[4], type: fields[5], category: fields[6],
            provider: fields[7].isEmpty ? "focus" : fields[7].lowercased(), currency: Currency(fields[3]))
        if fields[2] == "Used" { entry.used[Int(day), default: 0] &+= micros } else { entry.unused[Int(day), default: 0] &+= micros }
        commitments[key] = entry
    }

    /// day, service, currency, usage EffectiveCost, covered EffectiveCost.
    mutating func coverage(_ fields: [String]) throws {
        guard fields.count == 5 else { throw Self.shape("coverage", fields.count, 5) }
        guard let day = dayOrdinal(fields[0]) else { throw Self.badDay("coverage", fields[0]) }
        guard let usage = Micros.parse(fields[3]), let covered = Micros.parse(fields[4]) else { throw Self.notDecimal("coverage", fields[3], fields[0]) }
        guard usage != 0 || covered != 0 else { return }
        let key = fields[1] + "\u{1F}" + fields[2]
        var entry = coverage[key] ?? CommitmentLedger.Coverage(service: fields[1], currency: Currency(fields[2]))
        entry.usage[Int(day), default: 0] &+= usage
        entry.covered[Int(day), default: 0] &+= covered
        coverage[key] = entry
    }

    /// day, invoice, issuer, currency, BilledCost.
    mutating func invoice(_ fields: [String]) throws {
        guard fields.count == 5 else { throw Self.shape("invoices", fields.count, 5) }
        guard let day = dayOrdinal(fields[0]) else { throw Self.badDay("invoices", fields[0]) }
        guard let micros = Micros.parse(fields[4]) else { throw Self.notDecimal("invoices", fields[4], fields[0]) }
        let key = [fields[1], fields[2], fields[3]].joined(separator: "\u{1F}")
        var entry = invoices[key] ?? CommitmentLedger.Invoice(id: fields[1], issuer: fields[2], currency: Currency(fields[3]))
        entry.billed[Int(day), default: 0] &+= micros
        invoices[key] = entry
    }

    /// Rows sorted by day and line, as `FocusExport.costs` holds them.
    mutating func finish() -> FocusExport {
        sums.moveRows(into: &export.costs)
        if let effectiveSums { export.effectiveDays = FocusExport.scopeDays(effectiveSums, lines: export.costs.lines) }
        export.commitments = CommitmentLedger(
            commitments: commitments.values.sorted { ($0.id, $0.currency) < ($1.id, $1.currency) },
            coverage: coverage.values.sorted { ($0.service, $0.currency) < ($1.service, $1.currency) },
            invoices: invoices.values.sorted { ($0.id, $0.issuer, $0.currency) < ($1.id, $1.issuer, $1.currency) })
        return export
    }

    private mutating func dayOrdinal(_ text: String) -> Int32? {
        if let known = dayOrdinals[text] { return known }
        guard let day = LocalDay(text) else { return nil }
        let ordinal = Int32(day.ordinal)
        dayOrdinals[text] = ordinal
        return ordinal
    }

    private static func badDay(_ endpoint: String, _ text: String) -> SyncFailure {
        SyncFailure(endpoint: endpoint, reason: "bad_row", message: "the engine's day \"\(text.prefix(40))\" is not YYYY-MM-DD")
    }

    private static func notDecimal(_ endpoint: String, _ text: String, _ day: String) -> SyncFailure {
        SyncFailure(endpoint: endpoint, reason: SyncFailure.badValue, message: "the engine summed \"\(text.prefix(40))\", not a decimal, on \(day.prefix(20))",
                    failsTheSync: true)
    }

    private static func shape(_ endpoint: String, _ got: Int, _ expected: Int) -> SyncFailure {
        SyncFailure(endpoint: endpoint, reason: "bad_row", message: "the engine answered \(got) columns, not \(expected)")
    }
}
