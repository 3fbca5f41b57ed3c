import Foundation
import SourceKit

/// One row a usage query returned: a tenant's value, or the total when the query names no
/// tenant (a one-column SQL result, a Prometheus series without the tenant label).
struct UsageRow: Sendable, Hashable {
    var tenant: String?
    var value: Double
}

/// Where a usage source's queries run: the operator's SQLite or PostgreSQL database, or
/// Prometheus. One query at a time; the collector bounds each in time and cancels the task
/// on timeout, which a backend must turn into stopping the query.
protocol UsageBackend: Sendable {
    func run(_ query: UsageSourceConfig.Query, timeout: Duration) async throws -> [UsageRow]
}

enum UsageBackends {
    static func make(_ config: UsageSourceConfig) -> any UsageBackend {
        switch config.kind {
        case .sqlite: SQLiteUsageBackend(path: config.path ?? config.dsn?.value ?? "")
        case .demo: DemoUsageBackend(path: config.path ?? "")
        case .postgres: PostgresUsageBackend(dsn: config.dsn.flatMap { PostgresDSN($0.value) })
        case .prometheus: PrometheusUsageBackend(url: config.url ?? "", tenantLabel: config.tenantLabel)
        }
    }
}

/// SQL results by column: with two or more columns, `tenant` and `value` by name, else the
/// first and the last; with one column, a total.
struct SQLColumns {
    var tenant: Int?
    var value: Int

    init(names: [String]) {
        let lower = names.map { $0.lowercased() }
        if names.count == 1 {
            tenant = nil
            value = 0
        } else {
            tenant = lower.firstIndex(of: "tenant") ?? 0
            value = lower.firstIndex(of: "value") ?? names.count - 1
        }
    }
}
