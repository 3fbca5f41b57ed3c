import CostModel
@testable import FocusFormat
import Foundation
@testable import Ingest
@testable import ProviderFocus
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

@Suite("FOCUS exports", .serialized)
struct FocusSourceTests {
    @Test("line items are sorted by resource ID as a plain string sort would: past a shared prefix, beyond eight bytes, short IDs and repeats in line order")
    func lineOrderByResourceID() {
        let ids = ["arn:aws:ec2:i-0b", "arn:aws:ec2:i-0a", "arn:aws:ec2:i-0abcdefgh2", "arn:aws:ec2:i-0abcdefgh1", "arn:aws:ec2:",
                   "arn:aws:ec2:i-0a", "arn:aws:s3:::b", "arn:aws:ec2:i-0abcdefgh1x", "arn:aws:ec2:i-0abcdefgh"]
        let lines = ids.map { DailyCostTable.Line(resourceID: $0, service: "s", currency: .rub, provider: "p", account: "a", category: .compute) }
        let order = Array(ids.indices)
        // The oracle: the standard library's sort of (ID, index) pairs.
        let expected = order.sorted { (ids[$0], $0) < (ids[$1], $1) }
        #expect(FocusExport.sortedByResourceID(order, lines: lines) == expected)
        #expect(FocusExport.sortedByResourceID(Array(order.reversed()), lines: lines).map { ids[$0] } == expected.map { ids[$0] })
        #expect(FocusExport.sortedByResourceID([], lines: lines) == [])
    }

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("focus-\(UUID().uuidString)")

    /// Writes a FOCUS 1.1 CSV with Python's csv module (quotes, commas and line breaks in
    /// names and tags; USD and EUR; every charge category; three bad rows) and returns
    /// Python's own totals per "currency|ChargeCategory" over the good rows.
    func generate(_ name: String, rows: Int = 2000, seed: Int = 3) throws -> [String: Decimal] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let csv = directory.appendingPathComponent(name).path
        let script = """
        import csv, json, random
        from decimal import Decimal
        random.seed(\(seed))
        header = ["BilledCost","EffectiveCost","ListCost","BillingCurrency","ChargePeriodStart","ChargePeriodEnd","ChargeCategory",
                  "ServiceCategory","ServiceName","ProviderName","SubAccountId","ResourceId","ResourceName","ResourceType","RegionId",
                  "SkuId","PricingQuantity","Tags"]
        totals = {}
        out = open('\(csv)', 'w', newline='', encoding='utf-8')
        w = csv.writer(out)
        w.writerow(header)
        for i in range(\(rows)):
            cat = random.choice(["Usage"] * 6 + ["Purchase", "Tax", "Credit", "Adjustment"])
            cost = Decimal(random.randint(-500 if cat in ("Credit", "Adjustment") else 0, 100000)) / Decimal(100)
            cur = random.choice(["USD", "USD", "EUR"])
            day = 1 + i % 20
            rid = "i-%04d" % random.randint(0, 80)
            w.writerow([str(cost), str(cost), str(cost), cur, "2026-11-%02dT00:00:00Z" % day, "2026-11-%02dT00:00:00Z" % (day + 1), cat,
                        random.choice(["Compute", "Storage", "Databases", "Networking"]), "Amazon EC2, \\"Elastic\\"", "AWS",
                        "acct-1", rid, "web, node\\n%s" % rid, "Virtual Machine", "eu-west-1", "sku-1", "1",
                        json.dumps({"tenant": "t%d" % (hash(rid) % 3), "note": "a,b"})])
            key = cur + "|" + cat
            totals[key] = totals.get(key, Decimal(0)) + cost
        w.writerow(["twelve", "", "", "USD", "2026-11-02T00:00:00Z", "", "Usage", "Compute", "x", "AWS", "a", "r", "", "", "", "", "", ""])
        w.writerow(["1.00", "", "", "USD", "yesterday", "", "Usage", "Compute", "x", "AWS", "a", "r", "", "", "", "", "", ""])
        w.writerow(["1.00", "", "", "USD", "2026-11-02T00:00:00Z", "", "Refund", "Compute", "x", "AWS", "a", "r", "", "", "", "", "", ""])
        out.close()
        print(json.dumps({k: str(v) for k, v in totals.items()}))
        """
        let result = try runTool("python3", ["-c", script])
        #expect(result.status == 0, "\(result.output)")
        let decoded = try JSONDecoder().decode([String: String].self, from: Data(result.output.utf8))
        return decoded.compactMapValues { Decimal.exact($0) }
    }

    var moscow: TimeZone { TimeZone(identifier: "Europe/Moscow")! }

    /// Python's "currency|ChargeCategory" totals summed per currency: every charge category is billed cost.
    static func byCurrency(_ totals: [String: Decimal]) -> [String: Decimal] {
        totals.reduce(into: [:]) { $0[String($1.key.prefix { $0 != "|" }), default: 0] += $1.value }
    }

    @Test("billed cost per currency, every charge category counted, equals Python's sums of the same CSV")
    func totalsMatchPython() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let expected = try generate("aws.csv")
        let file = try FocusExport.read(path: directory.appendingPathComponent("aws.csv").path, timeZone: moscow)
        #expect(file.billedByCurrency == Self.byCurrency(expected))
        #expect(file.rows == 2003)
        let daily = sum(file.snapshot().dailyCosts, by: \.cost.currency.code, amount: \.cost.amount)
        for currency in ["USD", "EUR"] {
            let python = expected.filter { $0.key.hasPrefix(currency) }.map(\.value).reduce(0, +)
            #expect(daily[currency] == python, "\(currency)")
        }
    }

    @Test("bad rows are counted and reported with file:line and the reason; the file goes on")
    func badRows() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try generate("aws.csv", rows: 50)
        let file = try FocusExport.read(path: directory.appendingPathComponent("aws.csv").path, timeZone: moscow)
        #expect(file.badRowCount == 3)
        #expect(file.badRows.map(\.reason) == [
            "BilledCost \"twelve\" is not a number",
            "ChargePeriodStart \"yesterday\" is not an ISO 8601 time",
            "ChargeCategory \"Refund\" is not one of Usage, Purchase, Tax, Credit, Adjustment",
        ])
        // Resource names hold line breaks, so the physical lines run ahead of the row count.
        #expect(file.badRows.allSatisfy { $0.file == "aws.csv" && $0.line > 51 })
        let failures = file.snapshot().endpointFailures
        #expect(failures.count == 3 && failures.allSatisfy { $0.reason == "bad_row" && $0.message.hasPrefix("aws.csv:") })
    }

    @Test("a gzip export gives the same totals as the plain one")
    func gzipExport() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let expected = try generate("aws.csv")
        #expect(try runTool("gzip", ["-k", directory.appendingPathComponent("aws.csv").path]).status == 0)
        let file = try FocusExport.read(path: directory.appendingPathComponent("aws.csv.gz").path, timeZone: moscow)
        #expect(file.billedByCurrency == Self.byCurrency(expected))
    }

    @Test("a glob of files sums them; a re-exported file replaces its earlier rows")
    func reexport() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try generate("a.csv", rows: 300, seed: 1)
        let second = try generate("b.csv", rows: 300, seed: 2)
        let source = FocusSource(settings: .init(path: directory.appendingPathComponent("*.csv").path))
        let window = CollectionWindow(now: Date(), historyDays: 90, reporting: ReportingConfig())
        func total(_ snapshot: SourceSnapshot) -> Decimal { snapshot.dailyCosts.filter { $0.cost.currency.code == "USD" }.map(\.cost.amount).reduce(0, +) }
        func usd(_ totals: [String: Decimal]) -> Decimal { totals.filter { $0.key.hasPrefix("USD") }.map(\.value).reduce(0, +) }
        #expect(total(try await source.collect(window)) == usd(first) + usd(second))
        try await Task.sleep(for: .milliseconds(1100))  // a new modification time
        let reexported = try generate("a.csv", rows: 200, seed: 9)
        #expect(total(try await source.collect(window)) == usd(reexported) + usd(second))
    }

    @Test("through the daemon: run rate of the last day, month-to-date of all charges")
    func throughTheEngine() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try generate("aws.csv", rows: 400)
        let config = try ConfigLoader.parse("sources:\n  - {name: aws, type: focus, path: \"\(directory.path)/*.csv\"}\n",
                                            file: "t.yaml", environment: [:])
        var engine = SyncEngine(config: config, store: try Store(), logger: .init(label: "test"))
        engine.clock = { ISO8601DateFormatter().date(from: "2026-11-21T09:00:00Z")! }
        #expect(await engine.syncAllOnce() == [])
        // Python's sum of the USD usage on the last day with usage: the daily run rate.
        let script = """
        import csv
        from decimal import Decimal
        rows = [r for r in csv.DictReader(open('\(directory.path)/aws.csv', newline='', encoding='utf-8'))
                if r["ChargeCategory"] == "Usage" and r["ChargePeriodStart"].startswith("2026-")]
        def cost(r):
            try: return Decimal(r["BilledCost"])
            except Exception: return None
        rows = [r for r in rows if cost(r) is not None]
        last = max(r["ChargePeriodStart"] for r in rows)
        print(sum(cost(r) for r in rows if r["ChargePeriodStart"] == last and r["BillingCurrency"] == "USD"))
        """
        let python = try runTool("python3", ["-c", script])
        let runRate = try #require(Decimal.exact(python.output.trimmingCharacters(in: .whitespacesAndNewlines))) * 30
        let metrics = ParsedExposition(String(decoding: engine.estate.exposition.rendered.body.readableBytesView, as: UTF8.self))
        #expect(abs(metrics.sum("infrazen_infrastructure_cost_monthly", where: { $0["currency"] == "USD" }) - NSDecimalNumber(decimal: runRate).doubleValue) < 0.01)
        #expect(metrics.value("infrazen_sync_errors_total", ["source": "aws", "endpoint": "aws.csv", "reason": "bad_row"]) == 3)
    }

    /// 1,200 rows of 12 resources over 3 days: resource r`i % 12`, day `1 + i % 3`, costing
    /// `(i % 7) + 1` thousandths; row `badIndex` has a cost that is not a number. `tagsAt`
    /// gives one row a quoted Tags value of `tagLines` lines.
    func writeHalvesFile(_ name: String, badIndex: Int, tagsAt: Int? = nil, tagLines: Int = 0) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var text = "BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceName,SubAccountId,ResourceId,Tags\n"
        for index in 0..<1200 {
            let cost = index == badIndex ? "twelve" : "0.00\((index % 7) + 1)"
            let tags = index == tagsAt ? "\"" + (0..<tagLines).map { "line \($0)" }.joined(separator: "\n") + "\"" : ""
            text += "\(cost),RUB,2026-11-0\(1 + index % 3)T00:00:00Z,Usage,Compute,acct,r\(index % 12),\(tags)\n"
        }
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The sum per resource and day of the rows `writeHalvesFile` wrote, by hand: micro-units.
    func expectedHalvesSums(badIndex: Int) -> [String: Int64] {
        var sums: [String: Int64] = [:]
        for index in 0..<1200 where index != badIndex {
            sums["r\(index % 12)|\(1 + index % 3)", default: 0] += Int64((index % 7) + 1) * 1000
        }
        return sums
    }

    func sumsByResourceAndDay(_ file: FocusExport) -> [String: Int64] {
        var sums: [String: Int64] = [:]
        for row in 0..<file.costs.count {
            let line = file.costs.lines[Int(file.costs.lineOfRow[row])]
            let day = LocalDay(ordinal: Int(file.costs.dayOrdinals[row]))
            sums["\(line.resourceID)|\(day.day)", default: 0] += file.costs.micros[row]
        }
        return sums
    }

    @Test("a file read in two halves on two threads sums every resource and day as by hand, bad rows keep their line")
    func readInHalves() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // Row 1000 is in the second half; its physical line is 1000 + 2 (header, 1-based).
        let path = try writeHalvesFile("halves.csv", badIndex: 1000)
        let file = try FocusExport.read(paths: [path], timeZone: TimeZone(identifier: "UTC")!, threads: 2, halvesMinimumSize: 0)
        #expect(sumsByResourceAndDay(file) == expectedHalvesSums(badIndex: 1000))
        #expect(file.rows == 1200)
        #expect(file.badRows == [BadRow(file: "halves.csv", line: 1002, reason: "BilledCost \"twelve\" is not a number")])
        #expect(file.costs.lines.count == 12)
        // Every resource's last usage day is day 3: 100 rows each over the 3 days, 33 or 34 of them on day 3.
        #expect(file.billedByCurrency == ["RUB": Decimal(expectedHalvesSums(badIndex: 1000).values.reduce(0, +)) / 1_000_000])
    }

    @Test("usd and USD are one currency: one line per resource and service, whole or in halves, and line items sorted by ID")
    func currencyCaseIsOneLine() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // 400 rows: resources z9, z8, …, z0 (listed against ID order), each 1.00 a day on days
        // 1-4 with its odd rows in lower case "usd" and every tenth row in "Usd".
        var text = "BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceName,SubAccountId,ResourceId\n"
        for index in 0..<400 {
            let currency = index % 10 == 0 ? "Usd" : index % 2 == 1 ? "usd" : "USD"
            text += "1.00,\(currency),2026-11-0\(1 + index / 100)T00:00:00Z,Usage,Compute,acct,z\(9 - index % 10)\n"
        }
        let path = directory.appendingPathComponent("currency-case.csv").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        for threads in [1, 2] {
            let file = try FocusExport.read(paths: [path], timeZone: TimeZone(identifier: "UTC")!, threads: threads, halvesMinimumSize: 0)
            // Ten resources, one line each; each 10 rows a day × 1.00 = 10.00 a day, 40.00 in all.
            #expect(file.costs.lines.count == 10, "threads \(threads)")
            #expect(Set(file.costs.lines.map(\.currency.code)) == ["USD"])
            #expect(sumsByResourceAndDay(file) == Dictionary(uniqueKeysWithValues: (0..<10).flatMap { resource in
                (1...4).map { day in ("z\(resource)|\(day)", Int64(10_000_000)) }
            }), "threads \(threads)")
            #expect(file.billedByCurrency == ["USD": 400])
            let resources = try #require(file.snapshot().described?.resources)
            #expect(resources.map(\.id) == (0..<10).map { "z\($0)" })
            #expect(resources.allSatisfy { $0.rate.amount == 10 }, "run rate: day 4's 10 rows")
        }
    }

    @Test("a resource billed only in the second half is described as its row says, as a whole read describes it")
    func resourceOnlyInSecondHalf() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var text = "BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceName,ServiceCategory,ProviderName,ResourceType,"
            + "ResourceName,RegionId,SubAccountId,ResourceId,Tags\n"
        for index in 0..<1200 {
            text += "0.001,RUB,2026-11-0\(1 + index / 400)T00:00:00Z,Usage,Compute,Compute,Selectel,VM,box \(index % 12),ru-1,acct,r\(index % 12),\n"
        }
        // The last two rows, well past the middle: a resource no earlier row names.
        for day in [2, 3] {
            text += "2.50,RUB,2026-11-0\(day)T00:00:00Z,Usage,EC2,Compute,AWS,,late box,eu-1,acct-9,late-vm,\"{\"\"team\"\":\"\"infra\"\"}\"\n"
        }
        let path = directory.appendingPathComponent("late.csv").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let halves = try FocusExport.read(paths: [path], timeZone: TimeZone(identifier: "UTC")!, threads: 2, halvesMinimumSize: 0)
        let late = try #require(halves.snapshot().described?.resources.first { $0.id == "late-vm" })
        // By hand from the row: the provider in lower case, the type from ServiceCategory
        // (ResourceType is empty), the doubled quotes of the tags undone.
        #expect(late.provider == "aws")
        #expect(late.name == "late box")
        #expect(late.resourceType == "server")
        #expect(late.region == "eu-1")
        #expect(late.tags == ["team": "infra"])
        #expect(late.account == "acct-9")
        #expect(late.category == .compute)
        #expect(late.rate.amount == Decimal(string: "2.5"))
        // The same as reading the file whole, on one thread, for every resource; as line items
        // and inventory too.
        let whole = try FocusExport.read(paths: [path], timeZone: TimeZone(identifier: "UTC")!, threads: 1)
        #expect(halves.snapshot().described?.resources == whole.snapshot().described?.resources)
        #expect(halves.snapshot(selfDescribed: false).inventory == whole.snapshot(selfDescribed: false).inventory)
        #expect(halves.snapshot(selfDescribed: false).billing == whole.snapshot(selfDescribed: false).billing)
    }

    @Test("past 255 currencies, a file read in halves keeps one line per resource and currency with the sums by hand")
    func manyCurrenciesInHalves() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // 300 resources, each in a currency of its own (QAA, QAB, …), 1.00 on day 1 and
        // 2.00 on day 2: day 1's rows fill the first half, day 2's the second.
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        func currency(_ index: Int) -> String { "Q\(letters[index / 26])\(letters[index % 26])" }
        var text = "BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceName,SubAccountId,ResourceId\n"
        for day in [1, 2] {
            for index in 0..<300 { text += "\(day).00,\(currency(index)),2026-11-0\(day)T00:00:00Z,Usage,Compute,acct,w\(index)\n" }
        }
        let path = directory.appendingPathComponent("currencies.csv").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let file = try FocusExport.read(paths: [path], timeZone: TimeZone(identifier: "UTC")!, threads: 2, halvesMinimumSize: 0)
        #expect(file.costs.lines.count == 300)
        #expect(Set(file.costs.lines.map { "\($0.resourceID) \($0.currency.code)" }) == Set((0..<300).map { "w\($0) \(currency($0))" }))
        #expect(sumsByResourceAndDay(file) == Dictionary(uniqueKeysWithValues: (0..<300).flatMap { index in
            [("w\(index)|1", Int64(1_000_000)), ("w\(index)|2", Int64(2_000_000))]
        }))
    }

    /// Two days of five resources, listed against ID order: a server, the volume named for it
    /// (`disk-for-web`), a loose volume, a server with tags, a bucket of no known category.
    static let describedExport = """
        BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceName,ServiceCategory,ProviderName,ResourceType,ResourceName,RegionId,SubAccountId,ResourceId,Tags
        9.00,RUB,2026-11-01T00:00:00Z,Usage,Compute,Compute,Selectel,Server,web,ru-1,a1,srv-2,
        1.00,RUB,2026-11-01T00:00:00Z,Usage,Block Storage,Storage,Selectel,Volume,disk-for-web,ru-1,a1,vol-1,
        0.40,RUB,2026-11-01T00:00:00Z,Usage,Block Storage,Storage,Selectel,Volume,spare,ru-1,a1,vol-0,
        5.00,RUB,2026-11-01T00:00:00Z,Usage,Compute,Compute,Selectel,Server,db,ru-1,a2,srv-1,"{""tenant"":""acme""}"
        0.10,RUB,2026-11-01T00:00:00Z,Usage,Mystery,,Selectel,Bucket,b,ru-1,a2,b-1,
        10.00,RUB,2026-11-02T00:00:00Z,Usage,Compute,Compute,Selectel,Server,web,ru-1,a1,srv-2,
        2.00,RUB,2026-11-02T00:00:00Z,Usage,Block Storage,Storage,Selectel,Volume,disk-for-web,ru-1,a1,vol-1,
        0.50,RUB,2026-11-02T00:00:00Z,Usage,Block Storage,Storage,Selectel,Volume,spare,ru-1,a1,vol-0,
        6.00,RUB,2026-11-02T00:00:00Z,Usage,Compute,Compute,Selectel,Server,db,ru-1,a2,srv-1,"{""tenant"":""acme""}"
        0.20,RUB,2026-11-02T00:00:00Z,Usage,Mystery,,Selectel,Bucket,b,ru-1,a2,b-1,

        """

    @Test("an export that lists each resource once is reconciled as its line items against an inventory of the same rows would be")
    func describedAsLineItemsWouldBe() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("described.csv").path
        try Data(Self.describedExport.utf8).write(to: URL(fileURLWithPath: path))
        let file = try FocusExport.read(path: path, timeZone: TimeZone(identifier: "UTC")!)
        // Listed on Nov 2 (its last day); ten days later a loose volume is an orphan.
        let reconciliation = Reconciliation(inventoriedTypes: [], orphanMinAge: 7 * 86_400,
                                            now: ISO8601DateFormatter().date(from: "2026-11-12T00:00:00Z")!)
        let described = try #require(file.snapshot().described)
        #expect(described.listedAt == ISO8601DateFormatter().date(from: "2026-11-02T00:00:00Z")!)
        let resources = reconciliation.reconcile(described: described.resources, listedAt: described.listedAt)
        let items = file.snapshot(selfDescribed: false)
        #expect(items.described == nil && items.billing.count == 5 && items.inventory.count == 5)
        #expect(resources == reconciliation.reconcile(billing: items.billing, inventory: items.inventory, currency: .rub))
        // By hand: the named volume folds into its server (10.00 + 2.00 a day), the loose one
        // is an orphan, the tags reach the resource, every status is the listed one.
        #expect(resources.map(\.id) == ["b-1", "srv-1", "srv-2", "vol-0"])
        let web = try #require(resources.first { $0.id == "srv-2" })
        #expect(web.folded == ["vol-1"] && web.rate.amount == 12 && web.rate.periodHours == 24)
        #expect(resources.first { $0.id == "vol-0" }?.isOrphan == true)
        #expect(resources.first { $0.id == "srv-1" }?.tags == ["tenant": "acme"])
        #expect(resources.allSatisfy { $0.status == ResourceStatus(provider: "ACTIVE") && !$0.isZombie })
        #expect(file.snapshot().unclassifiedLineItems == 1 && items.unclassifiedLineItems == 1)
    }

    @Test("an export that bills one resource in two services is reconciled from line items, its rate the sum of both")
    func repeatedIDGoesThroughLineItems() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("repeated.csv").path
        let text = Self.describedExport + "3.00,RUB,2026-11-02T00:00:00Z,Usage,Backup,Storage,Selectel,Server,db,ru-1,a2,srv-1,\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let snapshot = try FocusExport.read(path: path, timeZone: TimeZone(identifier: "UTC")!).snapshot()
        #expect(snapshot.described == nil && snapshot.billing.count == 6 && snapshot.inventory.count == 6)
        let resources = Reconciliation(inventoriedTypes: [], orphanMinAge: 7 * 86_400, now: Date())
            .reconcile(billing: snapshot.billing, inventory: snapshot.inventory, currency: .rub)
        #expect(resources.first { $0.id == "srv-1" }?.rate.amount == 9)  // 6.00 + 3.00, by hand
    }

    @Test("when the middle of a file falls inside a quoted value with line breaks, the file is read whole")
    func cutInsideQuotes() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // Row 600 sits at about the middle of the file; its tags of 2,000 lines hold the middle.
        let path = try writeHalvesFile("quoted.csv", badIndex: 1100, tagsAt: 600, tagLines: 2000)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let tagsStart = text.utf8.count - text.utf8.split(separator: UInt8(ascii: "\""), maxSplits: 1, omittingEmptySubsequences: false)[1].count
        #expect(tagsStart < size / 2 && size / 2 < tagsStart + 2000 * 7)
        let file = try FocusExport.read(paths: [path], timeZone: TimeZone(identifier: "UTC")!, threads: 2, halvesMinimumSize: 0)
        #expect(sumsByResourceAndDay(file) == expectedHalvesSums(badIndex: 1100))
        #expect(file.rows == 1200)
        // Row 1100's physical line: 1,100 + 2, plus the 1,999 line breaks inside row 600's tags.
        #expect(file.badRows.map(\.line) == [1100 + 2 + 1999])
    }

    @Test("Tags: flat string objects, escapes, numbers and nesting all read as the JSON says", arguments: [
        (#"{"team": "web", "env":"prod"}"#, ["team": "web", "env": "prod"]),
        (#" { } "#, [:]),
        (#"{"note": "a \"quoted\" word", "path": "C:\\tmp"}"#, ["note": #"a "quoted" word"#, "path": #"C:\tmp"#]),
        (#"{"cores": 4, "spot": true}"#, ["cores": "4", "spot": "1"]),
        (#"{"tenant": "t1", "city": "Москва"}"#, ["tenant": "t1", "city": "Москва"]),
        (#"{"tenant": "t1""#, [:]),
        (#"not json"#, [:]),
    ])
    func tags(json: String, expected: [String: String]) {
        #expect(FocusTags.parse(json) == expected)
    }
}

extension FocusExport {
    /// The billed cost of every good row per currency code, summed from the day table.
    var billedByCurrency: [String: Decimal] {
        costs.rows.reduce(into: [:]) { $0[$1.currency.code, default: 0] += Micros.decimal($1.micros) }
    }
}
