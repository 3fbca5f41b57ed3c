import CostModel
import Foundation

/// A source's cost lines (resource × service × currency, with the provider, account and
/// category billed), packed into one blob (`cost_line_sets.lines`) and rewritten whole when a
/// sync brings new lines or a prune drops old ones. A row per line cost the store thread of a
/// 100,000-resource first sync ~0.17 s of CPU (seven bound strings, a B-tree insert and an
/// index entry each) and 10 MB of database; packed, it is one write of ~2.5 MB.
///
/// The per-resource daily rows (`resource_daily`) refer to lines by ID. IDs only grow within
/// a source: a new line takes the source's highest ID plus one, and a pruned line's ID is not
/// referred to by any kept day (`Store.pruneUnusedCostLines`).
///
/// Layout (`PackedBytes`): a version byte; the table of shared strings (service, currency,
/// provider, account, category); then the lines (count, then each: its ID as the difference
/// from the previous one, at least 1; the resource ID; the shared fields as indices).
package enum CostLineSet {
    package static let version: UInt8 = 1

    package struct Entry: Equatable, Sendable {
        package var id: Int64
        package var line: DailyCostTable.Line

        package init(id: Int64, line: DailyCostTable.Line) {
            self.id = id
            self.line = line
        }
    }

    /// `entries` in increasing ID order.
    package static func pack(_ entries: [Entry]) -> Data {
        var shared = PackedBytes.SharedStrings(fields: 5)
        var body = PackedBytes.Writer()
        body.bytes.reserveCapacity(entries.count * 24)
        body.varint(entries.count)
        var previous: Int64 = 0
        for entry in entries {
            precondition(entry.id > previous, "cost line IDs must increase")
            body.varint64(UInt64(entry.id - previous))
            previous = entry.id
            let line = entry.line
            body.string(line.resourceID)
            body.varint(shared.index(line.service, field: 0))
            body.varint(shared.index(line.currency.code, field: 1))
            body.varint(shared.index(line.provider, field: 2))
            body.varint(shared.index(line.account, field: 3))
            body.varint(shared.index(line.category.rawValue, field: 4))
        }
        return PackedBytes.Writer.blob(version: version, shared: shared, body: body)
    }

    package static func unpack(_ data: Data) throws -> [Entry] {
        try data.withUnsafeBytes { raw in
            var reader = PackedBytes.Reader(bytes: raw, what: "packed cost lines")
            let shared = try reader.head(version: version)
            let count = try reader.count()
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            var previous: Int64 = 0
            for _ in 0..<count {
                let offset = reader.offset, step = try reader.varint64()
                guard step >= 1, step <= UInt64(Int64.max - previous) else {
                    throw reader.corrupt(at: offset, "line ID step \(step) after \(previous)")
                }
                previous += Int64(step)
                let resourceID = try reader.string()
                let service = try reader.shared(shared), currency = try reader.shared(shared), provider = try reader.shared(shared)
                let account = try reader.shared(shared), category = try reader.shared(shared)
                entries.append(Entry(id: previous, line: DailyCostTable.Line(
                    resourceID: resourceID, service: service, currency: Currency(currency), provider: provider, account: account,
                    category: CostCategory(rawValue: category) ?? .other)))
            }
            try reader.end(after: "line")
            return entries
        }
    }
}
