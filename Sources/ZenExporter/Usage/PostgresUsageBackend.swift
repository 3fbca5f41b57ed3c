import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// `postgres://user:password@host:port/database?sslmode=disable|prefer|require`, parsed once.
/// Its description names the host and database only: the password never reaches a log.
struct PostgresDSN: Sendable, CustomStringConvertible {
    enum SSLMode: String, Sendable { case disable, prefer, require }
    var host: String
    var port: Int
    var user: String
    var password: String?
    var database: String?
    var sslMode: SSLMode

    init?(_ text: String) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty else { return nil }
        self.host = host
        port = components.port ?? 5432
        self.user = user
        password = components.password
        let path = components.path.drop { $0 == "/" }
        database = path.isEmpty ? nil : String(path)
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? SSLMode.prefer.rawValue
        guard let sslMode = SSLMode(rawValue: mode) else { return nil }
        self.sslMode = sslMode
    }

    var description: String { "postgres://\(host):\(port)/\(database ?? "")" }
}

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

/// Connecting and failing, shared by `usage:` PostgreSQL and `type: focus_sql` on PostgreSQL.
extension PostgresDSN {
    /// A connection whose statements the server stops after `timeout` (`statement_timeout`);
    /// `sessionTimeZone` sets the session's `TimeZone` when given.
    func connect(timeout: Duration, endpoint: String, logger: Logger, sessionTimeZone: String? = nil) async throws -> PostgresConnection {
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch sslMode {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        } catch {
            throw SyncFailure(endpoint: endpoint, reason: "connect", message: "TLS setup failed for \(self)")
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                            database: database, tls: tls)
        configuration.options.connectTimeout = .milliseconds(Int64(timeout.seconds * 1000))
        let milliseconds = max(1, Int(timeout.seconds * 1000))
        configuration.options.additionalStartupParameters = [("statement_timeout", "\(milliseconds)"), ("application_name", "zen-exporter")]
        if let sessionTimeZone { configuration.options.additionalStartupParameters.append(("TimeZone", sessionTimeZone)) }
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch let error as PSQLError {
            throw SyncFailure(endpoint: endpoint, reason: "connect", message: "\(self): \(Self.describe(error))")
        } catch {
            throw SyncFailure(endpoint: endpoint, reason: "connect", message: "\(self): \(type(of: error))")
        }
    }

    /// A query's error on this server as a failure: `timeout` when statement_timeout (the
    /// source's `timeout`) cancelled it.
    func failure(_ error: PSQLError, endpoint: String, timeout: Duration) -> SyncFailure {
        if error.serverInfo?[.sqlState] == "57014" {  // query_canceled: statement_timeout
            return SyncFailure(endpoint: endpoint, reason: "timeout",
                               message: "\(self) cancelled the query at statement_timeout \(timeout.prometheusText)")
        }
        return SyncFailure(endpoint: endpoint, reason: "query", message: "\(self): \(Self.describe(error))")
    }

    /// The server's message and SQLSTATE; PSQLError's own description is generic on purpose.
    static func describe(_ error: PSQLError) -> String {
        if let message = error.serverInfo?[.message] { return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))" }
        return "\(error.code)"
    }
}
