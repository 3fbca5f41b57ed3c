import Foundation
import Logging
import NIOSSL
import PostgresNIO
import SourceKit

/// Usage queries against PostgreSQL: one connection per poll (usage is polled every few
/// minutes), `statement_timeout` set to the query's timeout so the server stops it too, and
/// the connection closed when the deadline passes first.
struct PostgresUsageBackend: UsageBackend {
    var dsn: PostgresDSN?
    private static let logger = Logger(label: "zen-exporter.usage.postgres")

    func run(_ query: UsageSourceConfig.Query, timeout: Duration) async throws -> [UsageRow] {
        guard let dsn else { throw SyncFailure(endpoint: query.dimension, reason: "config", message: "no valid postgres DSN") }
        let connection = try await dsn.connect(timeout: timeout, endpoint: query.dimension, logger: Self.logger)
        do {
            let rows = try await withDeadline(timeout, endpoint: query.dimension, onTimeout: { try? await connection.close() }) {
                try await Self.fetch(query, on: connection, dsn: dsn, timeout: timeout)
            }
            try? await connection.close()
            return rows
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private static func fetch(_ query: UsageSourceConfig.Query, on connection: PostgresConnection, dsn: PostgresDSN,
                              timeout: Duration) async throws -> [UsageRow] {
        do {
            var rows: [UsageRow] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: query.text), logger: logger) {
                let cells = Array(row)
                let columns = SQLColumns(names: cells.map(\.columnName))
                rows.append(try usageRow(cells, columns, dimension: query.dimension))
            }
            return rows
        } catch let error as PSQLError {
            throw dsn.failure(error, endpoint: query.dimension, timeout: timeout)
        }
    }

    static func usageRow(_ cells: [PostgresCell], _ columns: SQLColumns, dimension: String) throws -> UsageRow {
        let valueCell = cells[columns.value]
        let value: Double
        do {
            switch valueCell.dataType {
            case _ where valueCell.bytes == nil: value = 0  // SUM over no rows
            case .int2: value = Double(try valueCell.decode(Int16.self))
            case .int4: value = Double(try valueCell.decode(Int32.self))
            case .int8: value = Double(try valueCell.decode(Int64.self))
            case .float4: value = Double(try valueCell.decode(Float.self))
            case .float8: value = try valueCell.decode(Double.self)
            case .numeric: value = NSDecimalNumber(decimal: try valueCell.decode(Decimal.self)).doubleValue
            default:
                throw SyncFailure(endpoint: dimension, reason: "bad_row", message: "column \(valueCell.columnName) is \(valueCell.dataType), not a number")
            }
        } catch let failure as SyncFailure {
            throw failure
        } catch {
            throw SyncFailure(endpoint: dimension, reason: "bad_row", message: "column \(valueCell.columnName) could not be read as a number")
        }
        guard let tenantIndex = columns.tenant else { return UsageRow(tenant: nil, value: value) }
        let tenantCell = cells[tenantIndex]
        guard tenantCell.bytes != nil else {
            throw SyncFailure(endpoint: dimension, reason: "bad_row", message: "column \(tenantCell.columnName) (tenant) is NULL")
        }
        let tenant: String
        do {
            switch tenantCell.dataType {
            case .int2: tenant = String(try tenantCell.decode(Int16.self))
            case .int4: tenant = String(try tenantCell.decode(Int32.self))
            case .int8: tenant = String(try tenantCell.decode(Int64.self))
            case .uuid: tenant = try tenantCell.decode(UUID.self).uuidString.lowercased()
            default: tenant = try tenantCell.decode(String.self)
            }
        } catch {
            throw SyncFailure(endpoint: dimension, reason: "bad_row", message: "column \(tenantCell.columnName) (tenant) is \(tenantCell.dataType), not text or an integer")
        }
        return UsageRow(tenant: tenant, value: value)
    }

}
