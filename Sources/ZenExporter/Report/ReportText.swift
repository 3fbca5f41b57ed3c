import CostModel
import Foundation
import Ingest

/// The report's sections as tables of text: one definition that Markdown, CSV and HTML each
/// lay out, so the three formats always hold the same figures.
struct ReportTable: Sendable {
    /// Machine name: the CSV `section` column, the HTML id.
    var section: String
    var title: String
    var columns: [String]
    var rows: [[String]]
    /// Said when there are no rows.
    var empty = "none"
}

extension MonthlyReport {
    enum Format: String, CaseIterable, Sendable { case markdown, csv, html }

    func render(_ format: Format) -> String {
        switch format {
        case .markdown: markdown
        case .csv: csv
        case .html: ReportHTML(report: self).document
        }
    }

    /// Money with exactly two decimals, as finance reads it: 52653.50, not 52653.5.
    static func money(_ amount: Decimal) -> String {
        let text = amount.rounded(scale: 2).plainString
        guard let dot = text.firstIndex(of: ".") else { return text + ".00" }
        return text + String(repeating: "0", count: max(0, 3 - text.distance(from: dot, to: text.endIndex)))
    }
    static func percent(_ ratio: Decimal) -> String { "\((ratio * 100).rounded(scale: 1).plainString) %" }

    var title: String { "Cloud spend report, \(month)" }

    /// What the figures cover, and where the tenants' figures come from.
    var coverage: String {
        "Billed cost from \(month.first) through \(through) in the exporter's stored history, amounts per currency "
            + "(converted to \(reporting.code) where a rate is known, each day at that day's rate, never added across currencies); "
            + "each source's bill rounded once to the cent, the total their sum, every breakdown rounded to that total. "
            + tenantSource
    }

    /// Where the by-tenant figures come from: the same day-by-day allocation as
    /// `infrazen_tenant_cost_month_to_date`, and which days took another day's usage.
    var tenantSource: String {
        var text = "Tenants: each day's billed cost placed by tags and allocation rules, the rest of each category spread by its shared "
            + "driver weighed with that day's usage (as infrazen_tenant_cost_month_to_date)."
        if !borrowedUsage.isEmpty { text += " Some days had no stored usage poll and were weighed with another day's values (see Data quality)." }
        return text
    }

    var tables: [ReportTable] {
        func amounts(_ lines: [Line], _ section: String, _ title: String, _ key: String) -> ReportTable {
            ReportTable(section: section, title: title, columns: [key, "currency", "amount"],
                        rows: lines.map { [$0.key, $0.currency.code, Self.money($0.amount)] })
        }
        var tables = [
            amounts(totals, "total", "Total", "scope"),
            amounts(bySource, "source", "By source", "source"),
            amounts(byProvider, "provider", "By provider", "provider"),
            amounts(byService, "service", "By service", "service"),
            amounts(byCategory, "category", "By category", "category"),
            amounts(byTenant, "tenant", "By tenant", "tenant"),
            ReportTable(section: "pool", title: "Shared pools", columns: ["pool", "tenant", "currency", "amount"],
                        rows: pools.map { [$0.pool, $0.line.key, $0.line.currency.code, Self.money($0.line.amount)] },
                        empty: "no shared pool billed this month"),
            ReportTable(section: "invoices", title: "Invoices", columns: ["source", "invoice", "issuer", "currency", "amount"],
                        rows: invoices.flatMap { source, statement in
                            statement.lines.map { [source, $0.id, $0.issuer, $0.currency.code, Self.money($0.amount)] }
                                + statement.totals.flatMap { total in
                                    [[source, "(sum of invoices)", "", total.currency.code, Self.money(total.invoiced)],
                                     [source, "(billed in the month)", "", total.currency.code, Self.money(total.billed)]]
                                }
                        }, empty: "no source's billing names invoices"),
            ReportTable(section: "budget", title: "Budget against actual", columns: ["budget", "period", "currency", "amount", "spent", "forecast", "used"],
                        rows: budgets.map { budget in
                            [budget.name, budget.period, budget.currency.code, Self.money(budget.amount), Self.money(budget.spent), Self.money(budget.forecast),
                             budget.amount > 0 ? Self.percent(budget.spent / budget.amount) : ""]
                        }, empty: "no budgets configured"),
            ReportTable(section: "movers", title: "Top movers against \(month.previous)", columns: ["service", "currency", "previous", "current", "change"],
                        rows: movers.map { [$0.service, $0.currency.code, Self.money($0.previous), Self.money($0.current), Self.money($0.change)] },
                        empty: "no service changed"),
            ReportTable(section: "anomalies", title: "Anomalies of the month", columns: ["day", "scope", "score", "cost", "currency"],
                        rows: anomalies.map { [$0.day.description, $0.scope, String(format: "%.1f", $0.score), Self.money($0.actual), $0.currency.code] },
                        empty: "no day's cost was unusual (score above \(Int(HealthAssessment.anomalyThreshold)))"),
            ReportTable(section: "recommendations", title: "Recommendations (as of \(generatedDay))",
                        columns: ["kind", "resource", "provider", "source", "saving_monthly", "currency", "confidence", "resource_id"],
                        rows: recommendations.map { item in
                            let rec = item.recommendation
                            return [rec.kind.rawValue, rec.resourceName.isEmpty ? rec.resourceID : rec.resourceName, rec.provider, item.source,
                                    Self.money(rec.savingsMonthly.amount), rec.savingsMonthly.currency.code, String(format: "%.1f", rec.confidence),
                                    rec.resourceID]
                        }, empty: "no recommendations"),
            ReportTable(section: "health", title: "Health (as of \(generatedDay))", columns: ["component", "value", "reason"],
                        rows: (health.flatMap { health in health.score.map { [["score", String(format: "%.1f", $0), "0-100, weighted over the components below"]] } } ?? [])
                            + (health?.parts ?? []).map { [$0.component.rawValue, String(format: "%.2f", $0.value), $0.reason] },
                        empty: "no health figures"),
        ]
        var caveats = sources.map { source -> [String] in
            let missing = source.missingDays.isEmpty ? "none" : "\(source.missingDays.count): " + source.missingDays.prefix(5).map(\.description).joined(separator: ", ")
                + (source.missingDays.count > 5 ? ", …" : "")
            return [source.source, "days without billed rows", missing]
        }
        caveats += sources.filter { $0.failedSyncs > 0 }.map { [$0.source, "failed syncs", "\($0.failedSyncs); last: \($0.lastError ?? "")"] }
        caveats += borrowedUsage.map { note in
            ["(all)", "usage weighed from another day", "\(note.usage): \(note.days) day\(note.days == 1 ? "" : "s") without a stored poll weighed with "
                + (note.taken.count == 1 ? "\(note.taken[0])'s values" : "the values of \(note.taken.count) other days")]
        }
        caveats += overCapacity.map { pool, days in
            [pool, "capacity below the driver's total", "\(days.count) day\(days.count == 1 ? "" : "s") with idle 0, split by the driver alone: "
                + days.prefix(5).map(\.description).joined(separator: ", ") + (days.count > 5 ? ", …" : "")]
        }
        caveats += unallocatedShares.map { ["(all)", "unallocated share \($0.currency.code)", "\(Self.percent($0.share)) (\(Self.money($0.amount)) \($0.currency.code))"] }
        tables.append(ReportTable(section: "caveats", title: "Data quality", columns: ["source", "caveat", "detail"], rows: caveats))
        return tables
    }

    var generatedDay: String { ISO8601DateFormatter.string(from: generatedAt, timeZone: .gmt, formatOptions: [.withFullDate]) }

    var markdown: String {
        var text = "# \(title)\n\n\(coverage) Generated \(ISO8601Dates().string(generatedAt)).\n"
        for table in tables {
            text += "\n## \(table.title)\n\n"
            guard !table.rows.isEmpty else {
                text += "_\(table.empty)_\n"
                continue
            }
            func row(_ cells: [String]) -> String {
                "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }.joined(separator: " | ") + " |\n"
            }
            text += row(table.columns) + row(table.columns.map { _ in "---" })
            for cells in table.rows { text += row(cells) }
        }
        return text
    }

    /// One tidy table per section, each with its own header, separated by a blank line; the
    /// first column names the section, so the blocks can be filtered after a paste.
    var csv: String {
        tables.map { table in
            ([["section"] + table.columns] + table.rows.map { [table.section] + $0 }).map { $0.map(Self.csvField).joined(separator: ",") }
                .joined(separator: "\n") + "\n"
        }.joined(separator: "\n")
    }

    static func csvField(_ text: String) -> String {
        // A leading =, +, - or @ would be a formula in a spreadsheet: quoted and prefixed.
        let guarded = text.first.map { "=+@".contains($0) || ($0 == "-" && Decimal(string: text) == nil) } == true ? "'" + text : text
        guard guarded.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "'" }) else { return guarded }
        return "\"" + guarded.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
