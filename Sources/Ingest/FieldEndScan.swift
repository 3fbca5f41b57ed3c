import CZenScan
import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Finds where plain fields end in a chunk: the next comma, quote, line feed or carriage
/// return at or after a position. The bytes are looked at 64 at a time (`zen_csv_structural64`,
/// SSE2) and the mask kept for the fields that follow in those 64 bytes: a record's fields
/// cost a shift and a bit count each. Where fewer than 64 bytes are left, eight at a time.
public struct FieldEndScan {
    public let base: UnsafePointer<UInt8>
    public let count: Int
    /// The mask's bit i is byte `maskStart + i`; no mask yet at the start.
    @usableFromInline var maskStart = -64
    @usableFromInline var mask: UInt64 = 0

    @inlinable public init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
    }

    /// The position of the first such byte at or after `index` (positions only grow), or `count`.
    @inlinable @inline(__always) public mutating func next(from index: Int) -> Int {
        var from = index
        while true {
            let offset = from - maskStart
            if offset >= 0 && offset < 64 {
                let rest = mask >> UInt64(offset)
                if rest != 0 { return from + rest.trailingZeroBitCount }
                from = maskStart + 64
            }
            guard from + 64 <= count else { return Self.plainRun(base, from: from, count: count) }
            maskStart = from
            mask = zen_csv_structural64(base + from)
        }
    }

    /// The first comma, quote, line feed or carriage return at or after `from`, or `count`:
    /// eight bytes at a time (a byte equal to the target makes a zero byte, and the lowest
    /// byte flagged by the borrow trick is always a true one).
    @inlinable @inline(__always) public static func plainRun(_ base: UnsafePointer<UInt8>, from: Int, count: Int) -> Int {
        @inline(__always) func flags(_ word: UInt64, _ byte: UInt64) -> UInt64 {
            let x = word ^ (0x0101_0101_0101_0101 &* byte)
            return (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
        }
        var index = from
        let raw = UnsafeRawPointer(base)
        while index + 8 <= count {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let found = flags(word, 0x2C) | flags(word, 0x22) | flags(word, 0x0A) | flags(word, 0x0D)
            if found != 0 { return index + found.trailingZeroBitCount >> 3 }
            index += 8
        }
        while index < count {
            let byte = base[index]
            if byte == 0x2C || byte == 0x22 || byte == 0x0A || byte == 0x0D { return index }
            index += 1
        }
        return count
    }
}
