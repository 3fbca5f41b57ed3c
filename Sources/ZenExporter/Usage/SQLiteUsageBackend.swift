import Foundation
import GRDB
import SourceKit

/// Usage queries against an SQLite file, opened read-only for each poll (so a file the
/// application replaces is read afresh) and interrupted when a query runs past its timeout.
struct SQLiteUsageBackend: UsageBackend {
    var path: String

    func run(_ query: UsageSourceConfig.Query, timeout: Duration) async throws -> [UsageRow] {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(timeout.seconds)
        configuration.label = "usage"
        let database: DatabaseQueue
        do {
            guard FileManager.default.fileExists(atPath: path) else { throw CocoaError(.fileNoSuchFile) }
            database = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw SyncFailure(endpoint: query.dimension, reason: "connect", message: "cannot open \(path) read-only")
        }
        defer { try? database.close() }
        return try await withDeadline(timeout, endpoint: query.dimension, onTimeout: { database.interrupt() }) {
            do {
                return try await database.read { db in
                    let statement = try db.makeStatement(sql: query.text)
                    let columns = SQLColumns(names: statement.columnNames)
                    let cursor = try Row.fetchCursor(statement)
                    var rows: [UsageRow] = []
                    while let row = try cursor.next() {
                        rows.append(try Self.usageRow(row, columns, dimension: query.dimension))
                    }
                    return rows
                }
            } catch let failure as SyncFailure {
                throw failure
            } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
                throw CancellationError()
            } catch let error as DatabaseError {
                throw SyncFailure(endpoint: query.dimension, reason: "query", message: error.message ?? "\(error.resultCode)")
            }
        }
    }

    static func usageRow(_ row: Row, _ columns: SQLColumns, dimension: String) throws -> UsageRow {
        let value: Double
        switch (row[columns.value] as DatabaseValue).storage {
        case .int64(let number): value = Double(number)
        case .double(let number): value = number
        case .null: value = 0  // SUM over no rows
        case .string(let text):
            guard let parsed = Double(text) else {
                throw SyncFailure(endpoint: dimension, reason: "bad_row", message: "column \(columns.value + 1) (value) is not a number")
            }
            value = parsed
        case .blob:
            throw SyncFailure(endpoint: dimension, reason: "bad_row", message: "column \(columns.value + 1) (value) is binary")
        }
        var tenant: String?
        if let index = columns.tenant {
            switch (row[index] as DatabaseValue).storage {
            case .int64(let id): tenant = String(id)
            case .string(let id): tenant = id
            // Int64(_:) traps past ±9.2e18 and on ±Inf: only whole numbers in range print as integers.
            case .double(let id): tenant = id == id.rounded() && abs(id) < 9e18 ? String(Int64(id)) : String(id)
            case .null, .blob: throw SyncFailure(endpoint: dimension, reason: "bad_row", message: "column \(index + 1) (tenant) is empty or binary")
            }
        }
        return UsageRow(tenant: tenant, value: value)
    }
}
