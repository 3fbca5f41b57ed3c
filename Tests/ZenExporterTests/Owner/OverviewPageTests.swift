import CostModel
import Foundation
import Testing
@testable import ZenExporter

/// `/` and `/report/…` of the real daemon on the plain shipped exporter.yaml, over loopback.
@Suite("Overview page", .timeLimit(.minutes(2)))
struct OverviewPageTests {
    static func shippedConfig() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../..").standardizedFileURL
        return try String(contentsOf: root.appendingPathComponent("exporter.yaml"), encoding: .utf8)
    }

    @Test("the overview shows the exported health score, budgets, recommendations, tenants with margins and report links")
    func overviewAgreesWithMetrics() async throws {
        let daemon = try Daemon(config: try Self.shippedConfig())
        try daemon.start()
        try await daemon.waitUntilReady()
        // Usage (tenants, revenue) lands after the first source sync: wait for the margins.
        var metrics = ParsedExposition("")
        let deadline = Date().addingTimeInterval(30)
        while metrics.values("infrazen_tenant_margin_ratio").isEmpty && Date() < deadline {
            metrics = ParsedExposition(String(decoding: try await daemon.get("/metrics").0, as: UTF8.self))
            if metrics.values("infrazen_tenant_margin_ratio").isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        let (body, status) = try await daemon.get("/")
        #expect(status == 200)
        let page = String(decoding: body, as: UTF8.self)
        let score = try #require(metrics.value("infrazen_health_score", [:]))
        #expect(page.contains("<span class=\"score\" id=\"health-score\">\(String(format: "%.1f", score))</span>"))
        #expect(page.contains("<td>object-storage</td><td>monthly</td>"))
        #expect(page.contains("<h2>Top recommendations</h2>") && page.contains("<td>zombie</td>"))
        #expect(!page.contains("<script"))
        // The tenant losing most is shown with its margin in red.
        let worst = try #require(metrics.values("infrazen_tenant_margin_ratio").min { $0.value < $1.value })
        #expect(worst.value < 0)
        let tenant = try #require(worst.labels["tenant"])
        #expect(page.contains("<tr><td>\(tenant)</td>") && page.contains("<td class=\"n neg\">\(String(format: "%.1f", worst.value * 100)) %</td>"))

        let current = ReportMonth(containing: LocalDayNow.moscow())
        for month in [current.previous, current] {
            #expect(page.contains("<a href=\"/report/\(month).html\">html</a>"))
            let (report, reportStatus) = try await daemon.get("/report/\(month).html")
            #expect(reportStatus == 200)
            #expect(String(decoding: report, as: UTF8.self).contains("<h1>Cloud spend report, \(month)</h1>"))
        }
        #expect(try await daemon.get("/report/2026-13.html").1 == 404)

        // Drawn by headless Chromium: the component bars in blue and the losing margin in red.
        let shot = try Screenshot.take(html: page, width: 1200, height: 2000)
        #expect(shot.count((0x2b, 0x6c, 0xb0)) > 500, "blue pixels: \(shot.count((0x2b, 0x6c, 0xb0)))")
        #expect(shot.count((0xc5, 0x30, 0x30), tolerance: 40) > 20)
        _ = daemon.stop()
    }
}

enum LocalDayNow {
    static func moscow() -> CostModel.LocalDay { CostModel.LocalDay(Date(), in: TimeZone(identifier: "Europe/Moscow")!) }
}
