import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import SourceKit

/// The sync's window as typed values: the first instant in and the first instant after.
struct WarehouseWindow: Sendable {
    var from: Date
    var to: Date
    var timeZone: String
}

/// An engine that runs the grouped queries of a `focus_sql` source and hands each result row
/// to `row` as text fields, streaming: a month of grouped rows is never held as one body.
protocol WarehouseEngine: Sendable {
    /// Runs `body`, whose queries see one snapshot of the table where the engine has them.
    func withSession(timeout: Duration, _ body: (any WarehouseSession) async throws -> Void) async throws
}

protocol WarehouseSession {
    func run(_ query: WarehouseQuery, window: WarehouseWindow, row: ([String]) throws -> Void) async throws
}

/// ClickHouse over its HTTP interface. The user and password travel in the
/// `X-ClickHouse-User`/`X-ClickHouse-Key` headers, never in the URL, which failures show;
/// `max_execution_time` makes the server stop the query when the sync's timeout passes.
/// ClickHouse has no snapshot across statements: each query reads the table as it is then.
struct ClickHouseEngine: WarehouseEngine, WarehouseSession {
    var url: String
    var user: String
    var password: Secret?
    var client: HTTPClient = ProviderClient.shared
    var timeout: Duration = .seconds(60)

    func withSession(timeout: Duration, _ body: (any WarehouseSession) async throws -> Void) async throws {
        var session = self
        session.timeout = timeout
        try await body(session)
    }

    func run(_ query: WarehouseQuery, window: WarehouseWindow, row: ([String]) throws -> Void) async throws {
        let seconds = max(1, Int(timeout.seconds.rounded(.up)))
        var request = HTTPClientRequest(url: "\(url)/?max_execution_time=\(seconds)")
        request.method = .POST
        request.headers.add(name: "X-ClickHouse-User", value: user)
        if let password { request.headers.add(name: "X-ClickHouse-Key", value: password.value) }
        request.body = .bytes(ByteBuffer(string: query.sql))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(Int64(seconds) + 1))
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw SyncFailure(endpoint: query.endpoint, reason: "timeout", message: "ClickHouse at \(url) did not answer within \(timeout.prometheusText)")
        } catch {
            throw SyncFailure(endpoint: query.endpoint, reason: "connection", message: "ClickHouse at \(url): \(error)")
        }
        guard response.status == .ok else {
            let body = (try? await response.body.collect(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
            throw Self.failure(status: Int(response.status.code), body: body, server: url, endpoint: query.endpoint)
        }
        // An exception after the first rows (the query's time running out mid-stream) comes
        // as a last line of the 200 body, not as a status.
        func checked(_ fields: [String]) throws {
            if fields.count == 1, fields[0].hasPrefix("Code: ") {
                throw Self.failure(status: 200, body: fields[0], server: url, endpoint: query.endpoint)
            }
            try row(fields)
        }
        var lines = TabSeparatedLines()
        do {
            for try await chunk in response.body {
                try lines.feed(chunk, checked)
            }
            try lines.finish(checked)
        } catch let error as TabSeparatedLines.LineTooLong {
            throw SyncFailure(endpoint: query.endpoint, reason: "bad_row", message: "ClickHouse at \(url) sent \(error)")
        }
    }

    /// ClickHouse answers an exception with `Code: N, e.displayText() = …`: the code names the
    /// reason (159 is its timeout), the text goes to the log without the query.
    static func failure(status: Int, body: String, server: String, endpoint: String) -> SyncFailure {
        let text = body.split(separator: "\n").first.map(String.init) ?? ""
        let shown = String(text.replacingOccurrences(of: ", e.what() = DB::Exception", with: "").prefix(400))
        if status == 401 || status == 403 || text.hasPrefix("Code: 516") || text.hasPrefix("Code: 192") || text.hasPrefix("Code: 193") {
            return SyncFailure(endpoint: endpoint, reason: "auth", message: "ClickHouse at \(server) refused the user: \(shown)")
        }
        if text.hasPrefix("Code: 159,") {
            return SyncFailure(endpoint: endpoint, reason: "timeout", message: "ClickHouse at \(server) stopped the query: \(shown)")
        }
        if text.hasPrefix("Code: ") {
            return SyncFailure(endpoint: endpoint, reason: "query", message: "ClickHouse at \(server): \(shown)")
        }
        return SyncFailure(endpoint: endpoint, reason: "http_\(status)", message: "ClickHouse at \(server) answered \(status)")
    }
}

/// Splits a streamed TabSeparated body into rows of unescaped fields. A line is held whole
/// until its newline arrives, so a line longer than `maxLineBytes` (an answer that never ends
/// a line) is refused instead of growing without bound.
package struct TabSeparatedLines {
    struct LineTooLong: Error, CustomStringConvertible {
        var line: Int
        var limit: Int
        var description: String {
            "a line over \(limit % (1 << 20) == 0 ? "\(limit >> 20) MiB" : "\(limit) bytes") at row \(line)"
        }
    }

    var maxLineBytes = 4 * 1024 * 1024
    private var carry: [UInt8] = []
    private var lineNumber = 1

    mutating func feed(_ chunk: ByteBuffer, _ row: ([String]) throws -> Void) throws {
        try chunk.withUnsafeReadableBytes { raw in try feed(raw.bindMemory(to: UInt8.self), row) }
    }

    private mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, _ row: ([String]) throws -> Void) throws {
        var start = 0
        for index in 0..<bytes.count where bytes[index] == 0x0A {
            guard carry.count + index - start <= maxLineBytes else { throw LineTooLong(line: lineNumber, limit: maxLineBytes) }
            if carry.isEmpty {
                try row(Self.fields(UnsafeBufferPointer(rebasing: bytes[start..<index])))
            } else {
                carry.append(contentsOf: bytes[start..<index])
                try carry.withUnsafeBufferPointer { try row(Self.fields($0)) }
                carry.removeAll(keepingCapacity: true)
            }
            start = index + 1
            lineNumber += 1
        }
        guard carry.count + bytes.count - start <= maxLineBytes else { throw LineTooLong(line: lineNumber, limit: maxLineBytes) }
        carry.append(contentsOf: bytes[start..<bytes.count])
    }

    /// For tests and the fuzz target: bytes not in a ByteBuffer.
    mutating func feed(_ bytes: [UInt8], _ row: ([String]) throws -> Void) throws {
        try bytes.withUnsafeBufferPointer { try feed($0, row) }
    }

    mutating func finish(_ row: ([String]) throws -> Void) throws {
        guard !carry.isEmpty else { return }
        try carry.withUnsafeBufferPointer { try row(Self.fields($0)) }
        carry = []
    }

    /// Fields of one line; TabSeparated escapes tab, line feed and backslash in strings.
    static func fields(_ line: UnsafeBufferPointer<UInt8>) -> [String] {
        var result: [String] = []
        var field: [UInt8] = []
        var index = 0
        while index < line.count {
            let byte = line[index]
            if byte == 0x09 {
                result.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
            } else if byte == UInt8(ascii: "\\"), index + 1 < line.count {
                index += 1
                switch line[index] {
                case UInt8(ascii: "t"): field.append(0x09)
                case UInt8(ascii: "n"): field.append(0x0A)
                case UInt8(ascii: "r"): field.append(0x0D)
                case UInt8(ascii: "b"): field.append(0x08)
                case UInt8(ascii: "f"): field.append(0x0C)
                case UInt8(ascii: "0"): field.append(0x00)
                default: field.append(line[index])  // \\ \' and anything else: the character itself
                }
            } else {
                field.append(byte)
            }
            index += 1
        }
        result.append(String(decoding: field, as: UTF8.self))
        return result
    }
}

/// PostgreSQL through postgres-nio, connected as the `usage:` PostgreSQL backend connects
/// (`PostgresDSN.connect`): one connection per sync, `statement_timeout` set to the source's
/// timeout, the session's zone UTC (a `timestamp` without zone is FOCUS's UTC). The three
/// queries run in one read-only repeatable-read transaction, so that a load landing between
/// them cannot give resources without their days or a fingerprint of other data.
struct PostgresEngine: WarehouseEngine {
    var dsn: PostgresDSN?
    static let logger = Logger(label: "zen-exporter.focus_sql.postgres")

    func withSession(timeout: Duration, _ body: (any WarehouseSession) async throws -> Void) async throws {
        guard let dsn else { throw SyncFailure(endpoint: "connect", reason: "config", message: "no valid postgres DSN") }
        let connection = try await dsn.connect(timeout: timeout, endpoint: "connect", logger: Self.logger, sessionTimeZone: "UTC")
        do {
            let session = PostgresSession(connection: connection, dsn: dsn, timeout: timeout)
            try await session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", endpoint: "connect")
            try await body(session)
            try await session.execute("COMMIT", endpoint: "connect")
            try? await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

/// One connection's queries: the window bound as $1 and $2, the reporting time zone as $3.
struct PostgresSession: WarehouseSession {
    let connection: PostgresConnection
    /// The server and the timeout its statements are held to, for the failures' messages.
    let dsn: PostgresDSN
    let timeout: Duration

    func run(_ query: WarehouseQuery, window: WarehouseWindow, row: ([String]) throws -> Void) async throws {
        var bindings = PostgresBindings()
        bindings.append(window.from)
        bindings.append(window.to)
        if query.bindsTimeZone { bindings.append(window.timeZone) }
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: query.sql, binds: bindings), logger: PostgresEngine.logger)
            for try await cells in rows {
                var fields: [String] = []
                for cell in cells { fields.append(try cell.decode(String?.self) ?? "") }
                try row(fields)
            }
        } catch let error as PSQLError {
            throw dsn.failure(error, endpoint: query.endpoint, timeout: timeout)
        }
    }

    func execute(_ statement: String, endpoint: String) async throws {
        do {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: PostgresEngine.logger)
        } catch let error as PSQLError {
            throw dsn.failure(error, endpoint: endpoint, timeout: timeout)
        }
    }
}
