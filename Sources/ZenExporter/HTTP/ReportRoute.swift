import CostModel
import Foundation
import Hummingbird
import NIOCore
import Storage

/// `GET /report/YYYY-MM.{html,md,csv}`: the monthly report, built on request from the stored
/// history and the current evaluation (as `zen-exporter report` does); no provider is called.
struct ReportRoute: Sendable {
    let config: ExporterConfig
    let store: Store
    let estate: Estate
    var clock: @Sendable () -> Date = { Date() }

    static func fileExtension(_ format: MonthlyReport.Format) -> String {
        switch format {
        case .markdown: "md"
        case .csv: "csv"
        case .html: "html"
        }
    }

    static func contentType(_ format: MonthlyReport.Format) -> String {
        switch format {
        case .markdown: "text/markdown; charset=utf-8"
        case .csv: "text/csv; charset=utf-8"
        case .html: "text/html; charset=utf-8"
        }
    }

    func response(file: String) async -> Response {
        let parts = file.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let month = ReportMonth(parts[0]),
              let format = MonthlyReport.Format.allCases.first(where: { Self.fileExtension($0) == parts[1] }) else {
            return Self.text(.notFound, "Not found: reports are /report/YYYY-MM.html, .md or .csv\n")
        }
        let now = clock()
        guard month.first <= LocalDay(now, in: config.reporting.timeZone) else { return Self.text(.notFound, "\(month) has not begun\n") }
        do {
            let report = try await MonthlyReport.build(month: month, config: config, store: store, evaluation: await estate.currentEvaluation, now: now)
            return Response(status: .ok, headers: [.contentType: Self.contentType(format)],
                            body: .init(byteBuffer: ByteBuffer(string: report.render(format))))
        } catch {
            return Self.text(.internalServerError, "The report could not be read from the database: \(error)\n")
        }
    }

    private static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
