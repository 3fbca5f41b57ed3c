import CostModel
import Foundation
import Logging
@testable import Storage
import Testing
@testable import ZenExporter

/// Random estates in two or three currencies, with and without exchange rates, billed in
/// amounts of up to ten decimals, run through the whole pipeline: a FOCUS file on disk, a real
/// SQLite database, the evaluation and the renderer, to the exposition text. Every expected
/// figure is computed here, from the generated rows, in integers and Foundation `Decimal`, not
/// with the exporter's types. The seed of a failing estate is in the failure's message;
/// `MONEY_PROPERTY_SEED=<seed>` replays it alone.
@Suite("Money through the whole pipeline, by property", .serialized)
struct MoneyPropertyTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    static let estates = 24

    typealias Generator = SplitMix64

    struct Row {
        var resource: Int
        var day: Int          // day of November (negative: October)
        var units: Int64      // the amount in 10⁻¹⁰ of the currency
        var text: String      // as written in the file
    }

    struct Estate {
        var currencies: [String]
        /// Rates into RUB for the currencies that have one (RUB itself is the reporting currency).
        var rates: [String: Int]
        var resourceCurrency: [String]
        var resourceTenant: [String?]
        var rows: [Row]
    }

    static func generate(seed: UInt64) -> Estate {
        var random = Generator(state: seed)
        let pool = ["USD", "EUR", "KZT"]
        var currencies = ["RUB"]
        let others = 1 + random.below(2)
        var available = pool
        for _ in 0..<others { currencies.append(available.remove(at: random.below(available.count))) }
        // Some estates convert every currency, some none, some a part (integer rates: the
        // conversion of a day's micro-units is then exact, whatever rows a scope sums).
        var rates: [String: Int] = [:]
        let mode = random.below(3)
        for code in currencies.dropFirst() {
            let converted = mode == 0 || (mode == 2 && random.chance(50))
            if converted { rates[code] = 1 + random.below(150) }
        }
        let resources = 3 + random.below(10)
        let tenants = ["t-1", "t-2", "t-3", "t-4"]
        let resourceCurrency = (0..<resources).map { _ in currencies[random.below(currencies.count)] }
        let resourceTenant = (0..<resources).map { _ in random.chance(70) ? tenants[random.below(tenants.count)] : nil }
        var rows: [Row] = []
        for resource in 0..<resources {
            for _ in 0..<(1 + random.below(6)) {
                let decimals = random.below(11)
                let whole = Int64(random.below(2000))
                var fraction: Int64 = 0
                var digits = ""
                for _ in 0..<decimals {
                    let digit = random.below(10)
                    digits += String(digit)
                    fraction = fraction * 10 + Int64(digit)
                }
                for _ in decimals..<10 { fraction *= 10 }
                let text = decimals == 0 ? "\(whole)" : "\(whole).\(digits)"
                // Days from 25 October to today, 20 November; today and yesterday more often.
                let day = random.chance(40) ? 19 + random.below(2) : -6 + random.below(27)
                rows.append(Row(resource: resource, day: day == 0 ? 1 : day, units: whole * 10_000_000_000 + fraction, text: text))
            }
        }
        return Estate(currencies: currencies, rates: rates, resourceCurrency: resourceCurrency, resourceTenant: resourceTenant, rows: rows)
    }

    static func date(_ day: Int) -> String {
        day > 0 ? String(format: "2026-11-%02dT00:00:00Z", day) : String(format: "2026-10-%02dT00:00:00Z", 31 + day)
    }

    static func csv(_ estate: Estate) -> String {
        var text = "BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceCategory,ServiceName,ProviderName,SubAccountId,ResourceId,ResourceName,Tags\n"
        for row in estate.rows {
            let tags = estate.resourceTenant[row.resource].map { "\"{\"\"tenant\"\": \"\"\($0)\"\"}\"" } ?? ""
            text += "\(row.text),\(estate.resourceCurrency[row.resource]),\(date(row.day)),Usage,Compute,VM,AWS,acct,r-\(row.resource),vm-\(row.resource),\(tags)\n"
        }
        return text
    }

    // MARK: The test's own arithmetic

    /// 10⁻¹⁰ units to micro-units, half to even: how the exporter documents reading FOCUS amounts.
    static func micros(_ units: Int64) -> Int64 {
        let (quotient, remainder) = units.quotientAndRemainder(dividingBy: 10_000)
        if remainder > 5_000 || (remainder == 5_000 && quotient % 2 != 0) { return quotient + 1 }
        return quotient
    }

    static func decimal(micros: Int64) -> Decimal { Decimal(micros) / 1_000_000 }

    /// Half away from zero to cents, as the exporter documents its exported totals.
    static func cents(_ value: Decimal) -> Decimal {
        var value = value, result = Decimal()
        NSDecimalRound(&result, &value, 2, .plain)
        return result
    }

    /// The currency an amount in `code` is exported in, and the factor into it.
    static func target(_ code: String, _ estate: Estate) -> (currency: String, factor: Decimal) {
        if let rate = estate.rates[code] { return ("RUB", Decimal(rate)) }
        return (code, 1)
    }

    struct Expected {
        var monthly: [String: Decimal] = [:]
        var monthToDate: [String: Decimal] = [:]
        var yesterday: [String: Decimal] = [:]
        var tenantMonthly: [String: [String: Decimal]] = [:]
        var unallocatedMonthly: [String: Decimal] = [:]
        var tenantResources: [String: Set<String>] = [:]
    }

    static func expected(_ estate: Estate) -> Expected {
        var result = Expected()
        // Each line's usage per day, in micro-units (rows read one by one, then summed).
        var perDay: [Int: [Int: Int64]] = [:]
        for row in estate.rows { perDay[row.resource, default: [:]][row.day, default: 0] += micros(row.units) }
        let latest = estate.rows.map(\.day).max() ?? 0
        for (resource, days) in perDay {
            let (currency, factor) = target(estate.resourceCurrency[resource], estate)
            for (day, amount) in days {
                let converted = decimal(micros: amount) * factor
                if day >= 1 && day <= 20 { result.monthToDate[currency, default: 0] += converted }
                if day == 19 { result.yesterday[currency, default: 0] += converted }
            }
            // The run rate: the line's usage on the latest day any usage was billed, 30 days a month.
            guard let last = days[latest] else { continue }
            let monthly = decimal(micros: last) * 30 * factor
            result.monthly[currency, default: 0] += monthly
            if let tenant = estate.resourceTenant[resource] {
                result.tenantMonthly[tenant, default: [:]][currency, default: 0] += monthly
                result.tenantResources[tenant, default: []].insert("r-\(resource)")
            } else {
                result.unallocatedMonthly[currency, default: 0] += monthly
            }
        }
        return result
    }

    // MARK: The property

    @Test("every total is the independent sum per currency; tenants + unallocated = total to the digit; no series mixes currencies; resource tenant labels sum to the tenant's cost")
    func property() async throws {
        let seeds: [UInt64] = ProcessInfo.processInfo.environment["MONEY_PROPERTY_SEED"].flatMap { UInt64($0) }.map { [$0] }
            ?? (0..<UInt64(Self.estates)).map { 0x5EED_0000 + $0 }
        for seed in seeds { try await check(seed: seed) }
    }

    func check(seed: UInt64) async throws {
        let estate = Self.generate(seed: seed)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("money-property-\(seed)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(Self.csv(estate).utf8).write(to: directory.appendingPathComponent("bill.csv"))
        let rates = estate.rates.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let config = try ConfigLoader.parse("""
        storage: {path: \(directory.path)/infrazen.db}
        fx: {source: static, rates: {\(rates)}}
        sources:
          - {name: bill, type: focus, path: "\(directory.path)/bill.csv"}
        budgets:
          - {name: month, amount: 1000000, period: monthly}
        """, file: "property.yaml", environment: [:])
        let store = try Store(path: "\(directory.path)/infrazen.db")
        defer { try? store.close() }
        var engine = SyncEngine(config: config, store: store, logger: Logger(label: "property"))
        engine.clock = { Self.now }
        let failed = await engine.syncAllOnce()
        #expect(failed.isEmpty, "seed \(seed): \(failed)")
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        let expected = Self.expected(estate)
        let why = "seed \(seed): currencies \(estate.currencies), rates \(estate.rates)"

        func exported(_ family: String, where predicate: ([String: String]) -> Bool = { _ in true }) -> [String: Decimal] {
            var sums: [String: Decimal] = [:]
            for sample in metrics.values(family) where predicate(sample.labels) {
                guard let currency = sample.labels["currency"], let value = Decimal(string: sample.text, locale: Locale(identifier: "en_US_POSIX")) else {
                    Issue.record("\(why): \(family) \(sample.labels) has no currency or no decimal value: \(sample.text)")
                    continue
                }
                sums[currency, default: 0] += value
            }
            return sums
        }

        // Every total is the independent sum of the inputs, per currency, rounded once to cents.
        // (A currency whose sum is zero may be exported as 0 or not at all.)
        func nonZero(_ sums: [String: Decimal]) -> [String: Decimal] { sums.filter { $0.value != 0 } }
        #expect(nonZero(exported("infrazen_infrastructure_cost_monthly")) == nonZero(expected.monthly.mapValues(Self.cents)), "\(why)")
        #expect(nonZero(exported("infrazen_cost_month_to_date")) == nonZero(expected.monthToDate.mapValues(Self.cents)), "\(why)")
        #expect(nonZero(exported("infrazen_cost_daily", where: { $0["scope"] == "total" })) == nonZero(expected.yesterday.mapValues(Self.cents)),
                "\(why)")
        let spent = metrics.values("infrazen_budget_spent").first.flatMap { Decimal(string: $0.text) }
        #expect(spent == Self.cents(expected.monthToDate["RUB"] ?? 0), "\(why)")

        // Tenants + unallocated = the total, digit for digit, per currency.
        let tenants = exported("infrazen_tenant_cost_monthly"), unallocated = exported("infrazen_unallocated_cost_monthly")
        let parts = tenants.merging(unallocated, uniquingKeysWith: +)
        #expect(parts == exported("infrazen_infrastructure_cost_monthly"), "\(why)")
        // Each tenant within a cent of its exact share.
        for sample in metrics.values("infrazen_tenant_cost_monthly") {
            guard let tenant = sample.labels["tenant"], let currency = sample.labels["currency"], let value = Decimal(string: sample.text) else { continue }
            let exact = expected.tenantMonthly[tenant]?[currency] ?? 0
            #expect((value - exact).magnitude < Decimal(string: "0.01")!, "\(why): tenant \(tenant) \(currency) \(value) vs \(exact)")
        }

        // No series mixes currencies: a converted currency appears in no total; each series
        // carries one currency, and per-resource series keep the resource's own.
        let totals = ["infrazen_infrastructure_cost_monthly", "infrazen_cost_month_to_date", "infrazen_tenant_cost_monthly",
                      "infrazen_unallocated_cost_monthly", "infrazen_cost_daily", "infrazen_cost_forecast"]
        for family in totals {
            for sample in metrics.values(family) {
                let currency = sample.labels["currency"] ?? ""
                #expect(estate.currencies.contains(currency) && estate.rates[currency] == nil, "\(why): \(family) \(sample.labels)")
            }
        }
        for sample in metrics.values("infrazen_resource_cost_per_hour") {
            let id = sample.labels["resource_id"] ?? ""
            let index = Int(id.dropFirst(2)) ?? -1
            #expect(index >= 0 && sample.labels["currency"] == estate.resourceCurrency[index], "\(why): \(sample.labels)")
        }

        // The tenant labels of the per-resource series are the tenants the tenant totals sum.
        var labelled: [String: Set<String>] = [:]
        for sample in metrics.values("infrazen_resource_cost_per_hour") where sample.labels["tenant"] != "" {
            labelled[sample.labels["tenant"] ?? "", default: []].insert(sample.labels["resource_id"] ?? "")
        }
        #expect(labelled == expected.tenantResources, "\(why)")
        // And their rates, 720 hours at today's rate, sum to each tenant's exported cost (each
        // hourly rate is exported to 8 decimals: within that rounding and a cent).
        for (tenant, resources) in labelled {
            var sums: [String: Decimal] = [:]
            var slack: [String: Decimal] = [:]
            for sample in metrics.values("infrazen_resource_cost_per_hour") where resources.contains(sample.labels["resource_id"] ?? "") {
                let (currency, factor) = Self.target(sample.labels["currency"] ?? "", estate)
                sums[currency, default: 0] += (Decimal(string: sample.text) ?? 0) * 720 * factor
                slack[currency, default: Decimal(string: "0.01")!] += Decimal(string: "0.000000005")! * 720 * factor
            }
            for (currency, sum) in sums {
                let sample = metrics.values("infrazen_tenant_cost_monthly").first { $0.labels["tenant"] == tenant && $0.labels["currency"] == currency }
                let value = sample.flatMap { Decimal(string: $0.text) } ?? -1
                #expect((value - sum).magnitude <= slack[currency] ?? 0, "\(why): tenant \(tenant) \(currency): resources \(sum), tenant \(value)")
            }
        }
    }
}
