import CostModel
import Foundation

/// A source's current resources, packed into one blob (`resource_sets.resources`), rewritten
/// whole by each sync that changes something. One row per resource cost the commit of a
/// 100,000-resource first sync 0.3–0.45 s of a 2-core machine's CPU (21 bound columns, a
/// B-tree insert and a primary-key index entry each); packed, it is one write of a few
/// megabytes. What changed, and what a deleted resource was, stays in `resource_states`.
///
/// Layout (integers as unsigned LEB128 varints, strings as a varint byte count and UTF-8):
/// a version byte; the table of shared strings (count, then each), the values that repeat
/// from resource to resource (provider, type, service, category, region, account, status,
/// flavor, currency, period, project, tag keys and values); then the resources (count,
/// then each: a flags byte (zombie 1, orphan 2, amount in micro-units 4, host provider 8), the ID and name,
/// the rate amount (a zigzag varint of micro-units when exact, else its text), the shared
/// fields as indices into the table (the host provider after the project, when flagged), the
/// tags as index pairs, the folded IDs).
package enum ResourceSet {
    package static let version: UInt8 = 1

    package typealias Corrupt = PackedBytes.Corrupt

    package static func pack(_ resources: [Resource]) -> Data {
        var shared = PackedBytes.SharedStrings(fields: 14)
        var body = PackedBytes.Writer()
        body.bytes.reserveCapacity(resources.count * 48)
        body.varint(resources.count)
        // Neighbours mostly share a rate period: its text is made once per change.
        var lastPeriod: (hours: Decimal, index: Int)?
        for resource in resources {
            let micros = Micros.exact(resource.rate.amount)
            body.bytes.append((resource.isZombie ? 1 : 0) | (resource.isOrphan ? 2 : 0) | (micros == nil ? 0 : 4)
                | (resource.hostProvider.isEmpty ? 0 : 8))
            body.string(resource.id)
            body.string(resource.name)
            if let micros {
                body.varint64(UInt64(bitPattern: (micros << 1) ^ (micros >> 63)))
            } else {
                body.string(resource.rate.amount.plainString)
            }
            body.varint(shared.index(resource.provider, field: 0))
            body.varint(shared.index(resource.resourceType, field: 1))
            body.varint(shared.index(resource.service, field: 2))
            body.varint(shared.index(resource.category.rawValue, field: 3))
            body.varint(shared.index(resource.region, field: 4))
            body.varint(shared.index(resource.account, field: 5))
            body.varint(shared.index(resource.status.value, field: 6))
            body.varint(shared.index(resource.flavor, field: 7))
            body.varint(shared.index(resource.rate.currency.code, field: 8))
            let hours = resource.rate.periodHours
            if let last = lastPeriod, last.hours == hours {
                body.varint(last.index)
            } else {
                let index = shared.index(hours.plainString, field: 9)
                lastPeriod = (hours, index)
                body.varint(index)
            }
            body.varint(shared.index(resource.project, field: 10))
            // Flag 8: a host provider follows (blobs written before it have none).
            if !resource.hostProvider.isEmpty { body.varint(shared.index(resource.hostProvider, field: 13)) }
            body.varint(resource.tags.count)
            if !resource.tags.isEmpty {
                for (key, value) in resource.tags.sorted(by: { $0.key < $1.key }) {
                    body.varint(shared.index(key, field: 11))
                    body.varint(shared.index(value, field: 12))
                }
            }
            body.varint(resource.folded.count)
            for id in resource.folded { body.string(id) }
        }
        return PackedBytes.Writer.blob(version: version, shared: shared, body: body)
    }

    package static func unpack(_ data: Data) throws -> [Resource] {
        try data.withUnsafeBytes { raw in
            var reader = PackedBytes.Reader(bytes: raw, what: "packed resources")
            let shared = try reader.head(version: version)
            func sharedString() throws -> String { try reader.shared(shared) }
            func decimal(_ text: String, at offset: Int) throws -> Decimal {
                guard let value = ResourceColumns.decimal(text) else { throw reader.corrupt(at: offset, "no number: \(text.debugDescription)") }
                return value
            }
            let count = try reader.count()
            var resources: [Resource] = []
            resources.reserveCapacity(count)
            for _ in 0..<count {
                let flags = try reader.byte()
                let id = try reader.string(), name = try reader.string()
                let amountOffset = reader.offset
                let amount: Decimal
                if flags & 4 != 0 {
                    let zigzag = try reader.varint64()
                    amount = Micros.decimal(Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1))
                } else {
                    amount = try decimal(try reader.string(), at: amountOffset)
                }
                let provider = try sharedString(), type = try sharedString(), service = try sharedString()
                let category = try sharedString(), region = try sharedString(), account = try sharedString()
                let status = try sharedString(), flavor = try sharedString(), currency = try sharedString()
                let periodOffset = reader.offset
                let period = try decimal(try sharedString(), at: periodOffset)
                let project = try sharedString()
                let hostProvider = flags & 8 != 0 ? try sharedString() : ""
                var tags: [String: String] = [:]
                let tagCount = try reader.count()
                tags.reserveCapacity(tagCount)
                for _ in 0..<tagCount { tags[try sharedString()] = try sharedString() }
                let foldedCount = try reader.count()
                var folded: [String] = []
                folded.reserveCapacity(foldedCount)
                for _ in 0..<foldedCount { folded.append(try reader.string()) }
                resources.append(Resource(
                    provider: provider, id: id, name: name, resourceType: type, service: service,
                    category: CostCategory(rawValue: category) ?? .other, region: region, account: account,
                    status: ResourceStatus(provider: status), flavor: flavor, tags: tags,
                    rate: Rate(amount: amount, currency: Currency(currency), periodHours: period),
                    isZombie: flags & 1 != 0, isOrphan: flags & 2 != 0, folded: folded, project: project, hostProvider: hostProvider))
            }
            try reader.end(after: "resource")
            return resources
        }
    }
}
