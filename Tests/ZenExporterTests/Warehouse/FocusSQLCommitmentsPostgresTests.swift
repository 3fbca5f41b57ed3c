import Foundation
import Testing
@testable import ZenExporter

/// The FOCUS 1.3 export with commitments in a PostgreSQL table, read by `type: focus_sql` with
/// `engine: postgres` and the commitment, effective and invoice columns mapped: the same
/// figures as `type: focus` on the file, as the ClickHouse suite checks for that engine.
@Suite("FOCUS commitments through focus_sql on PostgreSQL", .serialized)
struct FocusSQLCommitmentsPostgresTests {
    /// The export as a table: costs `numeric`, the charge period `timestamptz`, tags `jsonb`,
    /// every other column `text`, empty fields NULL; inserted 500 rows a statement.
    static func load(_ file: String) async throws -> String {
        let schema = PostgresUsageTests.schemaName()
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        let header = FocusCommitmentsTests.csvFields(lines[0])
        let types = header.map { name -> String in
            switch name {
            case "BilledCost", "EffectiveCost", "ListCost", "PricingQuantity": "numeric(24, 10)"
            case "ChargePeriodStart", "ChargePeriodEnd": "timestamptz"
            case "Tags": "jsonb"
            default: "text"
            }
        }
        try await PostgresUsageTests.execute("CREATE SCHEMA \(schema)",
                                             "CREATE TABLE \(schema).focus (\(zip(header, types).map { "\"\($0)\" \($1)" }.joined(separator: ", ")))")
        let columns = header.map { "\"\($0)\"" }.joined(separator: ", ")
        var batch: [String] = []
        func flush() async throws {
            guard !batch.isEmpty else { return }
            try await PostgresUsageTests.execute("INSERT INTO \(schema).focus (\(columns)) VALUES " + batch.joined(separator: ", "))
            batch = []
        }
        for line in lines.dropFirst() where !line.isEmpty {
            let values = zip(FocusCommitmentsTests.csvFields(line), types).map { field, type in
                field.isEmpty ? "NULL" : "'\(field.replacingOccurrences(of: "'", with: "''"))'::\(type)"
            }
            batch.append("(" + values.joined(separator: ", ") + ")")
            if batch.count == 500 { try await flush() }
        }
        try await flush()
        return schema
    }

    static func yaml(_ schema: String) -> String {
        """
        sources:
          - name: cloud
            type: focus_sql
            engine: postgres
            dsn_env: ZEN_TEST_POSTGRES_DSN
            table: \(schema).focus
            timeout: 60s
            retries: 0
            columns: {\(FocusSQLCommitmentsTests.mapped)}
        """
    }

    @Test("utilisation, unused cost, coverage, effective and billed month to date: focus_sql on PostgreSQL equals type: focus on the same export")
    func sameAsFiles() async throws {
        let (directory, file, oracle) = try FocusCommitmentsTests.export(version: "1.3")
        defer { try? FileManager.default.removeItem(at: directory) }
        let schema = try await Self.load(file)
        try FocusSQLCommitmentsTests.expectSameAsFile(Self.yaml(schema), file: file, oracle: oracle)
        try await PostgresUsageTests.execute("DROP SCHEMA \(schema) CASCADE")
    }
}
