import CZenScan
import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A row a reader skipped: where it is and why. Readers keep the first `kept` with their
/// reason and only count the rest.
package struct BadRow: Sendable, Equatable, CustomStringConvertible {
    package var file: String
    package var line: Int
    package var reason: String

    package static let kept = 100

    package init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    package var description: String { "\(file):\(line): \(reason)" }
}

public struct CSVError: Error, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
}

/// RFC 4180 records from a byte stream: commas, double quotes (doubled inside quotes) and
/// line breaks inside quoted fields; CRLF or LF line ends; blank lines skipped; a leading
/// UTF-8 BOM dropped. Reports each record with the physical line it starts on.
///
/// `nextRecord()` hands out byte ranges instead of a `String` per field, so a billing export
/// of millions of rows is read without allocating per field. A record that lies whole in the
/// current chunk is read in place: its fields are ranges of the chunk, found eight bytes at a
/// time, and only a quoted field with doubled quotes is unquoted into a side buffer. Anything
/// else (a record across chunks, a line break inside quotes, a blank line, a stray quote or
/// carriage return) is read byte by byte into the side buffer, with the same result.
/// `next()` gives the fields as strings for readers that want them.
///
/// Public and inlinable: its readers live in other targets (FocusFormat, the providers), and a
/// row's dozen field accesses must compile into their loops, specialised for the chunk source,
/// as they did when reader and callers shared a module. The compiler serialises the bodies of
/// `@inlinable public` code for other modules, not of `@inlinable package` code (without
/// library evolution): as `package`, every field access was a generic call (perf: a third of
/// a 10k-resource sync in metadata lookups).
public struct CSVReader<Source: ByteChunks> {
    @usableFromInline var source: Source
    @usableFromInline var chunk: [UInt8] = []
    @usableFromInline var position = 0
    @usableFromInline var atEnd = false
    @usableFromInline var started = false
    @usableFromInline var line = 1

    /// Unquoted fields that could not be read in place, back to back.
    @usableFromInline var bytes: [UInt8] = []
    /// Where a field's bytes lie: `start ..< end` of `bytes` when `copied`, of `chunk`
    /// otherwise.
    @usableFromInline struct FieldRange {
        @usableFromInline var start: Int
        @usableFromInline var end: Int
        @usableFromInline var copied: Bool
        /// A quoted field of the chunk still holding its doubled quotes (`unquoteInPlace`).
        @usableFromInline var doubledQuotes: Bool

        @inlinable init(start: Int, end: Int, copied: Bool, doubledQuotes: Bool = false) {
            self.start = start
            self.end = end
            self.copied = copied
            self.doubledQuotes = doubledQuotes
        }
    }

    /// The current record's fields, in one array: a 100,000-resource week is 12.6 million
    /// fields, each appended once here rather than three times (start, end, copied).
    @usableFromInline var fields: [FieldRange] = []
    /// Whether a field of the record read in place holds doubled quotes.
    @usableFromInline var hasDoubledQuotes = false

    /// The file name errors are reported against.
    public let file: String
    /// The largest record (its unquoted bytes) and the most fields read; past either the
    /// record is an error (an unterminated quote would otherwise read the rest of the file
    /// into one field).
    public var maxRecordBytes = 4 * 1024 * 1024
    public var maxFields = 10_000

    /// `dropsByteOrderMark: false` for a reader that starts in the middle of a file.
    @inlinable public init(_ source: Source, file: String = "", dropsByteOrderMark: Bool = true) {
        self.source = source
        self.file = file
        self.started = !dropsByteOrderMark
        bytes.reserveCapacity(4096)
        fields.reserveCapacity(64)
    }

    @inlinable public var fieldCount: Int { fields.count }

    /// The line the next record would start on.
    @inlinable public var nextLine: Int { line }

    /// Field `field`'s length in bytes (its bytes are in the chunk or in the copy: `withField`).
    @inlinable public func length(of field: Int) -> Int { fields[field].end - fields[field].start }

    /// Field `field`'s bytes, for parsing without a `String`.
    @inlinable public func withField<Result>(_ field: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let range = fields[field].start..<fields[field].end
        if fields[field].copied {
            return try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
        }
        return try chunk.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    @inlinable public func string(_ field: Int) -> String {
        withField(field) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether field `field` is exactly `text` (ASCII).
    @inlinable public func field(_ field: Int, equals text: StaticString) -> Bool {
        withField(field) { bytes in
            bytes.count == text.utf8CodeUnitCount && (0..<bytes.count).allSatisfy { bytes[$0] == text.utf8Start[$0] }
        }
    }

    /// The next record and its starting line; nil at the end. An unterminated quote is an error.
    @inlinable public mutating func next() throws -> (line: Int, fields: [String])? {
        guard let line = try nextRecord() else { return nil }
        return (line, (0..<fields.count).map { string($0) })
    }

    @inlinable mutating func refill() throws -> Bool {
        while position >= chunk.count {
            let next: [UInt8]?
            do {
                next = atEnd ? nil : try source.next()
            } catch var error as CSVError where error.line == 0 {
                error.line = line  // a gzip error, placed at the line it cut
                throw error
            }
            guard let next else {
                atEnd = true
                return false
            }
            chunk = next
            position = 0
            if !started {
                started = true
                // The BOM may arrive split across the first chunks.
                while chunk.count < 3, let more = try source.next() { chunk += more }
                if chunk.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
            }
        }
        return true
    }

    @inlinable mutating func clearRecord() {
        bytes.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
        hasDoubledQuotes = false
    }

    /// Reads the next record; returns the line it starts on, nil at the end.
    @inlinable public mutating func nextRecord() throws -> Int? {
        clearRecord()
        // A record over the size limit is left to the byte-by-byte read, which reports it.
        if position < chunk.count, let end = recordInPlace(), end - position <= maxRecordBytes {
            if hasDoubledQuotes { unquoteInPlace() }
            position = end
            line += 1
            return line - 1
        }
        clearRecord()
        return try nextRecordByteByByte()
    }

    /// Reads the record at `position` in place when it ends within the chunk and holds no
    /// line break inside quotes, no stray quote or carriage return, and is not blank: returns
    /// the position after its line break. nil leaves the record to `nextRecordByteByByte`.
    @inlinable mutating func recordInPlace() -> Int? {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
        let current = chunk  // shares the storage; `self` stays free to mutate
        let count = current.count
        let start = position
        return current.withUnsafeBufferPointer { buffer -> Int? in
            guard let base = buffer.baseAddress else { return nil }
            var scan = FieldEndScan(base: base, count: count)
            var index = start
            if base[index] == newline || base[index] == carriageReturn { return nil }  // a blank line
            while true {
                guard fields.count < maxFields, index < count else { return nil }
                if base[index] == quote {
                    guard let after = quotedInPlace(base, from: index + 1, count: count, scan: &scan) else { return nil }
                    index = after
                } else {
                    let end = scan.next(from: index)
                    guard end < count, base[end] != quote else { return nil }
                    fields.append(FieldRange(start: index, end: end, copied: false))
                    index = end
                }
                // After a field: a comma, or the line break that ends the record.
                guard index < count else { return nil }
                switch base[index] {
                case comma:
                    index += 1
                case newline:
                    return index + 1
                case carriageReturn where index + 1 < count && base[index + 1] == newline:
                    return index + 2
                default:
                    return nil
                }
            }
        }
    }

    /// The quoted field whose content begins at `from`: appends its range in the chunk and
    /// returns the position after the closing quote; nil when it does not close within the
    /// chunk or holds a line break. Doubled quotes stay until the record is read whole
    /// (`unquoteInPlace`): a record this read gives up on is read again byte by byte. The
    /// quotes are found by the record's scan (a JSON tags field doubles every quote it has:
    /// a `memchr` call each was 2.7 % of a 100,000-resource sync's CPU).
    @inlinable mutating func quotedInPlace(_ base: UnsafePointer<UInt8>, from: Int, count: Int, scan: inout FieldEndScan) -> Int? {
        let quote = UInt8(ascii: "\""), newline = UInt8(ascii: "\n")
        var position = from
        var doubled = false
        while true {
            let found = scan.next(from: position)
            guard found + 1 < count else { return nil }  // not closed here, or the next chunk decides
            switch base[found] {
            case quote where base[found + 1] == quote:
                doubled = true
                position = found + 2
            case quote:
                fields.append(FieldRange(start: from, end: found, copied: false, doubledQuotes: doubled))
                if doubled { hasDoubledQuotes = true }
                return found + 1
            case newline:
                return nil
            default:  // a comma or carriage return inside the quotes
                position = found + 1
            }
        }
    }

    /// Takes the second quote of each doubled pair out of the record's fields that hold
    /// them, in the chunk itself: unquoted, a value is never longer. Copying such values
    /// (JSON tags) run by run into a side buffer was 2 % of a 100,000-resource sync's CPU.
    @inlinable mutating func unquoteInPlace() {
        let quote = Int32(UInt8(ascii: "\""))
        // Taken out and put back, not copied: each stays uniquely held.
        var fields: [FieldRange] = []
        swap(&fields, &self.fields)
        chunk.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for index in fields.indices where fields[index].doubledQuotes {
                var read = fields[index].start, write = read
                let end = fields[index].end
                while read < end {
                    // The run up to and with a quote; its pair's second quote is skipped.
                    let found = memchr(base + read, quote, end - read).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }
                    let length = (found.map { $0 + 1 } ?? end) - read
                    if write != read { memmove(base + write, base + read, length) }
                    write += length
                    read += length + (found == nil ? 0 : 1)
                }
                fields[index].end = write
                fields[index].doubledQuotes = false
            }
        }
        self.fields = fields
        hasDoubledQuotes = false
    }

    /// Ends a field of the byte-by-byte path: it runs from the previous one's end to here.
    @inlinable mutating func endCopiedField() {
        fields.append(FieldRange(start: fields.last?.end ?? 0, end: bytes.count, copied: true))
    }

    /// Reads the next record into `bytes`, byte by byte across chunks; returns the line it
    /// starts on, nil at the end. A loop, not recursion, over blank lines: a file of a
    /// million blank lines must not exhaust the stack.
    @inlinable mutating func nextRecordByteByByte() throws -> Int? {
        var startLine = line
        var quoted = false
        /// Inside quotes, a quote was the last byte of the previous chunk: the next byte decides.
        var pendingQuote = false
        var fieldStarted = false
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
        while true {
            guard try refill() else {
                if quoted && !pendingQuote { throw CSVError(file: file, line: startLine, message: "quoted field not closed before the end of the file") }
                if fields.isEmpty && bytes.isEmpty && !fieldStarted { return nil }
                endCopiedField()
                return startLine
            }
            let current = chunk
            var index = position
            let count = current.count
            var finished = false
            current.withUnsafeBufferPointer { buffer in
                while index < count {
                    if pendingQuote {
                        pendingQuote = false
                        if buffer[index] == quote {
                            bytes.append(quote)
                            index += 1
                            continue
                        }
                        quoted = false
                    }
                    if quoted {
                        // A run up to the next quote, counting the line breaks in it.
                        let runStart = index
                        while index < count, buffer[index] != quote {
                            if buffer[index] == newline { line += 1 }
                            index += 1
                        }
                        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[runStart..<index]))
                        guard index < count else { break }
                        index += 1  // the quote
                        if index == count {
                            pendingQuote = true
                        } else if buffer[index] == quote {
                            bytes.append(quote)
                            index += 1
                        } else {
                            quoted = false
                        }
                        continue
                    }
                    // A run of plain bytes.
                    let runStart = index
                    while index < count {
                        let byte = buffer[index]
                        if byte == comma || byte == quote || byte == newline || byte == carriageReturn { break }
                        index += 1
                    }
                    if index > runStart {
                        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[runStart..<index]))
                        fieldStarted = true
                    }
                    guard index < count else { break }
                    let byte = buffer[index]
                    index += 1
                    switch byte {
                    case comma:
                        endCopiedField()
                        fieldStarted = true
                    case quote where bytes.count == (fields.last?.end ?? 0):
                        quoted = true
                        fieldStarted = true
                    case quote:
                        bytes.append(quote)
                    case carriageReturn:
                        continue
                    default:  // newline
                        line += 1
                        if fields.isEmpty && bytes.isEmpty && !fieldStarted {
                            startLine = line  // a blank line
                            continue
                        }
                        endCopiedField()
                        finished = true
                        return
                    }
                }
            }
            position = index
            if bytes.count > maxRecordBytes || fields.count > maxFields {
                throw CSVError(file: file, line: startLine, message: bytes.count > maxRecordBytes
                    ? "record over \(maxRecordBytes / 1024 / 1024) MiB\(quoted ? " (a quote not closed?)" : "")"
                    : "record of over \(maxFields) fields")
            }
            if finished { return startLine }
        }
    }
}
