import ArgumentParser
import CostModel
import Foundation
import Logging
import Storage

/// `zen-exporter report --month YYYY-MM`: the monthly report from the stored history. No
/// provider is called: the sources' last snapshots and history are restored from the
/// database, as `serve` does at start, and nothing is synced.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write the monthly report (Markdown, CSV or HTML) from the stored history, calling no provider.")
    @OptionGroup var options: ConfigOption
    @Option(name: .long, help: "The month, YYYY-MM.")
    var month: String
    @Option(name: .long, help: "markdown, csv or html.")
    var format = "markdown"
    @Option(name: .long, help: "Write the report here instead of standard output.")
    var output: String?
    @Option(name: .long, help: "Pretend it is this ISO 8601 time (reproducible reports).")
    var at: String?

    func run() async throws {
        guard let reportMonth = ReportMonth(month) else { throw ValidationError("--month: \"\(month)\" is not a month such as 2026-10") }
        guard let reportFormat = MonthlyReport.Format(rawValue: format) else {
            throw ValidationError("--format: \"\(format)\" is not one of \(MonthlyReport.Format.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let now = try at.map(AtOption.instant) ?? Date()
        let config = try options.load()
        guard reportMonth.first <= LocalDay(now, in: config.reporting.timeZone) else {
            throw ValidationError("--month: \(reportMonth) has not begun")
        }
        guard FileManager.default.fileExists(atPath: config.storage.path) else {
            throw ValidationError("no database at \(config.storage.path) (storage.path): run serve or sync --once first")
        }
        let text = try await Self.report(reportMonth, format: reportFormat, config: config, now: now, logger: options.logger("zen-exporter.report"))
        if let output {
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                throw ValidationError("--output: cannot write \(output): \(error.localizedDescription)")
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    static func report(_ month: ReportMonth, format: MonthlyReport.Format, config: ExporterConfig, now: Date, logger: Logger) async throws -> String {
        let store = try Store(path: config.storage.path)
        defer { try? store.close() }
        var engine = SyncEngine(config: config, store: store, logger: logger)
        engine.clock = { now }
        await engine.restore()
        let report = try await MonthlyReport.build(month: month, config: config, store: store, evaluation: await engine.estate.currentEvaluation, now: now)
        return report.render(format)
    }
}
