import Foundation

/// Money in the hot paths (daily cost rows, per-scope sums, the database): millionths of the
/// currency unit in an `Int64`, so that sums are exact integer additions (±9.2 × 10¹² units)
/// and SQLite can `SUM` them. `Decimal` stays at the edges, where rates are divided and
/// amounts are printed. Amounts with more than six decimals (FOCUS allows ten) are rounded
/// half-to-even once, where they are read.
public enum Micros {
    public static let perUnit: Int64 = 1_000_000

    /// The exact decimal value of `micros`.
    public static func decimal(_ micros: Int64) -> Decimal {
        Decimal(sign: micros < 0 ? .minus : .plus, exponent: -6, significand: Decimal(micros.magnitude))
    }

    /// `amount` in micro-units when that is exact (at most six decimals, within an Int64),
    /// read from the decimal's own digits without arithmetic; nil otherwise.
    public static func exact(_ amount: Decimal) -> Int64? {
        guard amount.isFinite else { return nil }
        if amount.isZero { return 0 }
        // The significand as a Double is exact below 2⁵³ (it is summed from 16-bit words).
        let digits = amount.significand.magnitude.doubleValue
        guard digits < 9_007_199_254_740_992, digits == digits.rounded(.towardZero) else { return nil }
        let mantissa = UInt64(digits)
        var exponent = amount.exponent + 6
        guard exponent >= 0 else {
            // Trailing zeros below the micro-unit are still exact.
            var value = mantissa
            while exponent < 0 {
                guard value % 10 == 0 else { return nil }
                value /= 10
                exponent += 1
            }
            guard value <= UInt64(Int64.max) else { return nil }
            return amount.sign == .minus ? -Int64(value) : Int64(value)
        }
        var value = mantissa
        while exponent > 0 {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            value = times
            exponent -= 1
        }
        guard value <= UInt64(Int64.max) else { return nil }
        return amount.sign == .minus ? -Int64(value) : Int64(value)
    }

    /// `amount` in micro-units, rounded half-to-even; nil when it does not fit in an Int64.
    public static func from(_ amount: Decimal) -> Int64? {
        if let exact = exact(amount) { return exact }
        guard amount.isFinite else { return nil }
        let scaled = amount.rounded(scale: 6, mode: .bankers) * Decimal(perUnit)
        guard scaled.magnitude <= Decimal(Int64.max) else { return nil }
        return NSDecimalNumber(decimal: scaled).int64Value
    }

    /// Parses a plain decimal literal (`-12.50`, `0.0000001234`, `+3`) straight from bytes,
    /// without `Decimal` or `Double`; digits past the sixth decimal are rounded half-to-even.
    /// Exponents, thousands separators, empty text and overflow give nil.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var index = 0
        var count = bytes.count
        // Trim spaces on both sides.
        while index < count, bytes[index] == 0x20 { index += 1 }
        while count > index, bytes[count - 1] == 0x20 { count -= 1 }
        guard index < count else { return nil }
        var negative = false
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var value: Int64 = 0
        var digits = 0
        var decimals = -1  // -1: no point seen
        var firstDropped: UInt8 = 0  // the seventh decimal digit, for rounding
        var droppedNonZero = false   // any later non-zero digit
        while index < count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: ".") {
                guard decimals < 0 else { return nil }
                decimals = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            digits += 1
            let digit = Int64(byte - UInt8(ascii: "0"))
            if decimals >= 6 {
                if decimals == 6 { firstDropped = UInt8(digit) } else if digit != 0 { droppedNonZero = true }
                decimals += 1
                continue
            }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            if decimals >= 0 { decimals += 1 }
        }
        guard digits > 0 else { return nil }
        var scale = max(decimals, 0)
        while scale < 6 {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            value = times
            scale += 1
        }
        if decimals > 6, firstDropped > 5 || (firstDropped == 5 && (droppedNonZero || value % 2 == 1)) {
            let (sum, overflow) = value.addingReportingOverflow(1)
            guard !overflow else { return nil }
            value = sum
        }
        return negative ? -value : value
    }

    /// `micros` in plain notation without trailing zeros: 1086500000 → "1086.5", -5 → "-0.000005".
    /// Digits are written right to left into one small buffer: the store writes two of these
    /// per resource, and building them from joined strings was a tenth of its time.
    public static func plainString(_ micros: Int64) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let magnitude = micros.magnitude
            var whole = magnitude / UInt64(perUnit), fraction = magnitude % UInt64(perUnit)
            var start = buffer.count
            func put(_ byte: UInt8) {
                start -= 1
                buffer[start] = byte
            }
            if fraction > 0 {
                var places = 6
                while fraction % 10 == 0 {
                    fraction /= 10
                    places -= 1
                }
                for _ in 0..<places {
                    put(UInt8(ascii: "0") + UInt8(fraction % 10))
                    fraction /= 10
                }
                put(UInt8(ascii: "."))
            }
            repeat {
                put(UInt8(ascii: "0") + UInt8(whole % 10))
                whole /= 10
            } while whole > 0
            if micros < 0 { put(UInt8(ascii: "-")) }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[start...]), as: UTF8.self)
        }
    }

    public static func parse(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parse($0) }
    }
}

/// A running sum of exact amounts: whole micro-units add as integers, anything else as
/// `Decimal`; the total is exact either way, and 100,000 additions take microseconds.
public struct ExactSum: Sendable, Equatable {
    private var micros: Int64 = 0
    private var rest: Decimal = 0

    public init() {}

    public mutating func add(micros amount: Int64) {
        let (sum, overflow) = micros.addingReportingOverflow(amount)
        if overflow { rest += Micros.decimal(amount) } else { micros = sum }
    }

    public mutating func add(_ amount: Decimal) {
        if let exact = Micros.exact(amount) { add(micros: exact) } else { rest += amount }
    }

    /// Adds a rate over `hours` (a monthly run rate), in integers when exact.
    public mutating func add(_ rate: Rate, hours: Decimal) {
        if let exact = rate.microsOver(hours: hours) { add(micros: exact) } else { rest += rate.over(hours: hours).amount }
    }

    public var value: Decimal { rest == 0 ? Micros.decimal(micros) : Micros.decimal(micros) + rest }
}
