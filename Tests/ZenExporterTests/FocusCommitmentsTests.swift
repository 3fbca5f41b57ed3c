import CostModel
@testable import FocusFormat
import Foundation
import Testing

/// Commitment discounts, coverage and invoices from FOCUS 1.3 and 1.4 exports, as a user gets
/// them from `zen-exporter render` and `zen-exporter report`, against DuckDB over the same file
/// (`scripts/focus-oracle.py --commitments`): the files come from `scripts/gen-focus.py`, with
/// savings plans, reservations, committed-use discounts, marketplace rows and invoices.
@Suite("FOCUS commitments and invoices", .serialized)
struct FocusCommitmentsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL
    /// October, seen on the 21st: 20 whole days and the 21st's rows so far (none: the file ends on the 20th).
    static let at = "2026-10-21T12:00:00Z"

    struct Oracle {
        var commitments: [String: (currency: String, used: Decimal, unused: Decimal, utilization: Double?)] = [:]
        var coverage: [String: Double] = [:]
        var invoices: [String: Decimal] = [:]
        var providers: Set<String> = []
        /// Currency → exact sums of BilledCost and EffectiveCost over the month's rows.
        var billed: [String: Decimal] = [:]
        var effective: [String: Decimal] = [:]
    }

    /// A generated export of `version` and DuckDB's figures for October over it.
    static func export(version: String) throws -> (directory: URL, file: String, oracle: Oracle) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("focus-commitments-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("export-\(version).csv").path
        let generated = try runTool("python3", [root.appendingPathComponent("scripts/gen-focus.py").path, "400", "20", file,
                                                "--start", "2026-10-01", "--focus-version", version, "--commitments", "--seed", "7"])
        try #require(generated.status == 0, "\(generated.output)")
        let figures = try runTool("python3", [root.appendingPathComponent("scripts/focus-oracle.py").path, file, "--commitments",
                                              "--month", "2026-10", "--timezone", "Europe/Moscow"])
        try #require(figures.status == 0, "\(figures.output)")
        var oracle = Oracle()
        for line in figures.output.split(separator: "\n").map(String.init) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if line.hasPrefix("commitment "), fields.count == 8 {
                let id = String(fields[0].dropFirst("commitment ".count))
                oracle.commitments[id] = (fields[4], Decimal(string: fields[5]) ?? -1, Decimal(string: fields[6]) ?? -1, Double(fields[7]))
            } else if line.hasPrefix("coverage "), fields.count == 3 {
                oracle.coverage["\(fields[0].dropFirst("coverage ".count))|\(fields[1])"] = Double(fields[2])
            } else if line.hasPrefix("invoice "), fields.count == 4 {
                oracle.invoices["\(fields[0].dropFirst("invoice ".count))|\(fields[1])|\(fields[2])"] = Decimal(string: fields[3])
            } else if line.hasPrefix("billed ") || line.hasPrefix("effective ") {
                let words = line.split(separator: " ").map(String.init)
                guard words.count == 3, let amount = Decimal(string: words[2]) else { continue }
                if words[0] == "billed" { oracle.billed[words[1]] = amount } else { oracle.effective[words[1]] = amount }
            } else if line.hasPrefix("provider ") {
                oracle.providers.insert(String(line.dropFirst("provider ".count).split(separator: " ").dropLast().joined(separator: " ")))
            }
        }
        try #require(oracle.commitments.count > 5 && oracle.invoices.count > 3 && !oracle.coverage.isEmpty, "\(figures.output)")
        return (directory, file, oracle)
    }

    /// `zen-exporter render` over the export at `at`, as a user runs it.
    static func render(_ file: String) throws -> ParsedExposition {
        let rendered = try Daemon(config: config(file)).run(["render", "--at", at])
        try #require(rendered.status == 0, "\(rendered.output)")
        return ParsedExposition(rendered.output)
    }

    static func config(_ file: String) -> String {
        "storage: {path: ./data/infrazen.db}\nsources:\n  - {name: cloud, type: focus, path: \(file)}\n"
    }

    /// One CSV line's fields (RFC 4180 quoting).
    static func csvFields(_ line: String) -> [String] {
        var fields: [String] = [], field = "", quoted = false, previous: Character = " "
        for character in line {
            switch character {
            case "\"" where quoted: quoted = false
            case "\"": if previous == "\"" { field.append("\"") }; quoted = true
            case "," where !quoted: fields.append(field); field = ""
            default: field.append(character)
            }
            previous = character
        }
        fields.append(field)
        return fields
    }

    /// Half away from zero, as the exporter rounds a figure once.
    static func cents(_ value: Decimal) -> Decimal {
        var exact = value, rounded = Decimal()
        NSDecimalRound(&rounded, &exact, 2, .plain)
        return rounded
    }

    @Test("FOCUS 1.3: each commitment's utilisation and unused cost, and each service's coverage, are DuckDB's")
    func commitmentsMatchDuckDB() throws {
        let (directory, file, oracle) = try Self.export(version: "1.3")
        defer { try? FileManager.default.removeItem(at: directory) }
        let metrics = try Self.render(file)
        let utilization = Dictionary(metrics.values("infrazen_commitment_utilization_ratio").map { ($0.labels["commitment_id"] ?? "", $0.value) },
                                     uniquingKeysWith: { first, _ in first })
        let unused = Dictionary(metrics.values("infrazen_commitment_unused_cost_month_to_date").map { ($0.labels["commitment_id"] ?? "", $0) },
                                uniquingKeysWith: { first, _ in first })
        #expect(Set(unused.keys) == Set(oracle.commitments.keys))
        for (id, expected) in oracle.commitments {
            #expect(unused[id]?.labels["currency"] == expected.currency, "\(id)")
            #expect(unused[id].map { Self.cents(Decimal($0.value)) } == Self.cents(expected.unused), "\(id) unused")
            if let ratio = expected.utilization {
                #expect(abs((utilization[id] ?? -1) - ratio) <= 0.0005, "\(id) utilisation \(utilization[id] ?? -1) against \(ratio)")
            } else {
                #expect(utilization[id] == nil, "\(id) has no month to measure")
            }
        }
        let coverage = metrics.values("infrazen_commitment_coverage_ratio")
        #expect(coverage.count == oracle.coverage.count)
        for sample in coverage {
            let key = "\(sample.labels["service"] ?? "")|\(sample.labels["currency"] ?? "")"
            #expect(abs(sample.value - (oracle.coverage[key] ?? -1)) <= 0.0005, "\(key)")
        }
        // The unused part is waste, as its own kind.
        #expect(metrics.values("infrazen_waste_cost_monthly").contains { $0.labels["kind"] == "unused_commitment" && $0.value > 0 })
    }

    @Test("FOCUS 1.3: the effective (amortised) month to date is DuckDB's EffectiveCost per currency, the billed one its BilledCost")
    func effectiveMatchesDuckDB() throws {
        let (directory, file, oracle) = try Self.export(version: "1.3")
        defer { try? FileManager.default.removeItem(at: directory) }
        let metrics = try Self.render(file)
        func sums(_ name: String) -> [String: Decimal] {
            var sums: [String: Decimal] = [:]
            for sample in metrics.values(name) { sums[sample.labels["currency"] ?? "", default: 0] += Self.cents(Decimal(sample.value)) }
            return sums
        }
        #expect(oracle.effective.count == 2)
        #expect(sums("infrazen_effective_cost_month_to_date") == oracle.effective.mapValues(Self.cents))
        #expect(sums("infrazen_cost_month_to_date") == oracle.billed.mapValues(Self.cents))
        // Same series, same labels: one effective figure beside each billed one.
        let labels = { (name: String) in Set(metrics.values(name).map { $0.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } }) }
        #expect(labels("infrazen_effective_cost_month_to_date") == labels("infrazen_cost_month_to_date"))
    }

    @Test("FOCUS 1.3: the effective run rate is a month of the last day's usage EffectiveCost, as Python sums it")
    func effectiveRunRate() throws {
        let (directory, file, _) = try Self.export(version: "1.3")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Usage rows of the latest day with usage (Moscow), each EffectiveCost rounded half to
        // even to the micro-unit as the exporter documents, summed per currency, times 720 / 24.
        let python = try runTool("python3", ["-c", """
            import csv, sys, datetime as dt
            from decimal import Decimal, ROUND_HALF_EVEN, ROUND_HALF_UP
            from zoneinfo import ZoneInfo
            zone = ZoneInfo("Europe/Moscow")
            rows = []
            for row in csv.DictReader(open(sys.argv[1], newline="")):
                if row["ChargeCategory"] != "Usage":
                    continue
                day = dt.datetime.fromisoformat(row["ChargePeriodStart"].replace("Z", "+00:00")).astimezone(zone).date()
                rows.append((day, row["BillingCurrency"], Decimal(row["EffectiveCost"]).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)))
            latest = max(day for day, _, _ in rows)
            totals = {}
            for day, currency, amount in rows:
                if day == latest:
                    totals[currency] = totals.get(currency, Decimal(0)) + amount
            for currency, total in sorted(totals.items()):
                print(currency, (total * 30).quantize(Decimal("0.01"), ROUND_HALF_UP))
            """, file])
        try #require(python.status == 0, "\(python.output)")
        let expected = Dictionary(uniqueKeysWithValues: python.output.split(separator: "\n").compactMap { line -> (String, Decimal)? in
            let words = line.split(separator: " ")
            return words.count == 2 ? (String(words[0]), Decimal(string: String(words[1])) ?? -1) : nil
        })
        var served: [String: Decimal] = [:]
        for sample in try Self.render(file).values("infrazen_effective_cost_monthly") {
            served[sample.labels["currency"] ?? "", default: 0] += Self.cents(Decimal(sample.value))
        }
        #expect(expected.count == 2 && served == expected, "\(served) against \(expected)")
    }

    @Test("the effective month to date survives a restart: stored per scope and day, restored before the first sync")
    func effectiveRestored() async throws {
        // This month's days so far (the daemon runs on the real clock), in a 1.4 export.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("focus-effective-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let today = utc.dateComponents([.year, .month, .day], from: Date())
        let start = String(format: "%04d-%02d-01", today.year ?? 2026, today.month ?? 1)
        let file = directory.appendingPathComponent("this-month.csv").path
        let generated = try runTool("python3", [Self.root.appendingPathComponent("scripts/gen-focus.py").path, "200", "\(max(1, (today.day ?? 2) - 1))",
                                                file, "--start", start, "--focus-version", "1.4", "--commitments"])
        try #require(generated.status == 0, "\(generated.output)")
        let daemon = try Daemon(config: Self.config(file))
        func effective() async throws -> Double {
            try daemon.start()
            defer { _ = daemon.stop() }
            try await daemon.waitUntilReady()
            return ParsedExposition(try await daemon.metrics()).values("infrazen_effective_cost_month_to_date").map(\.value).reduce(0, +)
        }
        let before = try await effective()
        // The export gone: the second process can only have the figures from the database.
        try FileManager.default.removeItem(atPath: file)
        let after = try await effective()
        #expect(before > 0 && abs(before - after) < 0.005, "\(before) then \(after)")
    }

    @Test("read in two halves on two threads, an export gives the same commitments, coverage, invoices and effective days as read whole")
    func halvesMerge() throws {
        let (directory, file, _) = try Self.export(version: "1.3")
        defer { try? FileManager.default.removeItem(at: directory) }
        let zone = try #require(TimeZone(identifier: "Europe/Moscow"))
        let whole = try FocusExport.read(paths: [file], timeZone: zone, threads: 1)
        let halves = try FocusExport.read(paths: [file], timeZone: zone, threads: 2, halvesMinimumSize: 1)
        #expect(!whole.commitments.commitments.isEmpty && !whole.commitments.coverage.isEmpty && !whole.commitments.invoices.isEmpty)
        #expect(halves.commitments == whole.commitments)
        func days(_ rows: [DailyCost]?) -> [String: Int64] {
            Dictionary((rows ?? []).map { ("\($0.day)|\($0.provider)|\($0.account)|\($0.service)|\($0.currency)", $0.micros) }, uniquingKeysWith: +)
        }
        #expect(!days(whole.effectiveDays).isEmpty)
        #expect(days(halves.effectiveDays) == days(whole.effectiveDays))
    }

    @Test("the report's invoices are DuckDB's per invoice to the cent, beside the month's billed total")
    func invoicesMatchDuckDB() throws {
        let (directory, file, oracle) = try Self.export(version: "1.3")
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try Daemon(config: Self.config(file))
        #expect(try daemon.run(["sync", "--once"]).status == 0)
        let report = try daemon.run(["report", "--month", "2026-10", "--format", "csv", "--at", Self.at])
        try #require(report.status == 0, "\(report.output)")
        let rows = report.output.split(separator: "\n").map { String($0) }.filter { $0.hasPrefix("invoices,") }.map(Self.csvFields)
        var invoices: [String: Decimal] = [:]
        for row in rows where row.count == 6 && !row[2].hasPrefix("(") {
            invoices["\(row[2])|\(row[3])|\(row[4])"] = Decimal(string: row[5])
        }
        #expect(invoices.count == oracle.invoices.count, "\(rows)")
        for (key, amount) in oracle.invoices { #expect(invoices[key] == Self.cents(amount), "\(key)") }
        // Every row of the generated export names an invoice: the invoices add up to the bill,
        // but for each invoice's rounding to the cent.
        let totals = rows.filter { $0.count == 6 && $0[2].hasPrefix("(") }
        #expect(!totals.isEmpty)
        for currency in Set(totals.map { $0[4] }) {
            let pair = totals.filter { $0[4] == currency }.compactMap { Decimal(string: $0[5]) }
            let count = Decimal(oracle.invoices.keys.filter { $0.hasSuffix("|\(currency)") }.count)
            #expect(pair.count == 2 && abs(pair[0] - pair[1]) <= count * Decimal(string: "0.005")!, "\(currency): \(pair)")
        }
    }

    @Test("FOCUS 1.4, without ProviderName: every series takes ServiceProviderName")
    func focus14Providers() throws {
        let (directory, file, oracle) = try Self.export(version: "1.4")
        defer { try? FileManager.default.removeItem(at: directory) }
        let providers = Set(try Self.render(file).values("infrazen_cost_month_to_date").compactMap { $0.labels["provider"] })
        #expect(providers == oracle.providers)
        #expect(!providers.contains("focus"))
    }
}

/// The same FOCUS 1.3 export in a ClickHouse table, read by `type: focus_sql` with the new
/// columns mapped: the same commitment, coverage, effective and invoice figures as `type: focus`.
@Suite("FOCUS commitments through focus_sql on ClickHouse", .serialized)
struct FocusSQLCommitmentsTests {
    /// The export as a ClickHouse table: timestamps as `YYYY-MM-DD hh:mm:ss` (18.16 reads no ISO
    /// 8601 in CSV), costs as exact decimals, every other column text.
    static func load(_ file: String) async throws -> String {
        let table = TestClickHouse.tableName()
        let converted = try runTool("python3", ["-c", """
            import csv, sys
            reader = csv.reader(open(sys.argv[1], newline=""))
            writer = csv.writer(sys.stdout, lineterminator="\\n")
            header = next(reader)
            writer.writerow(header)
            at = header.index("ChargePeriodStart")
            for row in reader:
                row[at] = row[at].replace("T", " ").replace("Z", "")
                writer.writerow(row)
            """, file])
        try #require(converted.status == 0, "\(converted.output.prefix(400))")
        let header = converted.output.prefix { $0 != "\n" }.split(separator: ",").map(String.init)
        let columns = header.map { name in
            switch name {
            case "BilledCost", "EffectiveCost": "\(name) Decimal(18, 10)"
            case "ChargePeriodStart": "\(name) DateTime('UTC')"
            default: "\(name) String"
            }
        }
        try await TestClickHouse.execute("CREATE TABLE default.\(table) (\(columns.joined(separator: ", "))) ENGINE = Memory",
                                         "INSERT INTO default.\(table) FORMAT CSVWithNames\n" + converted.output)
        return table
    }

    static let mapped = ["ProviderName: ServiceProviderName", "EffectiveCost: EffectiveCost", "CommitmentDiscountId: CommitmentDiscountId",
                         "CommitmentDiscountName: CommitmentDiscountName", "CommitmentDiscountType: CommitmentDiscountType",
                         "CommitmentDiscountCategory: CommitmentDiscountCategory", "CommitmentDiscountStatus: CommitmentDiscountStatus",
                         "InvoiceId: InvoiceId", "InvoiceIssuerName: InvoiceIssuerName", "HostProviderName: HostProviderName"].joined(separator: ", ")

    /// The series of the commitment and effective families, by labels.
    static func figures(_ exposition: String) -> [String: Double] {
        var figures: [String: Double] = [:]
        for sample in ParsedExposition(exposition).samples
        where sample.name.hasPrefix("infrazen_commitment_") || sample.name.hasPrefix("infrazen_effective_cost_")
            || sample.name == "infrazen_cost_month_to_date" || (sample.name == "infrazen_resource_info" && sample.labels["host_provider"] != "") {
            figures[sample.name + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")] = sample.value
        }
        return figures
    }

    @Test("utilisation, unused cost, coverage, effective and billed month to date: focus_sql equals type: focus on the same export")
    func sameAsFiles() async throws {
        let (directory, file, oracle) = try FocusCommitmentsTests.export(version: "1.3")
        defer { try? FileManager.default.removeItem(at: directory) }
        let table = try await Self.load(file)
        try Self.expectSameAsFile(try TestClickHouse.yaml(table, columns: Self.mapped).replacingOccurrences(of: "name: wh", with: "name: cloud"),
                                  file: file, oracle: oracle)
    }

    /// `render` of a focus_sql source named `cloud` against `type: focus` on the file: the same
    /// commitment, effective, billed and host-provider series, within 0.0005.
    static func expectSameAsFile(_ tableConfig: String, file: String, oracle: FocusCommitmentsTests.Oracle) throws {
        let fromTable = try Daemon(config: tableConfig).run(["render", "--at", FocusCommitmentsTests.at])
        try #require(fromTable.status == 0, "\(fromTable.output.suffix(800))")
        let fromFile = try Daemon(config: FocusCommitmentsTests.config(file)).run(["render", "--at", FocusCommitmentsTests.at])
        try #require(fromFile.status == 0)
        let (a, b) = (Self.figures(fromTable.output), Self.figures(fromFile.output))
        #expect(a.keys.filter { $0.hasPrefix("infrazen_commitment_unused") }.count == oracle.commitments.count)
        // The marketplace resources (Datadog and MongoDB on AWS and Google Cloud) name their host.
        #expect(a.keys.contains { $0.hasPrefix("infrazen_resource_info") && $0.contains("host_provider=aws") })
        #expect(Set(a.keys) == Set(b.keys), "\(Set(a.keys).symmetricDifference(b.keys).prefix(6))")
        for (key, value) in b { #expect(abs((a[key] ?? .nan) - value) <= 0.0005, "\(key): \(a[key] ?? .nan) against \(value)") }
    }

    @Test("the report's invoices from focus_sql are DuckDB's per invoice")
    func invoices() async throws {
        let (directory, file, oracle) = try FocusCommitmentsTests.export(version: "1.3")
        defer { try? FileManager.default.removeItem(at: directory) }
        let table = try await Self.load(file)
        let daemon = try Daemon(config: try TestClickHouse.yaml(table, columns: Self.mapped) + "\nstorage: {path: ./data/infrazen.db}\n")
        #expect(try daemon.run(["sync", "--once"]).status == 0)
        let report = try daemon.run(["report", "--month", "2026-10", "--format", "csv", "--at", FocusCommitmentsTests.at])
        try #require(report.status == 0, "\(report.output.suffix(800))")
        var invoices: [String: Decimal] = [:]
        for row in report.output.split(separator: "\n").map(String.init).filter({ $0.hasPrefix("invoices,") }).map(FocusCommitmentsTests.csvFields)
        where row.count == 6 && !row[2].hasPrefix("(") {
            invoices["\(row[2])|\(row[3])|\(row[4])"] = Decimal(string: row[5])
        }
        #expect(invoices.count == oracle.invoices.count)
        for (key, amount) in oracle.invoices { #expect(invoices[key] == FocusCommitmentsTests.cents(amount), "\(key)") }
    }
}
