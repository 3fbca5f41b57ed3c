import CostModel
import Foundation
import Storage

/// A calendar month, `YYYY-MM`.
struct ReportMonth: Sendable, Hashable, CustomStringConvertible {
    var year: Int
    var month: Int

    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let year = Int(parts[0]), let month = Int(parts[1]),
              (1...12).contains(month), year >= 1970 else { return nil }
        self.init(year: year, month: month)
    }

    init(year: Int, month: Int) {
        self.year = year
        self.month = month
    }

    init(containing day: LocalDay) { self.init(year: day.year, month: day.month) }

    var first: LocalDay { LocalDay(year: year, month: month, day: 1) }
    var next: ReportMonth { month == 12 ? ReportMonth(year: year + 1, month: 1) : ReportMonth(year: year, month: month + 1) }
    var previous: ReportMonth { month == 1 ? ReportMonth(year: year - 1, month: 12) : ReportMonth(year: year, month: month - 1) }
    var last: LocalDay { next.first.adding(days: -1) }
    var description: String { String(format: "%04d-%02d", year, month) }
}

/// The monthly report for finance, from the stored history only. Its money comes from the same
/// computation as `/metrics` (`EstateEvaluation.dailyAllocation` → `BilledSpend`, rounded by `SpendStatement`): the
/// `scope_daily` rows of the month, each day converted at its own day's rate where a rate is
/// known, tenants allocated day by day with that day's usage. The running month's report
/// therefore shows the exported month to date digit for digit. Amounts of different
/// currencies are never added. Recommendations and the health score are the current
/// evaluation's, as of the report's making: the database keeps no history of them.
struct MonthlyReport: Sendable {
    struct Line: Sendable, Equatable {
        var key: String
        var currency: Currency
        var amount: Decimal
    }

    struct BudgetLine: Sendable {
        var name: String
        var period: String
        var currency: Currency
        var amount: Decimal
        var spent: Decimal
        var forecast: Decimal
    }

    struct Mover: Sendable {
        var service: String
        var currency: Currency
        var previous: Decimal
        var current: Decimal
        var change: Decimal { current - previous }
    }

    struct AnomalyLine: Sendable {
        var day: LocalDay
        var scope: String
        var score: Double
        var actual: Decimal
        var currency: Currency
    }

    struct SourceCaveat: Sendable {
        var source: String
        /// Days of the month that are over without any billed row from the source.
        var missingDays: [LocalDay]
        var failedSyncs: Int
        var lastError: String?
    }

    var month: ReportMonth
    var reporting: Currency
    var generatedAt: Date
    /// The last day counted: the month's last, or today while the month runs (today's rows are
    /// what the providers billed so far, as month-to-date counts them).
    var through: LocalDay
    var totals: [Line] = []
    var bySource: [Line] = []
    var byProvider: [Line] = []
    var byService: [Line] = []
    var byCategory: [Line] = []
    /// Tenant "" is the unallocated rest.
    var byTenant: [Line] = []
    var daily: [Line] = []
    var budgets: [BudgetLine] = []
    var movers: [Mover] = []
    var anomalies: [AnomalyLine] = []
    var recommendations: [EstateEvaluation.SourcedRecommendation] = []
    var health: HealthAssessment?
    var sources: [SourceCaveat] = []
    /// Usage queries that weighed some days of the month with another day's values: query →
    /// (days, the days whose values were taken).
    var borrowedUsage: [(usage: String, days: Int, taken: [LocalDay])] = []
    /// Each shared pool's month split per tenant (`__idle__` among them), rounded per pool and
    /// currency to the pool's exact sum; and the days a pool's capacity was below its driver's.
    var pools: [(pool: String, line: Line)] = []
    var overCapacity: [(pool: String, days: [LocalDay])] = []
    /// Per source whose billing names invoices (FOCUS `InvoiceId`), from its last good sync.
    var invoices: [(source: String, statement: InvoiceStatement)] = []

    static let unallocated = "(unallocated)"
    static let moversShown = 5
    static let anomaliesShown = 10

    /// Unallocated share per currency: cost without a tenant over the month's total.
    var unallocatedShares: [(currency: Currency, amount: Decimal, share: Decimal)] {
        totals.compactMap { total in
            guard total.amount != 0 else { return nil }
            let amount = byTenant.filter { $0.key == Self.unallocated && $0.currency == total.currency }.map(\.amount).reduce(0, +)
            return (total.currency, amount, amount / total.amount)
        }
    }

    /// Builds the report of `month` from `store`'s rows of the configured sources, with the
    /// exchange rates, recommendations and health of `evaluation` (restored, not synced).
    static func build(month: ReportMonth, config: ExporterConfig, store: Store, evaluation: EstateEvaluation,
                      now: Date) async throws -> MonthlyReport {
        let zone = config.reporting.timeZone
        let today = LocalDay(now, in: zone)
        let through = min(month.last, today)
        // A day is judged missing only once it is over.
        let lastWhole = min(month.last, today.adding(days: -1))
        var report = MonthlyReport(month: month, reporting: evaluation.fx.reporting, generatedAt: now, through: through)
        var names = config.sources.map(\.name)
        if !config.items.isEmpty { names.append(ManualItemsSource.sourceName) }
        // 35 days before the month: the anomaly baseline of its first day.
        let windowStart = min(month.previous.first, month.first.adding(days: -35))
        var stored: [AttributedCost] = []
        for name in names {
            let history = try await store.scopeHistory(source: name, from: windowStart)
            let sourceRows = history.attributed(source: name, from: windowStart).filter { $0.cost.day <= month.last }
            stored += sourceRows
            let billedDays = Set(sourceRows.map(\.cost.day))
            // Items are priced, never billed by day: no day of theirs is missing.
            let missing = lastWhole < month.first || name == ManualItemsSource.sourceName ? []
                : (0...month.first.days(until: lastWhole)).map { month.first.adding(days: $0) }.filter { !billedDays.contains($0) }
            let failures = try await store.failedSyncs(source: name, from: month.first.start(in: zone), to: month.next.first.start(in: zone))
            report.sources.append(SourceCaveat(source: name, missingDays: missing, failedSyncs: failures.count, lastError: failures.lastError))
            if let ledger = try await store.latestExtras(source: name)?.commitments, !ledger.invoices.isEmpty {
                let statement = InvoiceStatement(ledger, from: month.first, through: through)
                if !statement.totals.isEmpty { report.invoices.append((name, statement)) }
            }
        }
        // Each day at its own day's rate, as the evaluation converts.
        let rows = evaluation.fxHistory.converted(stored)
        // The configured drivers and pools with the stored usage of a run of days, read once per
        // run: the billed spend and the tenant budgets of the month take the same.
        func allocation(_ first: LocalDay, _ last: LocalDay) async throws -> DailyAllocation {
            let usageDays = config.usage.isEmpty ? [:] : try await store.usageTenantDays(from: first, through: last)
            return EstateEvaluation.dailyAllocation(config, usageDays: usageDays, usageToday: evaluation.usageToday, today: today)
        }
        func statement(_ first: LocalDay, _ last: LocalDay, _ allocation: DailyAllocation) -> (SpendStatement, BilledSpend) {
            let billed = BilledSpend(rows, from: first, through: last, allocation: allocation, keptTenants: evaluation.keptTenants)
            return (SpendStatement(billed), billed)
        }
        let monthAllocation = try await allocation(month.first, through)
        let (spend, billed) = statement(month.first, through, monthAllocation)
        report.totals = spend.totals.sorted { $0.key < $1.key }.map { Line(key: "total", currency: $0.key, amount: $0.value) }
        report.bySource = spend.sources.map { Line(key: $0.source, currency: $0.currency, amount: $0.amount) }
            .sorted { ($0.currency, $1.amount, $0.key) < ($1.currency, $0.amount, $1.key) }
        report.byProvider = lines(spend.providers)
        report.byService = lines(spend.services)
        report.byCategory = lines(spend.categories)
        report.byTenant = lines(spend.tenants.merging([unallocated: SpendStatement.sums(spend.unallocated)]) { tenant, _ in tenant })
        report.daily = lines(Dictionary(uniqueKeysWithValues: spend.days.map { ($0.key.description, $0.value) }))
            .sorted { ($0.key, $0.currency) < ($1.key, $1.currency) }
        report.borrowedUsage = billed.borrowedUsage.sorted { $0.key < $1.key }.map { usage, days in
            (usage, days.count, Array(Set(days.values)).sorted())
        }
        for (pool, tenants) in billed.pools.sorted(by: { $0.key < $1.key }) {
            // Each pool's tenants rounded per currency to the pool's own sum.
            report.pools += lines(LargestRemainder.round(groups: [tenants.mapValues { $0.mapValues(Micros.decimal) }], to: [:])[0]).map { (pool, $0) }
        }
        report.overCapacity = billed.overCapacity.sorted { $0.key < $1.key }.map { ($0.key, $0.value.sorted()) }

        // Budgets as they stood at the end of the month (or now, while it runs).
        let budgetNow = min(now, month.next.first.start(in: zone).addingTimeInterval(-1))
        let budgetRows = EstateEvaluation.budgetRows(rows, config: config, allocation: monthAllocation)
        report.budgets = config.budgets.map { budget in
            let status = budget.evaluate(budgetRows, now: budgetNow, timeZone: zone)
            return BudgetLine(name: budget.name, period: budget.period.rawValue, currency: budget.amount.currency,
                              amount: budget.amount.amount, spent: status.spent, forecast: status.forecast)
        }

        let previous = statement(month.previous.first, month.previous.last, try await allocation(month.previous.first, month.previous.last))
        let previousServices = lines(previous.0.services)
        let before = Dictionary(previousServices.map { ("\($0.key)|\($0.currency)", $0.amount) }, uniquingKeysWith: +)
        var movers = report.byService.map { Mover(service: $0.key, currency: $0.currency, previous: before["\($0.key)|\($0.currency)"] ?? 0, current: $0.amount) }
        let current = Set(report.byService.map { "\($0.key)|\($0.currency)" })
        movers += previousServices.filter { !current.contains("\($0.key)|\($0.currency)") }
            .map { Mover(service: $0.key, currency: $0.currency, previous: $0.amount, current: 0) }
        report.movers = Array(movers.filter { $0.change != 0 }
            .sorted { (abs($0.change), $1.service) > (abs($1.change), $0.service) }.prefix(moversShown))

        report.anomalies = anomalies(rows, month: month, through: lastWhole)
        report.recommendations = evaluation.recommendations.sorted {
            ($0.recommendation.savingsMonthly.amount, $1.recommendation.resourceID) > ($1.recommendation.savingsMonthly.amount, $0.recommendation.resourceID)
        }
        report.health = evaluation.owner.health
        return report
    }

    /// Rounded amounts per key and currency as lines, largest first.
    static func lines(_ amounts: [String: [Currency: Decimal]]) -> [Line] {
        amounts.flatMap { key, amounts in amounts.map { Line(key: key, currency: $0.key, amount: $0.value) } }
            .sorted { ($0.currency, $1.amount, $0.key) < ($1.currency, $0.amount, $1.key) }
    }

    /// Each day of the month whose service (or total) cost scored above the alert threshold
    /// against its own trailing baseline; the highest first.
    static func anomalies(_ rows: [AttributedCost], month: ReportMonth, through: LocalDay) -> [AnomalyLine] {
        guard through >= month.first else { return [] }
        let series = DailySeries.scopes(of: rows.map(\.cost)).filter { $0.scope == .total || $0.scope.name.hasPrefix("service:") }
        let detector = AnomalyDetector()
        var found: [AnomalyLine] = []
        for offset in 0...month.first.days(until: through) {
            let day = month.first.adding(days: offset)
            for scopeSeries in series {
                guard let score = detector.score(scopeSeries, day: day), score.score > HealthAssessment.anomalyThreshold else { continue }
                found.append(AnomalyLine(day: day, scope: scopeSeries.scope.name, score: score.score, actual: score.actual, currency: scopeSeries.currency))
            }
        }
        return Array(found.sorted { ($0.score, $1.day) > ($1.score, $0.day) }.prefix(anomaliesShown))
    }
}
