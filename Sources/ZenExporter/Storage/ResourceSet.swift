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
/// then each: a flags byte (zombie 1, orphan 2, amount in micro-units 4), the ID and name,
/// the rate amount (a zigzag varint of micro-units when exact, else its text), the shared
/// fields as indices into the table, the tags as index pairs, the folded IDs).
enum ResourceSet {
    static let version: UInt8 = 1

    struct Corrupt: Error, CustomStringConvertible {
        var offset: Int
        var reason: String
        var description: String { "packed resources: \(reason) at byte \(offset)" }
    }

    static func pack(_ resources: [Resource]) -> Data {
        var shared = SharedStrings()
        var body = ByteWriter()
        body.bytes.reserveCapacity(resources.count * 48)
        body.varint(resources.count)
        // Neighbours mostly share a rate period: its text is made once per change.
        var lastPeriod: (hours: Decimal, index: Int)?
        for resource in resources {
            let micros = Micros.exact(resource.rate.amount)
            body.bytes.append((resource.isZombie ? 1 : 0) | (resource.isOrphan ? 2 : 0) | (micros == nil ? 0 : 4))
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
        var head = ByteWriter()
        head.bytes.reserveCapacity(body.bytes.count + shared.strings.reduce(8) { $0 + $1.utf8.count + 2 })
        head.bytes.append(version)
        head.varint(shared.strings.count)
        for string in shared.strings { head.string(string) }
        head.bytes.append(contentsOf: body.bytes)
        return Data(head.bytes)
    }

    static func unpack(_ data: Data) throws -> [Resource] {
        try data.withUnsafeBytes { raw in
            var reader = ByteReader(bytes: raw)
            let stored = try reader.byte()
            guard stored == version else { throw Corrupt(offset: 0, reason: "version \(stored), not \(version)") }
            let sharedCount = try reader.count()
            var shared: [String] = []
            shared.reserveCapacity(sharedCount)
            for _ in 0..<sharedCount { shared.append(try reader.string()) }
            func sharedString() throws -> String {
                let offset = reader.offset, index = try reader.varint()
                guard index < shared.count else { throw Corrupt(offset: offset, reason: "string \(index) of \(shared.count)") }
                return shared[index]
            }
            func decimal(_ text: String, at offset: Int) throws -> Decimal {
                guard let value = ResourceColumns.decimal(text) else { throw Corrupt(offset: offset, reason: "no number: \(text.debugDescription)") }
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
                    isZombie: flags & 1 != 0, isOrphan: flags & 2 != 0, folded: folded, project: project))
            }
            guard reader.offset == raw.count else { throw Corrupt(offset: reader.offset, reason: "\(raw.count - reader.offset) bytes after the last resource") }
            return resources
        }
    }

    /// The strings that repeat across resources, each stored once. Each field remembers its
    /// last string: neighbours often share a provider, type or service, and comparing with the
    /// last is cheaper than hashing.
    private struct SharedStrings {
        var strings: [String] = []
        var indices: [String: Int] = [:]
        var last = [(string: String, index: Int)?](repeating: nil, count: 13)

        mutating func index(_ string: String, field: Int) -> Int {
            if let known = last[field], known.string == string { return known.index }
            let index: Int
            if let found = indices[string] {
                index = found
            } else {
                index = strings.count
                indices[string] = index
                strings.append(string)
            }
            last[field] = (string, index)
            return index
        }
    }

    private struct ByteWriter {
        var bytes: [UInt8] = []

        mutating func varint(_ value: Int) { varint64(UInt64(value)) }

        mutating func varint64(_ value: UInt64) {
            var rest = value
            while rest >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
                rest >>= 7
            }
            bytes.append(UInt8(rest))
        }

        mutating func string(_ string: String) {
            var string = string
            string.withUTF8 { utf8 in
                varint(utf8.count)
                bytes.append(contentsOf: utf8)
            }
        }
    }

    private struct ByteReader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func byte() throws -> UInt8 {
            guard offset < bytes.count else { throw Corrupt(offset: offset, reason: "cut short") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func varint64() throws -> UInt64 {
            let start = offset
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                let byte = try byte()
                // The tenth byte holds the top bit only.
                guard shift < 63 || (shift == 63 && byte <= 1) else { throw Corrupt(offset: start, reason: "varint over 64 bits") }
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }

        mutating func varint() throws -> Int {
            let start = offset, value = try varint64()
            guard value <= UInt64(Int.max) else { throw Corrupt(offset: start, reason: "varint too large") }
            return Int(value)
        }

        /// A count of items that follow, each at least one byte: never more than the bytes left.
        mutating func count() throws -> Int {
            let start = offset, value = try varint()
            guard value <= bytes.count - offset else { throw Corrupt(offset: start, reason: "count \(value) with \(bytes.count - offset) bytes left") }
            return value
        }

        mutating func string() throws -> String {
            let start = offset, length = try varint()
            guard length <= bytes.count - offset else { throw Corrupt(offset: start, reason: "string of \(length) bytes with \(bytes.count - offset) left") }
            defer { offset += length }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), as: UTF8.self)
        }
    }
}
