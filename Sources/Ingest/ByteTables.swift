import CostModel
import Foundation

/// The two hash tables a FOCUS read does millions of lookups in, per row: packed integer
/// keys to sums, and byte strings to small integers. Swift's `Dictionary` hashes with SipHash
/// and was a quarter of reading a billing export (perf, docs/benchmarks.md); these hash with
/// a multiply, probe linearly in flat arrays, and never retain anything per lookup.

/// A process-wide random seed, so that a crafted export cannot aim rows at one bucket.
private let tableSeed = UInt64.random(in: 1...UInt64.max) | 1

@inline(__always) private func mix(_ value: UInt64) -> UInt64 {
    // The finaliser of MurmurHash3: every input bit reaches every output bit.
    var x = (value ^ tableSeed) &* 0xFF51_AFD7_ED55_8CCD
    x ^= x >> 33
    x = x &* 0xC4CE_B9FE_1A85_EC53
    return x ^ (x >> 33)
}

/// `UInt64` keys (any but `UInt64.max`) to `Int64` values; open addressing, linear probing,
/// at most three quarters full, key and value side by side so that a lookup touches one
/// cache line.
package struct PackedKeyTable {
    private struct Entry {
        var key: UInt64
        var value: Int64
    }

    private static let empty = UInt64.max
    private var entries: [Entry]
    private var mask: Int
    private(set) var count = 0

    package init(minimumCapacity: Int = 16) {
        var capacity = 16
        while capacity * 3 < minimumCapacity * 4 { capacity <<= 1 }
        entries = [Entry](repeating: Entry(key: Self.empty, value: 0), count: capacity)
        mask = capacity - 1
    }

    /// The slot holding `key`, or the empty slot where it belongs.
    @inline(__always) private func slot(_ key: UInt64) -> Int {
        var index = Int(truncatingIfNeeded: mix(key)) & mask
        entries.withUnsafeBufferPointer { entries in
            while entries[index].key != key && entries[index].key != Self.empty { index = (index + 1) & mask }
        }
        return index
    }

    package subscript(key: UInt64) -> Int64? {
        let index = slot(key)
        return entries[index].key == key ? entries[index].value : nil
    }

    package mutating func set(_ key: UInt64, _ value: Int64) {
        let index = slot(key)
        if entries[index].key != key { insert(key, value, at: index) } else { entries[index].value = value }
    }

    /// Adds `amount` to the value of `key`, from zero when absent.
    package mutating func add(_ key: UInt64, _ amount: Int64) {
        let index = slot(key)
        if entries[index].key != key { insert(key, amount, at: index) } else { entries[index].value &+= amount }
    }

    private mutating func insert(_ key: UInt64, _ value: Int64, at index: Int) {
        precondition(key != Self.empty, "UInt64.max is the empty slot")
        entries[index] = Entry(key: key, value: value)
        count += 1
        if count * 4 > entries.count * 3 { grow() }
    }

    private mutating func grow() {
        let old = entries
        entries = [Entry](repeating: Entry(key: Self.empty, value: 0), count: old.count * 2)
        mask = entries.count - 1
        for entry in old where entry.key != Self.empty { entries[slot(entry.key)] = entry }
    }

    /// Every key and value, in no order.
    package func forEach(_ body: (UInt64, Int64) throws -> Void) rethrows {
        for entry in entries where entry.key != Self.empty { try body(entry.key, entry.value) }
    }
}

/// Interns byte strings: each distinct one gets a small integer, and the bytes of a row are
/// looked up without making a `String`. The bytes live in one arena, the table holds
/// integers only.
package struct ByteInterner {
    /// Slot → ID + 1; 0 is empty. At most half full.
    private var slots: [Int32] = [Int32](repeating: 0, count: 64)
    private var hashes: [UInt64] = []
    private var arena: [UInt8] = []
    private var offsets: [Int] = [0]
    private var strings: [String] = []
    /// Whether each value is also kept as a `String` (made once, when first interned);
    /// without, `string(_:)` decodes the bytes at every call.
    private let keepsStrings: Bool

    package init(keepsStrings: Bool = true) { self.keepsStrings = keepsStrings }

    package var count: Int { offsets.count - 1 }

    @inline(__always) private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        // Eight bytes at a time, each word multiplied in; the length and the tail last.
        var hash = UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15
        var index = 0
        let raw = UnsafeRawBufferPointer(bytes)
        while index + 8 <= bytes.count {
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            hash = (hash ^ word) &* 0x5851_F42D_4C95_7F2D
            hash ^= hash >> 29
            index += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
            tail |= UInt64(bytes[index]) << shift
            shift += 8
            index += 1
        }
        return mix(hash ^ tail)
    }

    package mutating func intern(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
        let hash = Self.hash(bytes)
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let stored = slots[index]
            if stored == 0 { break }
            let id = Int(stored - 1)
            if hashes[id] == hash {
                let start = offsets[id], end = offsets[id + 1]
                let equal = end - start == bytes.count && arena.withUnsafeBufferPointer { arena in
                    guard let stored = arena.baseAddress, let looked = bytes.baseAddress else { return bytes.isEmpty }
                    return memcmp(stored + start, looked, bytes.count) == 0
                }
                if equal { return Int32(id) }
            }
            index = (index + 1) & mask
        }
        let id = Int32(count)
        arena.append(contentsOf: bytes)
        offsets.append(arena.count)
        if keepsStrings { strings.append(String(decoding: bytes, as: UTF8.self)) }
        hashes.append(hash)
        slots[index] = id + 1
        if count * 2 > slots.count { grow() }
        return id
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (id, hash) in hashes.enumerated() {
            var index = Int(truncatingIfNeeded: hash) & mask
            while slots[index] != 0 { index = (index + 1) & mask }
            slots[index] = Int32(id + 1)
        }
    }

    /// Whether `id` was interned from exactly `bytes`.
    @inline(__always)
    package func holds(_ id: Int32, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard id >= 0, Int(id) < count else { return false }
        let start = offsets[Int(id)], end = offsets[Int(id) + 1]
        guard end - start == bytes.count else { return false }
        return arena.withUnsafeBufferPointer { arena in
            guard let stored = arena.baseAddress, let looked = bytes.baseAddress else { return bytes.isEmpty }
            return memcmp(stored + start, looked, bytes.count) == 0
        }
    }

    package mutating func intern(_ text: String) -> Int32 {
        var text = text
        return text.withUTF8 { intern($0) }
    }

    private var lastID: Int32 = -1

    /// `intern`, first comparing with the previous call's bytes: for columns whose
    /// consecutive rows mostly repeat (period starts, currencies), no hashing at all.
    package mutating func internRepeated(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
        if lastID >= 0, holds(lastID, bytes) { return lastID }
        lastID = intern(bytes)
        return lastID
    }

    package func string(_ id: Int32) -> String {
        keepsStrings ? strings[Int(id)] : withBytes(id) { String(decoding: $0, as: UTF8.self) }
    }

    /// The bytes `id` was interned from.
    package func withBytes<Result>(_ id: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let range = offsets[Int(id)]..<offsets[Int(id) + 1]
        return try arena.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}

/// Micro-unit sums per line (resource × service × currency) and day, as a FOCUS read adds
/// them: one dense column per day, indexed by line, with a bit per cell for "a row was
/// read". Exports list every resource day after day, so a row lands next to the previous
/// one, and the sums come out ordered by day and line without sorting. When the columns
/// would hold over four cells per sum (resources that each live a day or two: CI runners,
/// spot instances), the sums move to a hash table and are sorted once at the end.
package struct LineDaySums {
    package init() {}

    private var columnDays: [Int32] = []
    private var columns: [[Int64]] = []
    private var present: [[UInt64]] = []
    private var columnOfDay: [Int32: Int] = [:]
    private var lastDay = Int32.min
    private var lastColumn = 0
    private var cells = 0
    private var denseCount = 0
    /// (day, line) packed → micro-units, once the columns would waste memory.
    private var hashed: PackedKeyTable?

    /// How many (line, day) pairs have a sum.
    package var count: Int { hashed?.count ?? denseCount }
    /// Whether the sums moved to the hash table (resources too short-lived for day columns).
    package var isHashed: Bool { hashed != nil }

    package mutating func add(line: Int32, day: Int32, _ micros: Int64) {
        if hashed == nil, addDense(line: line, day: day, micros) { return }
        hashed?.add(Self.key(line: line, day: day), micros)
    }

    /// Adds to the day's column; false when the columns moved to the hash table instead.
    private mutating func addDense(line: Int32, day: Int32, _ micros: Int64) -> Bool {
        if day != lastDay {
            lastColumn = column(of: day)
            lastDay = day
        }
        let index = Int(line)
        if index >= columns[lastColumn].count {
            grow(lastColumn, toHold: index)
            if hashed != nil { return false }
        }
        columns[lastColumn][index] &+= micros
        let word = index >> 6, bit = UInt64(1) << UInt64(index & 63)
        if present[lastColumn][word] & bit == 0 {
            present[lastColumn][word] |= bit
            denseCount += 1
        }
        return true
    }

    /// Appends every sum to `costs` as its rows, by day, then line, and empties this table
    /// (its columns are let go before the next reader needs the memory).
    package mutating func moveRows(into costs: inout DailyCostTable) {
        let sums = self
        self = LineDaySums()
        costs.reserveCapacity(costs.count + sums.count)
        sums.forEachByDayThenLine { day, line, micros in costs.append(day: day, line: line, micros: micros) }
    }

    /// Every sum, ordered by day, then line.
    package func forEachByDayThenLine(_ body: (_ day: Int32, _ line: Int32, _ micros: Int64) throws -> Void) rethrows {
        if let hashed {
            var all: [(key: UInt64, micros: Int64)] = []
            all.reserveCapacity(hashed.count)
            hashed.forEach { key, micros in all.append((key, micros)) }
            all.sort { $0.key < $1.key }
            for entry in all { try body(Int32(bitPattern: UInt32(entry.key >> 32)), Int32(bitPattern: UInt32(truncatingIfNeeded: entry.key)), entry.micros) }
            return
        }
        for column in columnDays.indices.sorted(by: { columnDays[$0] < columnDays[$1] }) {
            let day = columnDays[column]
            for (word, bits) in present[column].enumerated() where bits != 0 {
                var remaining = bits
                while remaining != 0 {
                    let index = word << 6 | remaining.trailingZeroBitCount
                    remaining &= remaining - 1
                    try body(day, Int32(index), columns[column][index])
                }
            }
        }
    }

    /// Day first, so that the hashed sums sort by day, then line.
    private static func key(line: Int32, day: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: day)) << 32 | UInt64(UInt32(bitPattern: line))
    }

    private mutating func column(of day: Int32) -> Int {
        if let known = columnOfDay[day] { return known }
        columnOfDay[day] = columns.count
        columnDays.append(day)
        columns.append([])
        present.append([])
        return columns.count - 1
    }

    private mutating func grow(_ column: Int, toHold index: Int) {
        let old = columns[column].count
        // Whole words of the bitmap; doubling keeps appends amortised.
        let size = (max(index + 1, old * 2, 1024) + 63) & ~63
        cells += size - old
        guard cells <= 4 * denseCount + (1 << 20) else {
            moveToHashTable()
            return
        }
        columns[column].append(contentsOf: repeatElement(0, count: size - old))
        present[column].append(contentsOf: repeatElement(0, count: size / 64 - present[column].count))
    }

    private mutating func moveToHashTable() {
        var table = PackedKeyTable(minimumCapacity: max(16, denseCount * 2))
        forEachByDayThenLine { day, line, micros in table.add(Self.key(line: line, day: day), micros) }
        hashed = table
        columns = []
        present = []
        columnDays = []
        columnOfDay = [:]
    }
}
