import CostModel
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Selectel {
    /// Reads a consumption statistics body for the fields the connector uses and skips the rest
    /// without building it. A 3,000-server account answers ~120 MB for a day and a half of
    /// hourly rows; Foundation's JSONDecoder reads such bodies at ~18 MB/s (and holds a tree
    /// of the whole body), this at ~240 MB/s in a release build (~60 MB/s in a debug one).
    ///
    /// It reads what JSONDecoder read with the Decodable model it replaces: `status` and
    /// `data` at the top level, each row an object whose known fields are strings or null
    /// (`value` a number, a numeric string or null, read as `FlexibleDecimal` reads it),
    /// unknown fields skipped whatever they hold, anything else malformed.
    enum ConsumptionReader {
        /// One row of `data`, flattened.
        struct Row: Sendable {
            var providerKey: String?
            var projectID: String?
            /// Whether the row has an `object` (project totals have `null`).
            var hasObject = false
            var objectID: String?
            var objectName: String?
            var parentID: String?
            var objectType: String?
            var metricRegion: String?
            var period: String?
            var value: Amount?
        }

        /// A row's `value`: whole kopecks as almost every row has them, summed as integers;
        /// anything else exactly as a decimal.
        enum Amount: Sendable, Hashable {
            case whole(Int64)
            case decimal(Decimal)

            var decimal: Decimal {
                switch self {
                case let .whole(kopecks): Decimal(kopecks)
                case let .decimal(value): value
                }
            }
        }

        struct Malformed: Error, CustomStringConvertible {
            var offset: Int
            var problem: String
            /// A well-formed number that is not a finite, plausible amount (`1e400`, `"NaN"`).
            var badValue = false
            var description: String { "at byte \(offset): \(problem)" }
        }

        /// Calls `visit` with every row of `data` in order; returns `status`. `isCancelled` is
        /// polled every thousand rows, and a `CancellationError` thrown when it says so.
        static func read(_ bytes: UnsafeRawBufferPointer, isCancelled: () -> Bool = { false }, _ visit: (Row) throws -> Void) throws -> String? {
            guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), !bytes.isEmpty else {
                throw Malformed(offset: 0, problem: "empty body")
            }
            var scanner = Scanner(base: base, end: bytes.count)
            var status: String?
            var first = true
            try scanner.open("{", "the body")
            while let key = try scanner.nextKey(&first) {
                if scanner.matches(key, "status") {
                    status = try scanner.stringOrNull("status")
                } else if scanner.matches(key, "data") {
                    guard try !scanner.null() else { continue }
                    var firstRow = true
                    var count = 0
                    try scanner.open("[", "data")
                    while try scanner.nextElement(&firstRow) {
                        try visit(try row(&scanner))
                        count += 1
                        if count % 1024 == 0, isCancelled() { throw CancellationError() }
                    }
                } else {
                    try scanner.skipValue()
                }
            }
            scanner.skipWhitespace()
            guard scanner.index == scanner.end else { throw scanner.fail("trailing bytes after the body") }
            return status
        }

        private static func row(_ scanner: inout Scanner) throws -> Row {
            var row = Row()
            var first = true
            try scanner.open("{", "data[]")
            while let key = try scanner.nextKey(&first) {
                switch key.count {
                case 12 where scanner.matches(key, "provider_key"):
                    row.providerKey = try scanner.stringOrNull("provider_key")
                case 7 where scanner.matches(key, "project"):
                    row.projectID = nil
                    guard try !scanner.null() else { continue }
                    var first = true
                    try scanner.open("{", "project")
                    while let key = try scanner.nextKey(&first) {
                        if scanner.matches(key, "id") { row.projectID = try scanner.stringOrNull("project.id") } else { try scanner.skipValue() }
                    }
                case 6 where scanner.matches(key, "object"):
                    (row.hasObject, row.objectID, row.objectName, row.parentID, row.objectType) = (false, nil, nil, nil, nil)
                    guard try !scanner.null() else { continue }
                    row.hasObject = true
                    var first = true
                    try scanner.open("{", "object")
                    while let key = try scanner.nextKey(&first) {
                        switch key.count {
                        case 2 where scanner.matches(key, "id"): row.objectID = try scanner.stringOrNull("object.id")
                        case 4 where scanner.matches(key, "name"): row.objectName = try scanner.stringOrNull("object.name")
                        case 4 where scanner.matches(key, "type"): row.objectType = try scanner.stringOrNull("object.type")
                        case 9 where scanner.matches(key, "parent_id"): row.parentID = try scanner.stringOrNull("object.parent_id")
                        default: try scanner.skipValue()
                        }
                    }
                case 6 where scanner.matches(key, "metric"):
                    row.metricRegion = nil
                    guard try !scanner.null() else { continue }
                    var first = true
                    try scanner.open("{", "metric")
                    while let key = try scanner.nextKey(&first) {
                        if scanner.matches(key, "region") { row.metricRegion = try scanner.stringOrNull("metric.region") } else { try scanner.skipValue() }
                    }
                case 6 where scanner.matches(key, "period"):
                    row.period = try scanner.stringOrNull("period")
                case 5 where scanner.matches(key, "value"):
                    row.value = try scanner.amountOrNull("value")
                default:
                    try scanner.skipValue()
                }
            }
            return row
        }
    }
}

extension Selectel.ConsumptionReader {
    /// The raw bytes of a key, between its quotes.
    struct Key {
        var start: Int
        var count: Int
    }

    /// A cursor over JSON bytes. No closures and no generic collections on the hot path, and
    /// strings are found with `memchr`, so that the bulk of a body (quoted names and
    /// identifiers) passes at C speed even in a debug build.
    struct Scanner {
        let base: UnsafePointer<UInt8>
        let end: Int
        var index = 0
        private var depth = 0

        init(base: UnsafePointer<UInt8>, end: Int) {
            self.base = base
            self.end = end
        }

        private static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C, comma: UInt8 = 0x2C, colon: UInt8 = 0x3A
        private static let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D, openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D

        func fail(_ problem: String) -> Malformed { Malformed(offset: index, problem: problem) }
        func badValue(_ path: String, _ text: String) -> Malformed {
            Malformed(offset: index, problem: "\(path): \(text.prefix(40)) is not a finite amount below 10^18", badValue: true)
        }

        mutating func skipWhitespace() {
            while index < end {
                let byte = base[index]
                guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
                index += 1
            }
        }

        /// The next non-blank byte, not consumed.
        mutating func peek() throws -> UInt8 {
            skipWhitespace()
            guard index < end else { throw fail("unexpected end of the body") }
            return base[index]
        }

        /// Consumes `{` or `[` opening `what`.
        mutating func open(_ bracket: StaticString, _ what: String) throws {
            let byte = bracket.utf8Start.pointee
            guard try peek() == byte else { throw fail("\(what): expected \(byte == Self.openBrace ? "an object" : "an array")") }
            index += 1
            depth += 1
            guard depth <= 512 else { throw fail("nested too deeply") }
        }

        /// The next key of the object opened last, with the cursor after its colon; nil (and
        /// the object closed) at its end. `first` starts true for each object.
        mutating func nextKey(_ first: inout Bool) throws -> Key? {
            var byte = try peek()
            if byte == Self.closeBrace {
                index += 1
                depth -= 1
                return nil
            }
            if !first {
                guard byte == Self.comma else { throw fail("expected ',' or '}'") }
                index += 1
                byte = try peek()
            }
            first = false
            guard byte == Self.quote else { throw fail("expected a key") }
            let (start, count, _) = try rawString()
            guard try peek() == Self.colon else { throw fail("expected ':'") }
            index += 1
            return Key(start: start, count: count)
        }

        /// Whether the array opened last has another element, with the cursor on it.
        mutating func nextElement(_ first: inout Bool) throws -> Bool {
            let byte = try peek()
            if byte == Self.closeBracket {
                index += 1
                depth -= 1
                return false
            }
            if !first {
                guard byte == Self.comma else { throw fail("expected ',' or ']'") }
                index += 1
            }
            first = false
            return true
        }

        /// Consumes `null` if it comes next.
        mutating func null() throws -> Bool {
            guard try peek() == 0x6E else { return false }  // n
            try literal("null")
            return true
        }

        private mutating func literal(_ word: StaticString) throws {
            let count = word.utf8CodeUnitCount
            guard end - index >= count, memcmp(base + index, word.utf8Start, count) == 0 else { throw fail("expected \(word)") }
            index += count
        }

        func matches(_ key: Key, _ name: StaticString) -> Bool {
            key.count == name.utf8CodeUnitCount && memcmp(base + key.start, name.utf8Start, key.count) == 0
        }

        /// The bytes of the string at the cursor without its quotes, and whether it holds escapes.
        private mutating func rawString() throws -> (start: Int, count: Int, escaped: Bool) {
            index += 1  // the opening quote
            let start = index
            while true {
                guard let found = memchr(base + index, Int32(Self.quote), end - index) else { throw fail("unterminated string") }
                let quote = base.distance(to: UnsafePointer(found.assumingMemoryBound(to: UInt8.self)))
                // A quote after an odd run of backslashes is part of the string.
                var backslashes = 0
                while quote - backslashes - 1 >= start && base[quote - backslashes - 1] == Self.backslash { backslashes += 1 }
                index = quote + 1
                if backslashes % 2 == 0 {
                    return (start, quote - start, memchr(base + start, Int32(Self.backslash), quote - start) != nil)
                }
            }
        }

        mutating func string(_ path: String) throws -> String {
            guard try peek() == Self.quote else { throw fail("\(path): expected a string") }
            let (start, count, escaped) = try rawString()
            let bytes = UnsafeBufferPointer(start: base + start, count: count)
            return escaped ? try unescape(bytes, path) : String(decoding: bytes, as: UTF8.self)
        }

        mutating func stringOrNull(_ path: String) throws -> String? {
            try null() ? nil : try string(path)
        }

        /// A number, or a string holding one, with the value `FlexibleDecimal` reads: exactly
        /// from its digits, exponent forms included; a value that is not finite or absurd is a
        /// `badValue`.
        mutating func amountOrNull(_ path: String) throws -> Amount? {
            switch try peek() {
            case 0x6E:  // n
                try literal("null")
                return nil
            case Self.quote:
                let text = try string(path)
                guard let value = Decimal.exact(text) ?? Decimal.exactJSON(text), Money.isPlausible(value) else {
                    throw badValue(path, "\"\(text)\"")
                }
                return .decimal(value)
            default:
                let start = index
                try skipNumber()
                if let whole = wholeNumber(start..<index) { return .whole(whole) }
                let bytes = UnsafeBufferPointer(start: base + start, count: index - start)
                guard let value = Decimal.exactJSON(bytes), Money.isPlausible(value) else {
                    throw badValue(path, String(decoding: bytes, as: UTF8.self))
                }
                return .decimal(value)
            }
        }

        /// `-?[0-9]{1,18}`, without a fraction or exponent.
        private func wholeNumber(_ range: Range<Int>) -> Int64? {
            var i = range.lowerBound
            let negative = base[i] == 0x2D
            if negative { i += 1 }
            guard range.upperBound - i >= 1, range.upperBound - i <= 18 else { return nil }
            var value: Int64 = 0
            while i < range.upperBound {
                let digit = base[i] &- 0x30
                guard digit < 10 else { return nil }
                value = value &* 10 &+ Int64(digit)
                i += 1
            }
            return negative ? -value : value
        }

        private mutating func skipNumber() throws {
            let start = index
            while index < end {
                let byte = base[index]
                guard (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2B || byte == 0x2E || byte == 0x65 || byte == 0x45 else { break }
                index += 1
            }
            guard index > start else { throw fail(index < end ? "unexpected character" : "unexpected end of the body") }
        }

        mutating func skipValue() throws {
            switch try peek() {
            case Self.quote:
                _ = try rawString()
            case Self.openBrace:
                var first = true
                try open("{", "")
                while try nextKey(&first) != nil { try skipValue() }
            case Self.openBracket:
                var first = true
                try open("[", "")
                while try nextElement(&first) { try skipValue() }
            case 0x6E: try literal("null")
            case 0x74: try literal("true")
            case 0x66: try literal("false")
            default: try skipNumber()
            }
        }

        private func unescape(_ bytes: UnsafeBufferPointer<UInt8>, _ path: String) throws -> String {
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var i = 0
            func hex4() throws -> UInt32 {
                guard i + 4 < bytes.count else { throw fail("\(path): short \\u escape") }
                var value: UInt32 = 0
                for byte in bytes[(i + 1)...(i + 4)] {
                    guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { throw fail("\(path): bad \\u escape") }
                    value = value << 4 | UInt32(digit)
                }
                i += 4
                return value
            }
            while i < bytes.count {
                let byte = bytes[i]
                guard byte == Self.backslash else { out.append(byte); i += 1; continue }
                i += 1
                guard i < bytes.count else { throw fail("\(path): bad escape") }
                switch bytes[i] {
                case 0x22, 0x5C, 0x2F: out.append(bytes[i])    // " \ /
                case 0x62: out.append(0x08)                      // b
                case 0x66: out.append(0x0C)                      // f
                case 0x6E: out.append(0x0A)                      // n
                case 0x72: out.append(0x0D)                      // r
                case 0x74: out.append(0x09)                      // t
                case 0x75:                                       // u
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), i + 2 < bytes.count, bytes[i + 1] == Self.backslash, bytes[i + 2] == 0x75 {
                        i += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("\(path): bad surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail("\(path): bad \\u escape") }
                    out.append(contentsOf: String(Character(unicode)).utf8)
                default:
                    throw fail("\(path): bad escape")
                }
                i += 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
