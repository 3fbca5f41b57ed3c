import CostModel
import Foundation

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

/// The monthly report for finance (issue 14), from the stored history only: every figure is a
/// sum of the `scope_daily` rows of the month, converted to the reporting currency where a rate
/// is known as the exported totals are; amounts of different currencies are never added.
/// Recommendations and the health score are the current evaluation's, as of the report's
/// making: the database keeps no history of them.
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
        var rows: [AttributedCost] = []
        for name in names {
            let history = try await store.scopeHistory(source: name, from: windowStart)
            let sourceRows = history.attributed(source: name, from: windowStart).filter { $0.cost.day <= month.last }
            rows += sourceRows.map { item in
                var item = item
                item.cost.cost = evaluation.fx.reportingOrOriginal(item.cost.cost)
                return item
            }
            let billedDays = Set(sourceRows.map(\.cost.day))
            let missing = lastWhole < month.first ? [] : (0...month.first.days(until: lastWhole)).map { month.first.adding(days: $0) }.filter { !billedDays.contains($0) }
            let failures = try await store.failedSyncs(source: name, from: month.first.start(in: zone), to: month.next.first.start(in: zone))
            report.sources.append(SourceCaveat(source: name, missingDays: missing, failedSyncs: failures.count, lastError: failures.lastError))
        }
        let inMonth = rows.filter { $0.cost.day >= month.first && $0.cost.day <= month.last }
        report.totals = lines(inMonth) { _ in "total" }
        report.byProvider = lines(inMonth) { $0.cost.provider }
        report.byService = lines(inMonth) { $0.cost.service }
        report.byCategory = lines(inMonth) { $0.cost.category.rawValue }
        report.byTenant = lines(inMonth) { $0.tenant.isEmpty ? unallocated : $0.tenant }
        report.daily = lines(inMonth) { $0.cost.day.description }.sorted { ($0.key, $0.currency) < ($1.key, $1.currency) }

        // Budgets as they stood at the end of the month (or now, while it runs).
        let budgetNow = min(now, month.next.first.start(in: zone).addingTimeInterval(-1))
        report.budgets = config.budgets.map { budget in
            let status = budget.evaluate(rows, now: budgetNow, timeZone: zone)
            return BudgetLine(name: budget.name, period: budget.period.rawValue, currency: budget.amount.currency,
                              amount: budget.amount.amount, spent: status.spent, forecast: status.forecast)
        }

        let previousRows = rows.filter { $0.cost.day >= month.previous.first && $0.cost.day <= month.previous.last }
        let before = Dictionary(lines(previousRows) { $0.cost.service }.map { ("\($0.key)|\($0.currency)", $0.amount) }, uniquingKeysWith: +)
        var movers = report.byService.map { Mover(service: $0.key, currency: $0.currency, previous: before["\($0.key)|\($0.currency)"] ?? 0, current: $0.amount) }
        let current = Set(report.byService.map { "\($0.key)|\($0.currency)" })
        movers += lines(previousRows) { $0.cost.service }.filter { !current.contains("\($0.key)|\($0.currency)") }
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

    /// Sums per key and currency, exactly, largest first.
    static func lines(_ rows: [AttributedCost], key: (AttributedCost) -> String) -> [Line] {
        var sums: [String: [Currency: Decimal]] = [:]
        for row in rows { sums[key(row), default: [:]][row.cost.cost.currency, default: 0] += row.cost.cost.amount }
        return sums.flatMap { key, amounts in amounts.map { Line(key: key, currency: $0.key, amount: $0.value) } }
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
