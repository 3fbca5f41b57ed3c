import Foundation

/// The byte layout shared by the packed blobs of the store (`ResourceSet`, `CostLineSet`):
/// integers as unsigned LEB128 varints, strings as a varint byte count and UTF-8, and a table
/// of the strings that repeat from entry to entry, each stored once and referred to by index.
package enum PackedBytes {
    package struct Corrupt: Error, CustomStringConvertible {
        /// What the blob holds, e.g. "packed resources".
        package var what: String
        package var offset: Int
        package var reason: String
        package var description: String { "\(what): \(reason) at byte \(offset)" }

        package init(what: String, offset: Int, reason: String) {
            self.what = what
            self.offset = offset
            self.reason = reason
        }
    }

    /// The strings that repeat across entries, each stored once. Each field remembers its
    /// last string: neighbours often share a provider, type or service, and comparing with the
    /// last is cheaper than hashing.
    package struct SharedStrings {
        package var strings: [String] = []
        package var indices: [String: Int] = [:]
        package var last: [(string: String, index: Int)?]

        package init(fields: Int) { last = Array(repeating: nil, count: fields) }

        package mutating func index(_ string: String, field: Int) -> Int {
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

    package struct Writer {
        package var bytes: [UInt8] = []

        package mutating func varint(_ value: Int) { varint64(UInt64(value)) }

        package mutating func varint64(_ value: UInt64) {
            var rest = value
            while rest >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
                rest >>= 7
            }
            bytes.append(UInt8(rest))
        }

        package mutating func string(_ string: String) {
            var string = string
            string.withUTF8 { utf8 in
                varint(utf8.count)
                bytes.append(contentsOf: utf8)
            }
        }

        /// A version byte, the shared strings, then `body`: the table is known only once the
        /// entries are written.
        package static func blob(version: UInt8, shared: SharedStrings, body: Writer) -> Data {
            var head = Writer()
            head.bytes.reserveCapacity(body.bytes.count + shared.strings.reduce(8) { $0 + $1.utf8.count + 2 })
            head.bytes.append(version)
            head.varint(shared.strings.count)
            for string in shared.strings { head.string(string) }
            head.bytes.append(contentsOf: body.bytes)
            return Data(head.bytes)
        }

        package init(bytes: [UInt8] = []) {
            self.bytes = bytes
        }
    }

    package struct Reader {
        package let bytes: UnsafeRawBufferPointer
        package let what: String
        package var offset = 0

        package init(bytes: UnsafeRawBufferPointer, what: String) {
            self.bytes = bytes
            self.what = what
        }

        package func corrupt(at offset: Int, _ reason: String) -> Corrupt { Corrupt(what: what, offset: offset, reason: reason) }

        package mutating func byte() throws -> UInt8 {
            guard offset < bytes.count else { throw corrupt(at: offset, "cut short") }
            defer { offset += 1 }
            return bytes[offset]
        }

        package mutating func varint64() throws -> UInt64 {
            let start = offset
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                let byte = try byte()
                // The tenth byte holds the top bit only.
                guard shift < 63 || (shift == 63 && byte <= 1) else { throw corrupt(at: start, "varint over 64 bits") }
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }

        package mutating func varint() throws -> Int {
            let start = offset, value = try varint64()
            guard value <= UInt64(Int.max) else { throw corrupt(at: start, "varint too large") }
            return Int(value)
        }

        /// A count of items that follow, each at least one byte: never more than the bytes left.
        package mutating func count() throws -> Int {
            let start = offset, value = try varint()
            guard value <= bytes.count - offset else { throw corrupt(at: start, "count \(value) with \(bytes.count - offset) bytes left") }
            return value
        }

        package mutating func string() throws -> String {
            let start = offset, length = try varint()
            guard length <= bytes.count - offset else { throw corrupt(at: start, "string of \(length) bytes with \(bytes.count - offset) left") }
            defer { offset += length }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), as: UTF8.self)
        }

        /// The version byte, checked, and the table of shared strings after it.
        package mutating func head(version: UInt8) throws -> [String] {
            let stored = try byte()
            guard stored == version else { throw corrupt(at: 0, "version \(stored), not \(version)") }
            let count = try count()
            var shared: [String] = []
            shared.reserveCapacity(count)
            for _ in 0..<count { shared.append(try string()) }
            return shared
        }

        /// A string of the shared table, by its index.
        package mutating func shared(_ table: [String]) throws -> String {
            let start = offset, index = try varint()
            guard index < table.count else { throw corrupt(at: start, "string \(index) of \(table.count)") }
            return table[index]
        }

        /// Refuses bytes left after the last entry.
        package func end(after entries: String) throws {
            guard offset == bytes.count else { throw corrupt(at: offset, "\(bytes.count - offset) bytes after the last \(entries)") }
        }
    }
}
