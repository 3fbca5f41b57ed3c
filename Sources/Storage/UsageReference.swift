import Foundation

/// `usage/<source>/<dimension>` (or `<source>/<dimension>`): one query's values.
package struct UsageReference: Sendable, Hashable, CustomStringConvertible {
    package var usage: String
    package var dimension: String

    package init(usage: String, dimension: String) {
        self.usage = usage
        self.dimension = dimension
    }

    package init?(_ text: String) {
        var parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 3, parts[0] == "usage" { parts.removeFirst() }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self.init(usage: parts[0], dimension: parts[1])
    }

    package var description: String { "usage/\(usage)/\(dimension)" }
}

/// What a usage value may be. Beyond `maximum`, as for ±Inf, NaN and negatives, a row is a bad
/// value: a driver weighs tenants by these, and `Decimal` cannot hold a non-finite number.
package enum UsageValue {
    /// The tenant key of rows that name no tenant (a total).
    package static let total = ""
    /// An exabyte, or 10¹⁸ of anything counted.
    package static let maximum = 1e18

    package static func isSane(_ value: Double) -> Bool { value.isFinite && value >= 0 && value <= maximum }
}
