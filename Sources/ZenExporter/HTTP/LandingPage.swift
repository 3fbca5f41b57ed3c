import CostModel
import Foundation
import Ingest

/// `GET /`: the overview for a person with a browser (an owner, a CFO, an SRE): the health
/// score and its reasons, totals, month-to-date against budgets, the top recommendations,
/// tenants by cost and margin, links to the monthly reports, and what the exporter is syncing.
/// Rendered when the estate publishes, from the evaluation it published; a request only
/// returns the text. No script.
enum LandingPage {
    static let recommendationsShown = 5
    static let tenantsShown = 10

    static func html(sources: [SourceStatus], usage: [UsageStatus] = [], evaluation: EstateEvaluation, series: Int,
                     timeZone: TimeZone, databaseRecovered: Bool = false, shard: Shard = .whole) -> String {
        // The health score and tenants combine sources: another shard's overview shows where they are.
        let ownsEstate = shard.ownsEstateFigures
        let sections = [
            ownsEstate ? health(evaluation.owner.health) : servedByShardZero("Health"),
            shardNote(shard) + totals(evaluation),
            budgets(evaluation.budgets),
            recommendations(evaluation),
            ownsEstate ? tenants(evaluation) : servedByShardZero("Tenants by cost"),
            ownsEstate ? pools(evaluation.pools) : "",
            reports(now: evaluation.now, timeZone: timeZone),
            exporterState(sources: sources, usage: usage, series: series, databaseRecovered: databaseRecovered),
        ]
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>ZenExporter</title>
        <style>body{font-family:"DejaVu Sans",sans-serif;margin:2em;color:#1a202c;max-width:70em}table{border-collapse:collapse;margin:.4em 0}
        td,th{border:1px solid #cbd5e0;padding:.3em .6em;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
        h2{font-size:1.2em;margin-top:1.5em;border-bottom:1px solid #cbd5e0}.score{font-size:2.4em;font-weight:bold}
        .bar{display:inline-block;height:.8em;background:#2b6cb0}.neg{color:#c53030;font-weight:bold}</style>
        </head><body>
        <h1>ZenExporter</h1>
        <p>Cloud spend for Prometheus. Version \(escape(BuildInfo.current.version)); \(series) series at <a href="/metrics">/metrics</a>.
        Figures as of the last evaluation, \(evaluation.now.timeIntervalSince1970 > 0 ? ISO8601Dates().string(evaluation.now) : "not yet run").</p>
        \(sections.joined(separator: "\n"))
        <p><a href="/-/healthy">/-/healthy</a> · <a href="/-/ready">/-/ready</a></p>
        </body></html>

        """
    }

    static func servedByShardZero(_ title: String) -> String {
        "<h2>\(title)</h2><p><em>served by shard 0, which evaluates the figures that combine sources (docs/scaling.md)</em></p>"
    }

    static func shardNote(_ shard: Shard) -> String {
        guard shard.count > 1 else { return "" }
        return "<p class=\"shard\">Shard \(shard.index) of \(shard.count): the totals below are this shard's sources only.</p>\n"
    }

    static func health(_ health: HealthAssessment?) -> String {
        guard let health, let score = health.score else { return "<h2>Health</h2><p><em>not assessed yet</em></p>" }
        let rows = health.parts.map { part -> String in
            "<tr><td>\(part.component.rawValue)</td><td class=\"n\">\(String(format: "%.2f", part.value))</td>"
                + "<td><span class=\"bar\" style=\"width:\(Int((part.value * 100).rounded()))px\"></span></td><td>\(escape(part.reason))</td></tr>"
        }.joined(separator: "\n")
        return """
        <h2>Health</h2>
        <p><span class="score" id="health-score">\(String(format: "%.1f", score))</span> of 100</p>
        <table><tr><th>component</th><th>value</th><th></th><th>reason</th></tr>
        \(rows)
        </table>
        """
    }

    static func totals(_ evaluation: EstateEvaluation) -> String {
        let runRate = evaluation.runRate.totals
        let monthToDate = evaluation.monthToDate.totals
        let currencies = Set(runRate.keys).union(monthToDate.keys).sorted()
        guard !currencies.isEmpty else { return "<h2>Totals</h2><p><em>no data yet</em></p>" }
        let rows = currencies.map { currency -> String in
            "<tr><td>\(currency.code)</td><td class=\"n\">\(money(runRate[currency] ?? 0))</td><td class=\"n\">\(money(monthToDate[currency] ?? 0))</td></tr>"
        }.joined(separator: "\n")
        let units = evaluation.owner.unitCosts.filter { $0.scope == "total" }.map { (cost: OwnerFigures.UnitCost) -> String in
            "\(money(cost.amount)) \(cost.currency.code) per \(escape(cost.unit)) (\(cost.units.plainString) \(escape(cost.unit))s)"
        }
        return """
        <h2>Totals</h2>
        <table><tr><th>currency</th><th>monthly run rate</th><th>month to date</th></tr>
        \(rows)
        </table>
        \(units.isEmpty ? "" : "<p>Unit cost: \(units.joined(separator: "; ")).</p>")
        """
    }

    static func budgets(_ budgets: [BudgetStatus]) -> String {
        guard !budgets.isEmpty else { return "<h2>Budgets</h2><p><em>no budgets configured</em></p>" }
        let rows = budgets.map { status -> String in
            let over = status.forecast > status.budget.amount.amount
            return "<tr><td>\(escape(status.budget.name))</td><td>\(status.budget.period.rawValue)</td><td class=\"n\">\(money(status.spent))</td>"
                + "<td class=\"n\">\(money(status.budget.amount.amount))</td><td class=\"n\(over ? " neg" : "")\">\(money(status.forecast))</td>"
                + "<td class=\"n\">\(String(format: "%.1f", status.utilization * 100)) %</td><td>\(status.budget.amount.currency.code)</td></tr>"
        }.joined(separator: "\n")
        return """
        <h2>Month to date against budgets</h2>
        <table><tr><th>budget</th><th>period</th><th>spent</th><th>amount</th><th>forecast</th><th>used</th><th>currency</th></tr>
        \(rows)
        </table>
        """
    }

    static func recommendations(_ evaluation: EstateEvaluation) -> String {
        let top = evaluation.recommendations.sorted {
            ($0.recommendation.savingsMonthly.amount, $1.recommendation.resourceID) > ($1.recommendation.savingsMonthly.amount, $0.recommendation.resourceID)
        }.prefix(recommendationsShown)
        guard !top.isEmpty else { return "<h2>Top recommendations</h2><p><em>none</em></p>" }
        let rows = top.map { item -> String in
            let rec = item.recommendation
            let name = rec.resourceName.isEmpty ? rec.resourceID : rec.resourceName
            return "<tr><td>\(rec.kind.rawValue)</td><td title=\"\(escape(rec.resourceID))\">\(escape(name))</td><td>\(escape(rec.provider))</td>"
                + "<td>\(escape(item.source))</td><td class=\"n\">\(money(rec.savingsMonthly.amount))</td><td>\(rec.savingsMonthly.currency.code)</td>"
                + "<td class=\"id\">\(escape(rec.resourceID))</td></tr>"
        }.joined(separator: "\n")
        return """
        <h2>Top recommendations</h2>
        <table><tr><th>kind</th><th>resource</th><th>provider</th><th>source</th><th>saving a month</th><th>currency</th><th>resource ID</th></tr>
        \(rows)
        </table>
        """
    }

    static func tenants(_ evaluation: EstateEvaluation) -> String {
        let rows = evaluation.runRate.tenants.flatMap { tenant, amounts in amounts.map { (tenant: tenant, currency: $0.key, cost: $0.value) } }
            .sorted { ($1.cost, $0.tenant) < ($0.cost, $1.tenant) }.prefix(tenantsShown)
        let monthToDate = evaluation.monthToDate.tenants
        guard !rows.isEmpty else { return "<h2>Tenants by cost</h2><p><em>no tenants</em></p>" }
        let margins = Dictionary(evaluation.owner.margins.map { ("\($0.tenant)|\($0.currency)", $0) }, uniquingKeysWith: { first, _ in first })
        let html = rows.map { row -> String in
            let margin = margins["\(row.tenant)|\(row.currency)"]
            let ratio: String = margin.map { "<td class=\"n\($0.ratio < 0 ? " neg" : "")\">\(String(format: "%.1f", ($0.ratio * 100).doubleValue)) %</td>" } ?? "<td></td>"
            let billed = monthToDate[row.tenant]?[row.currency].map(money) ?? ""
            return "<tr><td>\(escape(row.tenant))</td><td class=\"n\">\(money(row.cost))</td><td class=\"n\">\(billed)</td>"
                + "<td class=\"n\">\(margin.map { money($0.revenue) } ?? "")</td>\(ratio)<td>\(row.currency.code)</td></tr>"
        }.joined(separator: "\n")
        return """
        <h2>Tenants by cost</h2>
        <table><tr><th>tenant</th><th>monthly run rate</th><th>month to date</th><th>revenue</th><th>margin</th><th>currency</th></tr>
        \(html)
        </table>
        """
    }

    /// Each shared pool: its run rate per tenant, idle first, and how much of it is idle today.
    static func pools(_ figures: PoolFigures) -> String {
        guard !figures.pools.isEmpty else { return "" }
        let tables = figures.pools.map { pool -> String in
            var idle = "no usage yet: its cost is unallocated"
            if let ratio = pool.idleRatio { idle = String(format: "%.1f", (ratio * 100).doubleValue) + " % of its capacity idle" }
            let entries: [(tenant: String, currency: Currency, cost: Decimal)] = pool.tenants.flatMap { tenant, amounts in
                amounts.map { (tenant: tenant, currency: $0.key, cost: $0.value) }
            }
            // Idle first: it is what the pool's owner acts on; then the largest shares.
            let rows = entries.sorted { a, b in
                let idleA = a.tenant == ResourcePool.idleTenant, idleB = b.tenant == ResourcePool.idleTenant
                if idleA != idleB { return idleA }
                return a.cost != b.cost ? a.cost > b.cost : a.tenant < b.tenant
            }.prefix(tenantsShown)
                .map { "<tr><td>\(escape($0.tenant))</td><td class=\"n\">\(money($0.cost))</td><td>\($0.currency.code)</td></tr>" }
            let more = entries.count > tenantsShown ? "\n<p>and \(entries.count - tenantsShown) more in <code>infrazen_pool_cost_monthly</code></p>" : ""
            return "<h3>\(escape(pool.name)): \(idle)</h3>\n<table><tr><th>tenant</th><th>monthly run rate</th><th>currency</th></tr>\n"
                + rows.joined(separator: "\n") + "\n</table>" + more
        }
        return "<h2>Shared pools</h2>\n" + tables.joined(separator: "\n")
    }

    static func reports(now: Date, timeZone: TimeZone) -> String {
        let current = ReportMonth(containing: LocalDay(now, in: timeZone))
        let links = [current.previous, current].map { month -> String in
            "<li>\(month): " + MonthlyReport.Format.allCases.map { "<a href=\"/report/\(month).\(ReportRoute.fileExtension($0))\">\($0.rawValue)</a>" }.joined(separator: " · ") + "</li>"
        }.joined(separator: "\n")
        return "<h2>Monthly reports</h2>\n<ul>\n\(links)\n</ul>"
    }

    static func exporterState(sources: [SourceStatus], usage: [UsageStatus], series: Int, databaseRecovered: Bool) -> String {
        let dates = ISO8601Dates()
        let rows = sources.map { source -> String in
            let state = switch source.up {
            case .some(true): "up"
            case .some(false): source.hasData ? "down (serving last good data)" : "down"
            case .none: source.hasData ? "restored, syncing" : "syncing"
            }
            let lastSync = source.lastSuccess.map { dates.string($0) } ?? "never"
            let errors = source.errors.values.reduce(0, +)
            return "<tr><td>\(escape(source.name))</td><td>\(escape(source.provider))</td><td>\(state)</td><td>\(lastSync)</td>"
                + "<td>\(source.resources.count)</td><td>\(errors)</td><td>\(escape(source.lastError ?? ""))</td></tr>"
        }.joined(separator: "\n")
        let usageDown = usage.filter { $0.up == false }.map { "\($0.reference)" }
        return """
        <h2>The exporter</h2>
        <table><tr><th>source</th><th>provider</th><th>state</th><th>last good sync</th><th>resources</th><th>errors</th><th>last error</th></tr>
        \(rows)
        </table>
        <p>\(usage.count) usage queries, \(usageDown.isEmpty ? "all up or not run yet" : "down: " + escape(usageDown.joined(separator: ", "))).\(databaseRecovered ? " The database could not be read at start and was moved aside (see the log)." : "")</p>
        """
    }

    static func money(_ amount: Decimal) -> String { MonthlyReport.money(amount) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
