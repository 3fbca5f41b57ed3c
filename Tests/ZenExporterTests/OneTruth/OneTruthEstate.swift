import CostModel
import Foundation
import GRDB
import Hummingbird
import Logging
import NIOCore
@testable import Storage
@testable import ZenExporter

/// A random estate for the "one truth" property tests: 1–3 FOCUS sources billing in 2–3
/// currencies (RUB, USD at a rate published per day, and KZT, which has no rate), amounts
/// with 4–10 decimals, tenant tags on some resources, compute spread by a usage query's
/// per-tenant values of each day, storage by each day's direct cost, network left
/// unallocated, and a hand-entered item. Everything the exporter reads is written as a user
/// would give it: CSV files, a SQLite application database, stored bank publications.
struct OneTruthEstate {
    struct Row {
        var source: String
        var day: Int  // day of November 2026; ≤ 0 is October (0 = 31 October)
        var service: String
        var serviceCategory: String
        var tenant: String
        var currency: String
        var cost: String
    }

    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    static let today = 20
    static let services = [("Compute", "Compute Engine"), ("Storage", "Cloud Storage"), ("Networking", "Cloud VPC")]
    static let tenants = ["t1", "t2", "t3", "t4"]

    let seed: UInt64
    var sourceNames: [String] = []
    var rows: [Row] = []
    /// USD per day of November it was published for (some days have none: the last earlier rate holds).
    var usdRates: [Int: Decimal] = [:]
    /// The usage query's per-tenant VPS counts stored for earlier days, and polled today.
    var storedUsage: [Int: [String: Int]] = [:]
    var usageToday: [String: Int] = [:]
    var item: (cost: Decimal, currency: String)

    init(seed: UInt64) {
        self.seed = seed
        var random = SplitMix64(seed: seed)
        let sourceCount = Int.random(in: 1...3, using: &random)
        sourceNames = (0..<sourceCount).map { "focus-\(seed)-\($0)" }
        let currencies = Bool.random(using: &random) ? ["RUB", "USD", "KZT"] : ["RUB", "USD"]
        for source in sourceNames {
            for _ in 0..<Int.random(in: 4...12, using: &random) {
                let (category, service) = Self.services.randomElement(using: &random)!
                let tenant = Bool.random(using: &random) ? Self.tenants.randomElement(using: &random)! : ""
                let currency = currencies.randomElement(using: &random)!
                for day in -5...Self.today where Int.random(in: 0..<4, using: &random) > 0 {
                    for _ in 0..<Int.random(in: 1...3, using: &random) {
                        let decimals = Int.random(in: 4...10, using: &random)
                        var digits = String(Int.random(in: 1...9, using: &random))
                        for _ in 0..<(Int.random(in: 1...4, using: &random) + decimals - 1) { digits += String(Int.random(in: 0...9, using: &random)) }
                        let whole = digits.dropLast(decimals)
                        var cost = (whole.isEmpty ? "0" : String(whole)) + "." + digits.suffix(decimals)
                        if Int.random(in: 0..<12, using: &random) == 0 { cost = "-" + cost }  // a credit
                        rows.append(Row(source: source, day: day, service: service, serviceCategory: category,
                                        tenant: tenant, currency: currency, cost: cost))
                    }
                }
            }
        }
        for day in [2, 3, 6, 9, 10, 13, 16, 17, 20] {
            usdRates[day] = Decimal(Int.random(in: 750_000...950_000, using: &random)) / 10_000
        }
        for day in [4, 11] where Bool.random(using: &random) || day == 11 {
            storedUsage[day] = Dictionary(uniqueKeysWithValues: Self.tenants.map { ($0, Int.random(in: 0...5, using: &random)) })
        }
        usageToday = Dictionary(uniqueKeysWithValues: Self.tenants.map { ($0, Int.random(in: 1...6, using: &random)) })
        item = (Decimal(Int.random(in: 1_000...90_000, using: &random)) / 100, Bool.random(using: &random) ? "USD" : "RUB")
    }

    // MARK: Writing it out

    func csv(of source: String) -> String {
        var text = "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ServiceCategory,ServiceName,ProviderName,"
            + "SubAccountId,ResourceId,ResourceName,ResourceType,RegionId,Tags\n"
        for row in rows where row.source == source {
            let date = Self.date(row.day)
            let tags = row.tenant.isEmpty ? "" : "\"{\"\"tenant\"\": \"\"\(row.tenant)\"\"}\""
            // One resource per (service, tenant, currency): the scope grain the oracle sums at.
            let resource = "\(row.service)-\(row.tenant)-\(row.currency)".replacingOccurrences(of: " ", with: "")
            text += "\(row.cost),\(row.currency),\(date)T00:00:00Z,\(date)T23:59:59Z,\(row.cost.hasPrefix("-") ? "Credit" : "Usage"),"
                + "\(row.serviceCategory),\(row.service),GCP,acct-\(source),\(resource),\(resource),,europe-north1,\(tags)\n"
        }
        return text
    }

    static func date(_ day: Int) -> String { day <= 0 ? String(format: "2026-10-%02d", 31 + day) : String(format: "2026-11-%02d", day) }

    func config(directory: URL, bank: Int, shard: String?) -> String {
        """
        \(shard.map { "shard: \($0)\n" } ?? "")storage: {path: \(directory.path)/infrazen.db}
        reporting: {currency: RUB, timezone: UTC, hours_per_month: 720}
        fx: {source: cbr, url: "http://127.0.0.1:\(bank)/scripts/XML_daily.asp"}
        sources:
        \(sourceNames.map { "  - {name: \($0), type: focus, path: \(directory.path)/\($0).csv}" }.joined(separator: "\n"))
        usage:
          - name: app
            type: sqlite
            path: \(directory.path)/app.db
            queries:
              vps_count: "SELECT tenant_id, n FROM vps"
        items:
          - {name: tool, kind: saas, provider: Vendor, cost: \(item.cost), currency: \(item.currency), period: monthly}
        allocation:
          tag_keys: {tenant: [tenant]}
          shared:
            split: none
            drivers:
              compute: {usage: app/vps_count}
              storage: proportional

        """
    }

    /// Writes the files and seeds the database with the bank's earlier publications and the
    /// usage query's earlier days, as an exporter that ran all month would have stored them.
    func write(to directory: URL) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for source in sourceNames {
            try Data(csv(of: source).utf8).write(to: directory.appendingPathComponent("\(source).csv"))
        }
        let app = try DatabaseQueue(path: directory.appendingPathComponent("app.db").path)
        try await app.write { db in
            try db.execute(sql: "CREATE TABLE vps (tenant_id TEXT, n INTEGER)")
            for (tenant, count) in usageToday { try db.execute(sql: "INSERT INTO vps VALUES (?, ?)", arguments: [tenant, count]) }
        }
        try app.close()
        let store = try Store(path: directory.appendingPathComponent("infrazen.db").path)
        let utc = TimeZone(identifier: "UTC")!
        for (day, rate) in usdRates.sorted(by: { $0.key < $1.key }) where day < Self.today {
            let local = LocalDay(year: 2026, month: 11, day: day)
            try await store.saveFXRates([Currency("USD"): rate], day: local, fetchedAt: local.start(in: utc).addingTimeInterval(3600),
                                        keepFrom: LocalDay(year: 2026, month: 1, day: 1))
        }
        for (day, values) in storedUsage.sorted(by: { $0.key < $1.key }) {
            let local = LocalDay(year: 2026, month: 11, day: day)
            try await store.saveUsage(values.mapValues(Double.init), source: "app", dimension: "vps_count",
                                      fetchedAt: local.start(in: utc).addingTimeInterval(3600), day: local, retentionDays: 400)
        }
        try store.close()
    }

    /// The bank's XML for today, as the CBR publishes it (decimal comma).
    var bankXML: String {
        let rate = (usdRates[Self.today] ?? 80).description.replacingOccurrences(of: ".", with: ",")
        return """
        <?xml version="1.0" encoding="windows-1251"?>
        <ValCurs Date="20.11.2026" name="Foreign Currency Market">
        <Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal><Name>US Dollar</Name><Value>\(rate)</Value></Valute>
        </ValCurs>
        """
    }

    // MARK: The oracle: plain Decimal over the generated rows, another route than the code's

    /// The USD rate in force on a day of November: the last publication on or before it, the
    /// first one before any.
    func usdRate(_ day: Int) -> Decimal {
        let published = usdRates.keys.sorted()
        let day = max(day, published[0])
        return usdRates[published.last { $0 <= day }!]!
    }

    /// The usage weights of a day: its own stored values, else the last earlier day's, else the first day's.
    func usage(_ day: Int) -> [String: Int] {
        var days = storedUsage
        days[Self.today] = usageToday
        let known = days.keys.sorted()
        return days[known.last { $0 <= day } ?? known[0]]!
    }

    /// Half-to-even at the micro-unit, written out on integers.
    static func micros(_ text: String) -> Decimal {
        var amount = Decimal(string: text)! * 1_000_000
        var rounded = Decimal()
        NSDecimalRound(&rounded, &amount, 0, .bankers)
        return rounded
    }

    struct Scope: Hashable {
        var source: String
        var day: Int
        var service: String
        var category: String
        var tenant: String
        var currency: String
    }

    /// Each scope-day's amount in micro-units, in roubles where a rate is known (each scope-day
    /// converted at its day's rate and rounded half-to-even to the micro-unit): November 1–20.
    var convertedScopes: [Scope: Decimal] {
        var sums: [Scope: Decimal] = [:]
        for row in rows where row.day >= 1 && row.day <= Self.today {
            sums[Scope(source: row.source, day: row.day, service: row.service, category: row.serviceCategory, tenant: row.tenant,
                       currency: row.currency), default: 0] += Self.micros(row.cost)
        }
        var converted: [Scope: Decimal] = [:]
        for (scope, micros) in sums {
            guard scope.currency == "USD" else { converted[scope, default: 0] += micros; continue }
            var value = micros * usdRate(scope.day)
            var rounded = Decimal()
            NSDecimalRound(&rounded, &value, 0, .bankers)
            var roubles = scope
            roubles.currency = "RUB"
            converted[roubles, default: 0] += rounded
        }
        return converted
    }

    /// Each source's bill per currency, exact, in units.
    var bills: [String: [String: Decimal]] {
        var bills: [String: [String: Decimal]] = [:]
        for (scope, micros) in convertedScopes { bills[scope.source, default: [:]][scope.currency, default: 0] += micros / 1_000_000 }
        return bills
    }

    /// Tenants' month to date, exact: tagged scopes their tenant's, each day's untagged compute
    /// by that day's VPS counts, untagged storage by that day's tagged cost, network nobody's.
    var tenantsExact: [String: [String: Decimal]] {
        var tenants: [String: [String: Decimal]] = [:]
        let scopes = convertedScopes
        for day in 1...Self.today {
            let ofDay = scopes.filter { $0.key.day == day }
            var direct: [String: [String: Decimal]] = [:]
            var rest: [String: [String: Decimal]] = [:]  // category → currency → micros
            for (scope, micros) in ofDay {
                if scope.tenant.isEmpty { rest[scope.category, default: [:]][scope.currency, default: 0] += micros }
                else { direct[scope.tenant, default: [:]][scope.currency, default: 0] += micros }
            }
            for (tenant, amounts) in direct { for (currency, micros) in amounts { tenants[tenant, default: [:]][currency, default: 0] += micros / 1_000_000 } }
            for (currency, micros) in rest["Compute"] ?? [:] {
                let weights = usage(day).filter { $0.value > 0 }
                let total = Decimal(weights.values.reduce(0, +))
                for (tenant, count) in weights { tenants[tenant, default: [:]][currency, default: 0] += micros * Decimal(count) / total / 1_000_000 }
            }
            for (currency, micros) in rest["Storage"] ?? [:] {
                let weights = direct.compactMapValues { $0[currency] }.filter { $0.value > 0 }
                let total = weights.values.reduce(0, +)
                guard total > 0 else { continue }
                for (tenant, weight) in weights { tenants[tenant, default: [:]][currency, default: 0] += micros * weight / total / 1_000_000 }
            }
        }
        return tenants
    }

    /// Half away from zero at the cent, on integers of micro-units.
    static func cents(_ amount: Decimal) -> Decimal {
        let micros = NSDecimalNumber(decimal: amount * 1_000_000).int64Value
        let magnitude = (micros.magnitude + 5_000) / 10_000
        return Decimal(micros < 0 ? -Int64(magnitude) : Int64(magnitude)) / 100
    }
}
