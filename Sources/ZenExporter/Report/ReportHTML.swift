import CostModel
import Foundation

/// The report as one self-contained HTML file: inline CSS and SVG charts (daily spend, spend
/// by service, tenants), no script, no external resource; A4-printable.
struct ReportHTML {
    var report: MonthlyReport

    /// The bars' colour: the screenshot test looks for it.
    static let barColour = "#2b6cb0"

    var document: String {
        let currency = report.reporting
        let inReporting = { (lines: [MonthlyReport.Line]) in lines.filter { $0.currency == currency } }
        let charts = [
            ("Daily spend, \(currency.code)", Self.columns(inReporting(report.daily).map { (String($0.key.suffix(2)), $0.amount) })),
            ("Spend by service, \(currency.code)", Self.bars(inReporting(report.byService).prefix(12).map { ($0.key, $0.amount) })),
            ("Tenants, \(currency.code)", Self.bars(inReporting(report.byTenant).prefix(15).map { ($0.key, $0.amount) })),
        ]
        let chartHTML = charts.map { title, svg -> String in "<figure><figcaption>\(Self.escape(title))</figcaption>\(svg)</figure>" }.joined(separator: "\n")
        let tablesHTML = report.tables.map(Self.table).joined(separator: "\n")
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(Self.escape(report.title))</title>
        <style>
        body{font-family:"DejaVu Sans",sans-serif;margin:2em;color:#1a202c;max-width:60em}
        h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #cbd5e0}
        table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #cbd5e0;padding:.25em .6em;text-align:left}
        td.n{text-align:right;font-variant-numeric:tabular-nums}
        figure{margin:1em 0;page-break-inside:avoid}figcaption{font-weight:bold;margin-bottom:.3em}
        svg text{font-family:"DejaVu Sans",sans-serif;font-size:11px;fill:#1a202c}
        @media print{body{margin:1cm}h2{page-break-after:avoid}table{page-break-inside:avoid}}
        </style></head><body>
        <h1>\(Self.escape(report.title))</h1>
        <p>\(Self.escape(report.coverage))</p>
        \(chartHTML)
        \(tablesHTML)
        </body></html>

        """
    }

    static func table(_ table: ReportTable) -> String {
        let numeric = Set(table.columns.enumerated().filter { ["amount", "spent", "forecast", "previous", "current", "change", "cost", "saving_monthly", "score", "value"].contains($0.element) }.map(\.offset))
        var html = "<h2 id=\"\(table.section)\">\(escape(table.title))</h2>\n"
        guard !table.rows.isEmpty else { return html + "<p><em>\(escape(table.empty))</em></p>" }
        html += "<table><tr>" + table.columns.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
        for row in table.rows {
            html += "<tr>" + row.enumerated().map { numeric.contains($0.offset) ? "<td class=\"n\">\(escape($0.element))</td>" : "<td>\(escape($0.element))</td>" }.joined() + "</tr>\n"
        }
        return html + "</table>"
    }

    /// Vertical bars, one per entry (days), scaled to the largest.
    static func columns(_ values: [(label: String, amount: Decimal)]) -> String {
        let width = 720, height = 200, base = 180
        guard let top = values.map(\.amount).max(), top > 0 else { return "<p><em>no data</em></p>" }
        let step = Double(width - 60) / Double(max(values.count, 1))
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height + 20)\" role=\"img\">"
        svg += "<text x=\"0\" y=\"12\">\(escape(MonthlyReport.money(top)))</text>"
        for (index, value) in values.enumerated() {
            let h = max(0, (value.amount / top).doubleValue * Double(base - 20))
            let x = 60 + Double(index) * step
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"\(barColour)\"><title>", x, Double(base) - h, max(1, step * 0.8), h)
                + "\(escape(value.label)): \(escape(MonthlyReport.money(value.amount)))</title></rect>"
            if index % 5 == 0 { svg += String(format: "<text x=\"%.1f\" y=\"%d\">", x, base + 14) + "\(escape(value.label))</text>" }
        }
        return svg + "<line x1=\"58\" y1=\"\(base)\" x2=\"\(width)\" y2=\"\(base)\" stroke=\"#4a5568\"/></svg>"
    }

    /// Horizontal bars with their labels and amounts, scaled to the largest.
    static func bars(_ values: [(label: String, amount: Decimal)]) -> String {
        guard let top = values.map(\.amount).max(), top > 0 else { return "<p><em>no data</em></p>" }
        let row = 22, labelWidth = 220, barWidth = 380
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(labelWidth + barWidth + 120)\" height=\"\(values.count * row + 4)\" role=\"img\">"
        for (index, value) in values.enumerated() {
            let y = index * row
            let w = max(1, (value.amount / top).doubleValue * Double(barWidth))
            svg += "<text x=\"0\" y=\"\(y + 15)\">\(escape(String(value.label.prefix(34))))</text>"
            svg += String(format: "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"\(barColour)\"/>", labelWidth, y + 3, w)
            svg += String(format: "<text x=\"%.1f\" y=\"%d\">", Double(labelWidth) + w + 6, y + 15) + "\(escape(MonthlyReport.money(value.amount)))</text>"
        }
        return svg + "</svg>"
    }

    static func escape(_ text: String) -> String { LandingPage.escape(text) }
}

extension Decimal {
    var doubleValue: Double { NSDecimalNumber(decimal: self).doubleValue }
}
