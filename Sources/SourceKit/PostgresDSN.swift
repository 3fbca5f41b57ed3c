import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// `postgres://user:password@host:port/database?sslmode=disable|prefer|require`, parsed once.
/// Its description names the host and database only: the password never reaches a log.
package struct PostgresDSN: Sendable, CustomStringConvertible {
    package enum SSLMode: String, Sendable { case disable, prefer, require }
    package var host: String
    package var port: Int
    package var user: String
    package var password: String?
    package var database: String?
    package var sslMode: SSLMode

    package init?(_ text: String) {
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

    package var description: String { "postgres://\(host):\(port)/\(database ?? "")" }
}

/// Connecting and failing, shared by `usage:` PostgreSQL and `type: focus_sql` on PostgreSQL.
extension PostgresDSN {
    /// A connection whose statements the server stops after `timeout` (`statement_timeout`);
    /// `sessionTimeZone` sets the session's `TimeZone` when given.
    package func connect(timeout: Duration, endpoint: String, logger: Logger, sessionTimeZone: String? = nil) async throws -> PostgresConnection {
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
    package func failure(_ error: PSQLError, endpoint: String, timeout: Duration) -> SyncFailure {
        if error.serverInfo?[.sqlState] == "57014" {  // query_canceled: statement_timeout
            return SyncFailure(endpoint: endpoint, reason: "timeout",
                               message: "\(self) cancelled the query at statement_timeout \(timeout.prometheusText)")
        }
        return SyncFailure(endpoint: endpoint, reason: "query", message: "\(self): \(Self.describe(error))")
    }

    /// The server's message and SQLSTATE; PSQLError's own description is generic on purpose.
    package static func describe(_ error: PSQLError) -> String {
        if let message = error.serverInfo?[.message] { return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))" }
        return "\(error.code)"
    }
}
