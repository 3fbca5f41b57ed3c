import CZenScan
import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Chunks of bytes from somewhere: a file, a gzip stream.
protocol ByteChunks {
    /// The next chunk, or nil at the end.
    mutating func next() throws -> [UInt8]?
}

/// A file, or a byte range of it, read 256 KiB at a time: memory stays constant whatever
/// the file's size.
struct FileChunks: ByteChunks {
    let handle: FileHandle
    let path: String
    var chunkSize = 256 * 1024
    /// Bytes left to read in the range; nil reads to the end of the file.
    private var remaining: UInt64?

    init(path: String, range: Range<UInt64>? = nil) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CSVError(file: path, line: 0, message: "cannot open the file")
        }
        self.handle = handle
        self.path = path
        if let range {
            try handle.seek(toOffset: range.lowerBound)
            remaining = range.upperBound - range.lowerBound
        }
    }

    mutating func next() throws -> [UInt8]? {
        var count = chunkSize
        if let remaining {
            guard remaining > 0 else { return nil }
            count = Int(min(UInt64(chunkSize), remaining))
        }
        // Read straight into the chunk: through `Data` each byte was copied twice more.
        let descriptor = handle.fileDescriptor
        var error: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            guard let base = buffer.baseAddress else { return }
            while initialized < count {
                let read = Glibc.read(descriptor, base + initialized, count - initialized)
                if read > 0 {
                    initialized += read
                } else if read == 0 {
                    return
                } else if errno != EINTR {
                    error = errno
                    return
                }
            }
        }
        if error != 0 { throw CSVError(file: path, line: 0, message: "cannot read the file: \(String(cString: strerror(error)))") }
        remaining = remaining.map { $0 - UInt64(bytes.count) }
        return bytes.isEmpty ? nil : bytes
    }

    /// Where to cut a file into two halves read on two threads: just after the first line
    /// break past the middle, or nil when the file is small or has no line break there. The
    /// break may lie inside a quoted field; the reader of the first half finds that out
    /// (`FocusExport.read`), and the file is then read whole.
    static func middleLineStart(path: String, minimumSize: UInt64) -> UInt64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.uint64Value, size >= minimumSize,
              let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var offset = size / 2
        guard (try? handle.seek(toOffset: offset)) != nil else { return nil }
        // A line longer than 4 MiB: leave the file whole.
        for _ in 0..<16 {
            guard let data = try? handle.read(upToCount: 256 * 1024), !data.isEmpty else { return nil }
            if let index = data.firstIndex(of: UInt8(ascii: "\n")) {
                let start = offset + UInt64(index - data.startIndex) + 1
                return start < size ? start : nil
            }
            offset += UInt64(data.count)
        }
        return nil
    }
}

/// Bytes from memory handed out `size` at a time: for tests and fuzzing, which cross every
/// chunk boundary with small sizes.
struct MemoryChunks: ByteChunks {
    var bytes: [UInt8]
    var size: Int
    var offset = 0

    init(bytes: [UInt8], size: Int) {
        self.bytes = bytes
        self.size = max(1, size)
    }

    mutating func next() throws -> [UInt8]? {
        guard offset < bytes.count else { return nil }
        let end = min(bytes.count, offset + size)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }
}

/// Inflates a gzip stream (one or more concatenated members) chunk by chunk. A stream that
/// ends inside a member is truncated, an error; so is one that inflates past
/// `maxRatio` times its compressed size once past `ratioFloorBytes` (a gzip bomb: real CSV
/// exports compress 5–30 times, a bomb about a thousand).
struct GzipChunks<Source: ByteChunks>: ByteChunks {
    private var source: Source
    private var stream = z_stream()
    private var input: [UInt8] = []
    private var offset = 0
    private var started = false
    private var finished = false
    private let file: String
    /// Whether a member has begun and not yet ended.
    private var inMember = false
    private var compressedBytes = 0
    private var inflatedBytes = 0
    var maxRatio = 200
    var ratioFloorBytes = 64 * 1024 * 1024

    init(_ source: Source, file: String) {
        self.source = source
        self.file = file
    }

    mutating func next() throws -> [UInt8]? {
        if !started {
            // 16 + MAX_WBITS: expect a gzip header, not zlib's.
            guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw CSVError(file: file, line: 0, message: "cannot start gzip decompression")
            }
            started = true
        }
        var output = [UInt8](repeating: 0, count: 256 * 1024)
        while !finished {
            if offset >= input.count {
                guard let chunk = try source.next() else {
                    finished = true
                    inflateEnd(&stream)
                    if inMember { throw CSVError(file: file, line: 0, message: "truncated gzip data (the stream ends inside a member)") }
                    return nil
                }
                input = chunk
                offset = 0
                compressedBytes += chunk.count
            }
            var produced = 0
            var status: Int32 = Z_OK
            input.withUnsafeMutableBufferPointer { inBuffer in
                output.withUnsafeMutableBufferPointer { outBuffer in
                    stream.next_in = inBuffer.baseAddress.map { $0 + offset }
                    stream.avail_in = uInt(inBuffer.count - offset)
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = uInt(outBuffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    produced = outBuffer.count - Int(stream.avail_out)
                    offset = inBuffer.count - Int(stream.avail_in)
                }
            }
            if produced > 0 || status == Z_OK { inMember = true }
            if status == Z_STREAM_END {
                inflateReset(&stream)  // a further member may follow
                inMember = false
            } else if status != Z_OK && status != Z_BUF_ERROR {
                inflateEnd(&stream)
                finished = true
                throw CSVError(file: file, line: 0, message: "corrupt gzip data (zlib status \(status))")
            }
            inflatedBytes += produced
            if inflatedBytes > ratioFloorBytes, inflatedBytes / max(compressedBytes, 1) > maxRatio {
                inflateEnd(&stream)
                finished = true
                throw CSVError(file: file, line: 0, message: "gzip data inflates over \(maxRatio) times its size (\(inflatedBytes) bytes from \(compressedBytes)): a gzip bomb?")
            }
            if produced > 0 { return Array(output.prefix(produced)) }
        }
        return nil
    }
}

struct CSVError: Error, CustomStringConvertible {
    var file: String
    var line: Int
    var message: String
    var description: String { "\(file):\(line): \(message)" }
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
struct CSVReader<Source: ByteChunks> {
    private var source: Source
    private var chunk: [UInt8] = []
    private var position = 0
    private var atEnd = false
    private var started = false
    private var line = 1

    /// Unquoted fields that could not be read in place, back to back.
    private var bytes: [UInt8] = []
    /// Where a field's bytes lie: `start ..< end` of `bytes` when `copied`, of `chunk`
    /// otherwise.
    private struct FieldRange {
        var start: Int
        var end: Int
        var copied: Bool
        /// A quoted field of the chunk still holding its doubled quotes (`unquoteInPlace`).
        var doubledQuotes = false
    }

    /// The current record's fields, in one array: a 100,000-resource week is 12.6 million
    /// fields, each appended once here rather than three times (start, end, copied).
    private var fields: [FieldRange] = []
    /// Whether a field of the record read in place holds doubled quotes.
    private var hasDoubledQuotes = false

    /// The file name errors are reported against.
    let file: String
    /// The largest record (its unquoted bytes) and the most fields read; past either the
    /// record is an error (an unterminated quote would otherwise read the rest of the file
    /// into one field).
    var maxRecordBytes = 4 * 1024 * 1024
    var maxFields = 10_000

    /// `dropsByteOrderMark: false` for a reader that starts in the middle of a file.
    init(_ source: Source, file: String = "", dropsByteOrderMark: Bool = true) {
        self.source = source
        self.file = file
        self.started = !dropsByteOrderMark
        bytes.reserveCapacity(4096)
        fields.reserveCapacity(64)
    }

    var fieldCount: Int { fields.count }

    /// The line the next record would start on.
    var nextLine: Int { line }

    /// Field `field`'s length in bytes (its bytes are in the chunk or in the copy: `withField`).
    func length(of field: Int) -> Int { fields[field].end - fields[field].start }

    /// Field `field`'s bytes, for parsing without a `String`.
    func withField<Result>(_ field: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let range = fields[field].start..<fields[field].end
        if fields[field].copied {
            return try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
        }
        return try chunk.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    func string(_ field: Int) -> String {
        withField(field) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether field `field` is exactly `text` (ASCII).
    func field(_ field: Int, equals text: StaticString) -> Bool {
        withField(field) { bytes in
            bytes.count == text.utf8CodeUnitCount && (0..<bytes.count).allSatisfy { bytes[$0] == text.utf8Start[$0] }
        }
    }

    /// The next record and its starting line; nil at the end. An unterminated quote is an error.
    mutating func next() throws -> (line: Int, fields: [String])? {
        guard let line = try nextRecord() else { return nil }
        return (line, (0..<fields.count).map { string($0) })
    }

    private mutating func refill() throws -> Bool {
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

    private mutating func clearRecord() {
        bytes.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
        hasDoubledQuotes = false
    }

    /// Reads the next record; returns the line it starts on, nil at the end.
    mutating func nextRecord() throws -> Int? {
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
    private mutating func recordInPlace() -> Int? {
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
    private mutating func quotedInPlace(_ base: UnsafePointer<UInt8>, from: Int, count: Int, scan: inout FieldEndScan) -> Int? {
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
    private mutating func unquoteInPlace() {
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
    private mutating func endCopiedField() {
        fields.append(FieldRange(start: fields.last?.end ?? 0, end: bytes.count, copied: true))
    }

    /// Reads the next record into `bytes`, byte by byte across chunks; returns the line it
    /// starts on, nil at the end. A loop, not recursion, over blank lines: a file of a
    /// million blank lines must not exhaust the stack.
    private mutating func nextRecordByteByByte() throws -> Int? {
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

/// Finds where plain fields end in a chunk: the next comma, quote, line feed or carriage
/// return at or after a position. The bytes are looked at 64 at a time (`zen_csv_structural64`,
/// SSE2) and the mask kept for the fields that follow in those 64 bytes: a record's fields
/// cost a shift and a bit count each. Where fewer than 64 bytes are left, eight at a time.
private struct FieldEndScan {
    let base: UnsafePointer<UInt8>
    let count: Int
    /// The mask's bit i is byte `maskStart + i`; no mask yet at the start.
    private var maskStart = -64
    private var mask: UInt64 = 0

    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
    }

    /// The position of the first such byte at or after `index` (positions only grow), or `count`.
    @inline(__always) mutating func next(from index: Int) -> Int {
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
    @inline(__always) static func plainRun(_ base: UnsafePointer<UInt8>, from: Int, count: Int) -> Int {
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
