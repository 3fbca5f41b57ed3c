import Foundation

/// The FOCUS columns a `focus_sql` source reads, by their FOCUS 1.0–1.2 names, each mapped to
/// the table's own column (`columns:` in the config). Optional columns may be mapped to
/// nothing (`Tags: ~`): the query then uses an empty string in their place.
package struct WarehouseColumns: Sendable, Equatable {
    /// FOCUS name → the table's column; a missing optional column is absent from the map.
    private(set) var names: [String: String]

    /// Without these three there is no cost to sum.
    static let required = ["BilledCost", "BillingCurrency", "ChargePeriodStart"]
    /// FOCUS 1.2 calls ProviderName ServiceProviderName and adds RegionName: map them with
    /// `columns:` (`ProviderName: ServiceProviderName`).
    static let optional = ["ChargeCategory", "ResourceId", "ResourceName", "ResourceType", "ServiceName", "ServiceCategory",
                           "ProviderName", "RegionId", "SubAccountId", "Tags"]
    /// FOCUS 1.1 and later: read only when `columns:` maps them, so that a 1.0 table keeps working.
    static let optIn = ["EffectiveCost", "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountType",
                        "CommitmentDiscountCategory", "CommitmentDiscountStatus", "InvoiceId", "InvoiceIssuerName", "HostProviderName"]
    static var all: [String] { required + optional + optIn }

    init(overrides: [String: String?] = [:]) {
        var names: [String: String] = [:]
        for name in Self.all {
            switch overrides[name] {
            case .none: if !Self.optIn.contains(name) { names[name] = name }
            case .some(.none): break
            case let .some(.some(column)): names[name] = column
            }
        }
        self.names = names
    }

    subscript(focus: String) -> String? { names[focus] }
}

/// Table and column names go into the SQL text (ClickHouse 18.16 has no server-side query
/// parameters, and no engine binds identifiers), so they are refused at config load unless
/// they are plain identifiers, and quoted all the same. Values never come from user text: the
/// window is sent as Unix seconds (ClickHouse) or bound parameters (PostgreSQL).
enum SQLIdentifier {
    /// A letter or underscore, then letters, digits and underscores; at most 63 bytes
    /// (PostgreSQL's limit). No quotes, dots, spaces or anything else an attacker could close a
    /// quote with.
    static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63 else { return false }
        func letter(_ byte: UInt8) -> Bool { (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") || byte == UInt8(ascii: "_") }
        return letter(first) && name.utf8.allSatisfy { letter($0) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }
    }

    /// `table` or `schema.table` (`database.table` in ClickHouse): its parts, or nil.
    static func qualified(_ name: String) -> [String]? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy(isValid) else { return nil }
        return parts
    }

    static let rule = "a letter or _ then letters, digits or _ (at most 63), as table or schema.table"
}

/// The SQL dialect of one engine: how identifiers are quoted, text read and decimals summed.
/// Both engines get the same three queries (docs/providers/focus-sql.md prints them).
package struct WarehouseDialect: Sendable {
    enum Engine: String, Sendable { case clickhouse, postgres }
    let engine: Engine

    func quote(_ identifier: String) -> String {
        switch engine {
        case .clickhouse: "`\(identifier)`"
        case .postgres: "\"\(identifier)\""
        }
    }

    /// A column as text, empty for NULL or a column mapped to nothing.
    func text(_ column: String?) -> String {
        guard let column else { return "''" }
        switch engine {
        case .clickhouse: return "ifNull(toString(\(quote(column))), '')"
        case .postgres: return "coalesce((\(quote(column)))::text, '')"
        }
    }

    /// An exact decimal of the cost: 12 decimals in ClickHouse (exports carry up to 10, and a
    /// smaller scale would truncate each row before the sum; the sum is rounded once, to
    /// micro-units, by the parser), `numeric` in PostgreSQL.
    func decimal(_ column: String) -> String {
        switch engine {
        case .clickhouse: "toDecimal128(\(quote(column)), 12)"
        case .postgres: "(\(quote(column)))::numeric"
        }
    }

    func sumText(_ expression: String, where condition: String? = nil) -> String {
        switch (engine, condition) {
        // A Nullable column whose values in a group are all NULL sums to NULL: 0, as in PostgreSQL.
        case (.clickhouse, nil): "toString(ifNull(sum(\(expression)), 0))"
        case let (.clickhouse, condition?): "toString(ifNull(sumIf(\(expression), \(condition)), 0))"
        case (.postgres, nil): "coalesce(sum(\(expression)), 0)::text"
        case let (.postgres, condition?): "coalesce(sum(\(expression)) FILTER (WHERE \(condition)), 0)::text"
        }
    }

    func countText(where condition: String) -> String {
        switch engine {
        case .clickhouse: "toString(countIf(\(condition)))"
        case .postgres: "(count(*) FILTER (WHERE \(condition)))::text"
        }
    }

    /// Per-resource text attributes: any value of the group (the first seen, in a file).
    func any(_ expression: String) -> String {
        switch engine {
        case .clickhouse: "any(\(expression))"
        case .postgres: "min(\(expression))"
        }
    }

    func concat(_ parts: [String]) -> String {
        switch engine {
        case .clickhouse: "concat(\(parts.joined(separator: ", ")))"
        case .postgres: "(\(parts.joined(separator: " || ")))"
        }
    }

    func ifEmpty(_ expression: String, then fallback: String) -> String {
        switch engine {
        case .clickhouse: "if(empty(\(expression)), \(fallback), \(expression))"
        case .postgres: "CASE WHEN \(expression) = '' THEN \(fallback) ELSE \(expression) END"
        }
    }
}

/// One query and what names it in failures (`infrazen_sync_errors_total{endpoint=…}`).
struct WarehouseQuery: Sendable {
    var endpoint: String
    var sql: String
    /// PostgreSQL binds $1 (window start) and $2 (end) always, $3 (the time zone) when set.
    var bindsTimeZone = false
}

/// The queries of one `focus_sql` source. Every one filters the charge period to the sync's
/// window and groups in the engine: no raw row ever leaves it.
package struct WarehouseQueries: Sendable {
    let dialect: WarehouseDialect
    let table: [String]
    let columns: WarehouseColumns

    var quotedTable: String { table.map(dialect.quote).joined(separator: ".") }
    private func text(_ focus: String) -> String { dialect.text(columns[focus]) }
    private var start: String { dialect.quote(columns["ChargePeriodStart"] ?? "ChargePeriodStart") }
    private var cost: String { dialect.decimal(columns["BilledCost"] ?? "BilledCost") }

    /// Usage charges (ChargeCategory Usage, or none given) make the run rate, as in `type: focus`.
    var isUsage: String { columns["ChargeCategory"] == nil ? "1 = 1" : "\(text("ChargeCategory")) IN ('Usage', '')" }

    /// The service: ServiceName, or the charge category when there is none (a tax line).
    var service: String {
        let category = columns["ChargeCategory"] == nil ? "'Usage'" : dialect.ifEmpty(text("ChargeCategory"), then: "'Usage'")
        return dialect.ifEmpty(text("ServiceName"), then: category)
    }

    /// The resource: ResourceId, or `service|account` for charges without one (as `type: focus`).
    var resource: String {
        dialect.ifEmpty(text("ResourceId"), then: dialect.concat([service, "'|'", text("SubAccountId")]))
    }

    /// The sync's window: ClickHouse gets it as Unix seconds formatted from typed dates,
    /// PostgreSQL as the bound parameters $1 and $2.
    func window(from: Date, to: Date) -> String {
        switch dialect.engine {
        case .clickhouse:
            "\(start) >= toDateTime(\(Int64(from.timeIntervalSince1970))) AND \(start) < toDateTime(\(Int64(to.timeIntervalSince1970)))"
        case .postgres:
            "\(start) >= $1 AND \(start) < $2"
        }
    }

    /// The local day of the charge, in the reporting time zone ($3 in PostgreSQL; in
    /// ClickHouse the zone's name, checked to be a plain IANA name by `timeZoneName`).
    func day(timeZone: String) -> String {
        switch dialect.engine {
        case .clickhouse: "toString(toDate(toTimeZone(toDateTime(\(start)), '\(timeZone)')))"
        case .postgres: "to_char(((\(start))::timestamptz AT TIME ZONE $3)::date, 'YYYY-MM-DD')"
        }
    }

    /// IANA names are letters, digits, `/`, `_`, `-` and `+`; anything else is not put in SQL.
    static func timeZoneName(_ zone: TimeZone) -> String? {
        let name = zone.identifier
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_-+")
        return name.unicodeScalars.allSatisfy(allowed.contains) && !name.isEmpty ? name : nil
    }

    private func finish(_ sql: String) -> String {
        dialect.engine == .clickhouse ? sql + "\nFORMAT TabSeparated" : sql
    }

    /// Rows, the latest charge period and the sum in the window: the same three values as the
    /// last good sync mean the same data, and nothing is grouped again.
    func fingerprint(from: Date, to: Date) -> WarehouseQuery {
        let count = dialect.engine == .clickhouse ? "toString(count())" : "count(*)::text"
        let latest = dialect.engine == .clickhouse ? "toString(max(toDateTime(\(start))))" : "coalesce(max(\(start))::text, '')"
        return WarehouseQuery(endpoint: "fingerprint",
                              sql: finish("SELECT \(count), \(latest), \(dialect.sumText(cost))\nFROM \(quotedTable)\nWHERE \(window(from: from, to: to))"))
    }

    /// One row per resource: the labels `type: focus` takes from a resource's first row.
    func resources(from: Date, to: Date) -> WarehouseQuery {
        let fields = ["ProviderName", "ResourceName", "ResourceType", "RegionId", "SubAccountId", "ServiceCategory", "Tags", "HostProviderName"]
            .map { dialect.any(text($0)) }
        return WarehouseQuery(endpoint: "resources", sql: finish("""
            SELECT \(resource) AS zen_resource, \(fields.joined(separator: ", "))
            FROM \(quotedTable)
            WHERE \(window(from: from, to: to))
            GROUP BY \(dialect.engine == .clickhouse ? "zen_resource" : "1")
            """))
    }

    /// Day × resource × service × currency: the cost, and the usage part of it with its rows;
    /// the EffectiveCost and its usage part too where it is mapped.
    func daily(from: Date, to: Date, timeZone: String) -> WarehouseQuery {
        // Aliases of their own: a column called `resource` or `day` would otherwise clash with them.
        let groupBy = dialect.engine == .clickhouse ? "zen_day, zen_resource, zen_service, zen_currency" : "1, 2, 3, 4"
        let effectiveSum = hasEffectiveCost ? ", \(dialect.sumText(effective)), \(dialect.sumText(effective, where: isUsage))" : ""
        return WarehouseQuery(endpoint: "daily", sql: finish("""
            SELECT \(day(timeZone: timeZone)) AS zen_day, \(resource) AS zen_resource, \(service) AS zen_service,
              upper(\(text("BillingCurrency"))) AS zen_currency,
              \(dialect.sumText(cost)), \(dialect.sumText(cost, where: isUsage)), \(dialect.countText(where: isUsage))\(effectiveSum)
            FROM \(quotedTable)
            WHERE \(window(from: from, to: to))
            GROUP BY \(groupBy)
            """), bindsTimeZone: dialect.engine == .postgres)
    }

    var hasEffectiveCost: Bool { columns["EffectiveCost"] != nil }
    /// EffectiveCost where mapped, else BilledCost (a 1.0 table's commitments have none).
    private var effective: String { columns["EffectiveCost"].map(dialect.decimal) ?? cost }
    private var status: String { text("CommitmentDiscountStatus") }

    /// Day × commitment × status × currency (rows of a commitment with status Used or Unused):
    /// its EffectiveCost, with the commitment's description. nil unless the ID and status are mapped.
    func commitments(from: Date, to: Date, timeZone: String) -> WarehouseQuery? {
        guard columns["CommitmentDiscountId"] != nil, columns["CommitmentDiscountStatus"] != nil else { return nil }
        let groupBy = dialect.engine == .clickhouse ? "zen_day, zen_commitment, zen_status, zen_currency" : "1, 2, 3, 4"
        let described = ["CommitmentDiscountName", "CommitmentDiscountType", "CommitmentDiscountCategory", "ProviderName"].map { dialect.any(text($0)) }
        return WarehouseQuery(endpoint: "commitments", sql: finish("""
            SELECT \(day(timeZone: timeZone)) AS zen_day, \(text("CommitmentDiscountId")) AS zen_commitment, \(status) AS zen_status,
              upper(\(text("BillingCurrency"))) AS zen_currency, \(described.joined(separator: ", ")), \(dialect.sumText(effective))
            FROM \(quotedTable)
            WHERE \(window(from: from, to: to)) AND \(text("CommitmentDiscountId")) <> '' AND \(status) IN ('Used', 'Unused')
            GROUP BY \(groupBy)
            """), bindsTimeZone: dialect.engine == .postgres)
    }

    /// Day × service × currency: the EffectiveCost of usage rows (commitments' Unused rows
    /// left out), and of those a commitment covered. nil unless the status is mapped.
    func coverage(from: Date, to: Date, timeZone: String) -> WarehouseQuery? {
        guard columns["CommitmentDiscountId"] != nil, columns["CommitmentDiscountStatus"] != nil else { return nil }
        let groupBy = dialect.engine == .clickhouse ? "zen_day, zen_service, zen_currency" : "1, 2, 3"
        return WarehouseQuery(endpoint: "coverage", sql: finish("""
            SELECT \(day(timeZone: timeZone)) AS zen_day, \(service) AS zen_service, upper(\(text("BillingCurrency"))) AS zen_currency,
              \(dialect.sumText(effective, where: "\(isUsage) AND \(status) <> 'Unused'")),
              \(dialect.sumText(effective, where: "\(isUsage) AND \(status) = 'Used'"))
            FROM \(quotedTable)
            WHERE \(window(from: from, to: to))
            GROUP BY \(groupBy)
            """), bindsTimeZone: dialect.engine == .postgres)
    }

    /// Day × invoice × issuer × currency: the BilledCost. nil unless InvoiceId is mapped.
    func invoices(from: Date, to: Date, timeZone: String) -> WarehouseQuery? {
        guard columns["InvoiceId"] != nil else { return nil }
        let groupBy = dialect.engine == .clickhouse ? "zen_day, zen_invoice, zen_issuer, zen_currency" : "1, 2, 3, 4"
        return WarehouseQuery(endpoint: "invoices", sql: finish("""
            SELECT \(day(timeZone: timeZone)) AS zen_day, \(text("InvoiceId")) AS zen_invoice, \(text("InvoiceIssuerName")) AS zen_issuer,
              upper(\(text("BillingCurrency"))) AS zen_currency, \(dialect.sumText(cost))
            FROM \(quotedTable)
            WHERE \(window(from: from, to: to))
            GROUP BY \(groupBy)
            """), bindsTimeZone: dialect.engine == .postgres)
    }
}
