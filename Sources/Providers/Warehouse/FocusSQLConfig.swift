import Foundation
import SourceKit
import Yams

/// Reads the keys of a `type: focus_sql` source. Every identifier that will be pasted into SQL
/// (the table and the `columns:` values) is checked here, so that a bad one is a config error
/// with its line:column and never reaches an engine.
enum FocusSQLConfig {
    static func read(_ fields: Fields, _ reader: ConfigReader) -> FocusSQLSource.Settings {
        var settings = FocusSQLSource.Settings()
        if reader.required(fields, "engine") != nil,
           let engine = reader.oneOf(fields, "engine", ["clickhouse", "postgres"]).flatMap(WarehouseDialect.Engine.init(rawValue:)) {
            settings.engine = engine
        }
        settings.password = reader.secret(fields, "password")
        switch settings.engine {
        case .clickhouse: readClickHouse(fields, reader, into: &settings)
        case .postgres: readPostgres(fields, reader, into: &settings)
        }
        if reader.required(fields, "table") != nil, let table = reader.string(fields, "table") {
            if let parts = SQLIdentifier.qualified(table) {
                settings.table = parts
            } else {
                reader.fail(at: fields["table"], fields.path("table"), "\"\(table.prefix(80))\" is not a plain identifier (\(SQLIdentifier.rule))")
            }
        }
        settings.columns = columns(fields, reader)
        return settings
    }

    private static func readClickHouse(_ fields: Fields, _ reader: ConfigReader, into settings: inout FocusSQLSource.Settings) {
        for key in ["dsn", "dsn_env", "dsn_file"] where fields[key] != nil {
            reader.fail(at: fields.entries[key]?.key, fields.path(key), "engine: clickhouse takes url:, user: and password_env/password_file")
        }
        if reader.required(fields, "url") != nil, let url = reader.credentialURL(fields, "url") {
            if let parsed = URL(string: url), parsed.user != nil || parsed.password != nil || parsed.query != nil {
                // The URL is shown in failures: credentials go in headers only.
                reader.fail(at: fields["url"], fields.path("url"), "put the user in user: and the password in password_env/password_file, not in the URL")
            } else {
                settings.url = url.hasSuffix("/") ? String(url.dropLast()) : url
            }
        }
        settings.user = reader.string(fields, "user") ?? "default"
    }

    private static func readPostgres(_ fields: Fields, _ reader: ConfigReader, into settings: inout FocusSQLSource.Settings) {
        for key in ["url", "user"] where fields[key] != nil {
            reader.fail(at: fields.entries[key]?.key, fields.path(key), "engine: postgres takes dsn: (or dsn_env/dsn_file) with password_env/password_file")
        }
        let key = ["dsn", "dsn_env", "dsn_file"].first { fields[$0] != nil }
        let text: String?
        switch key {
        case "dsn":
            text = reader.string(fields, "dsn")
            if let text, PostgresDSN(text)?.password != nil {
                reader.fail(at: fields["dsn"], fields.path("dsn"), "dsn: is shown in config dumps; give the password in password_env/password_file (or the whole DSN in dsn_env/dsn_file)")
                return
            }
        case nil:
            reader.fail(at: fields.node, fields.path("dsn"), "one of dsn, dsn_env or dsn_file is required (postgres://user@host:port/database)")
            return
        default:
            text = reader.secret(fields, "dsn")?.value
        }
        guard let key, let text else { return }
        guard var dsn = PostgresDSN(text) else {
            let shown = key == "dsn" ? "\"\(text.prefix(80))\"" : "the value (not shown: it is a secret)"
            reader.fail(at: fields[key], fields.path(key), "\(shown) is not a postgres://user@host:port/database?sslmode=… URL")
            return
        }
        if let password = settings.password { dsn.password = password.value }
        settings.dsn = dsn
    }

    /// `columns:` FOCUS name → the table's column; null for an optional column the table lacks.
    private static func columns(_ fields: Fields, _ reader: ConfigReader) -> WarehouseColumns {
        guard let node = fields["columns"], !node.isNull,
              let mapping = reader.mapping(node, at: fields.path("columns"), allowed: Set(WarehouseColumns.all)) else { return WarehouseColumns() }
        var overrides: [String: String?] = [:]
        for (focus, entry) in mapping.entries {
            let path = mapping.path(focus)
            if entry.value.isNull {
                if WarehouseColumns.required.contains(focus) {
                    reader.fail(at: entry.value, path, "\(focus) is required: map it to the table's column")
                } else {
                    overrides[focus] = .some(nil)
                }
                continue
            }
            guard case let .scalar(scalar) = entry.value else {
                reader.fail(at: entry.value, path, "expected a column name, got \(entry.value.kindName)")
                continue
            }
            guard SQLIdentifier.isValid(scalar.string) else {
                reader.fail(at: entry.value, path, "\"\(scalar.string.prefix(80))\" is not a plain column name (a letter or _ then letters, digits or _, at most 63)")
                continue
            }
            overrides[focus] = scalar.string
        }
        return WarehouseColumns(overrides: overrides)
    }
}
