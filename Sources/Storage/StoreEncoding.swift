import CostModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// How a resource's tags and folded IDs are kept in one text column each: keys and values
/// separated by control characters that no provider's tag uses (any found are replaced by
/// spaces), which reads back an order of magnitude faster than JSON.
package enum ResourceColumns {
    package static let separator = "\u{1E}"
    package static let pairSeparator = "\u{1F}"

    /// Sorted by key, into one byte buffer. A separator inside a key or value becomes a space
    /// (both are ASCII controls, so replacing the byte replaces the character).
    package static func tags(_ tags: [String: String]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(tags.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 2 })
        func append(_ text: String) {
            for byte in text.utf8 { bytes.append(byte == 0x1E || byte == 0x1F ? 0x20 : byte) }
        }
        for (index, pair) in tags.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { bytes.append(0x1E) }
            append(pair.key)
            bytes.append(0x1F)
            append(pair.value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    package static func tags(_ text: String) -> [String: String] {
        guard !text.isEmpty else { return [:] }
        var tags: [String: String] = [:]
        for pair in text.utf8.split(separator: 0x1E, omittingEmptySubsequences: true) {
            let parts = pair.split(separator: 0x1F, maxSplits: 1, omittingEmptySubsequences: false)
            tags[String(decoding: parts[0], as: UTF8.self)] = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : ""
        }
        return tags
    }

    /// A stored decimal: through micro-units when it has at most six decimals (every
    /// provider's rates; ten times faster than `Decimal(string:)`), exactly either way.
    package static func decimal(_ text: String) -> Decimal? {
        var text = text
        let short = text.withUTF8 { bytes in
            guard let dot = bytes.firstIndex(of: UInt8(ascii: ".")) else { return true }
            return bytes.count - dot - 1 <= 6
        }
        if short, let micros = Micros.parse(text) { return Micros.decimal(micros) }
        return Decimal.exact(text)
    }

    package static func lineKey(_ resourceID: String, _ service: String, _ currency: String) -> String {
        "\(resourceID)\u{1F}\(service)\u{1F}\(currency)"
    }
}

package extension JSONEncoder {
    /// Sorted keys: the same state always serialises to the same text.
    package static var store: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }
}

/// Binds and steps a prepared statement through SQLite's C interface: GRDB's arguments
/// (an array of existentials per row) cost more than SQLite itself at millions of rows.
package enum FastStatement {
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    package static func run(_ statement: Statement, _ db: Database, bind: (OpaquePointer) -> Void) throws {
        let sqlite = statement.sqliteStatement
        sqlite3_reset(sqlite)
        sqlite3_clear_bindings(sqlite)
        bind(sqlite)
        let code = sqlite3_step(sqlite)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                                sql: statement.sql)
        }
    }

    package static func bind(_ sqlite: OpaquePointer, _ index: Int32, _ blob: Data) {
        blob.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(sqlite, index, bytes.baseAddress, Int32(bytes.count), transient)
        }
    }

    package static func bind(_ sqlite: OpaquePointer, _ index: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            _ = bytes.withMemoryRebound(to: CChar.self) { chars in
                if let base = chars.baseAddress {
                    sqlite3_bind_text(sqlite, index, base, Int32(chars.count), transient)
                } else {
                    sqlite3_bind_text(sqlite, index, "", 0, transient)
                }
            }
        }
    }
}

/// One source's per-resource costs of one day, packed: cost line IDs and amounts as two
/// arrays of little-endian Int64, sorted by line, one entry per line. A month of a
/// 100,000-resource estate is 30 rows of 1.6 MB rather than 3,000,000 B-tree rows, which
/// SQLite writes two orders of magnitude faster; per-scope sums (`scope_daily`) stay rows.
package struct ResourceDay {
    package var lines = Data()
    package var micros = Data()

    /// Rows of one day; the same line twice adds up (a provider may bill one resource in
    /// several rows a day).
    package init(_ rows: [(line: Int64, micros: Int64)]) {
        // Stored line IDs mostly follow the rows' order already (they are given out in it).
        let ordered = zip(rows, rows.dropFirst()).allSatisfy { $0.line <= $1.line }
        let sorted = ordered ? rows : rows.sorted { $0.line < $1.line }
        var lineIDs: [Int64] = [], amounts: [Int64] = []
        lineIDs.reserveCapacity(sorted.count)
        amounts.reserveCapacity(sorted.count)
        for row in sorted {
            if let last = lineIDs.last, last == row.line {
                amounts[amounts.count - 1] &+= row.micros
            } else {
                lineIDs.append(row.line)
                amounts.append(row.micros)
            }
        }
        lines = Self.pack(lineIDs)
        micros = Self.pack(amounts)
    }

    package init(lines: Data, micros: Data) {
        self.lines = lines
        self.micros = micros
    }

    package var rows: [(line: Int64, micros: Int64)] {
        let ids = Self.unpack(lines), amounts = Self.unpack(micros)
        return zip(ids, amounts).map { ($0, $1) }
    }

    package static func pack(_ values: [Int64]) -> Data {
        var data = Data(count: values.count * 8)
        data.withUnsafeMutableBytes { bytes in
            for (index, value) in values.enumerated() { bytes.storeBytes(of: value.littleEndian, toByteOffset: index * 8, as: Int64.self) }
        }
        return data
    }

    package static func unpack(_ data: Data) -> [Int64] {
        data.withUnsafeBytes { bytes in
            (0..<(bytes.count / 8)).map { Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        }
    }
}
