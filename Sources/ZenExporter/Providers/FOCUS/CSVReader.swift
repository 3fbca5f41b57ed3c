import CZlib
import Foundation

/// Chunks of bytes from somewhere: a file, a gzip stream.
protocol ByteChunks {
    /// The next chunk, or nil at the end.
    mutating func next() throws -> [UInt8]?
}

/// A file read 256 KiB at a time: memory stays constant whatever the file's size.
struct FileChunks: ByteChunks {
    let handle: FileHandle
    var chunkSize = 256 * 1024

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CSVError(file: path, line: 0, message: "cannot open the file")
        }
        self.handle = handle
    }

    mutating func next() throws -> [UInt8]? {
        let data = try handle.read(upToCount: chunkSize) ?? Data()
        return data.isEmpty ? nil : [UInt8](data)
    }
}

/// Inflates a gzip stream (one or more concatenated members) chunk by chunk.
struct GzipChunks<Source: ByteChunks>: ByteChunks {
    private var source: Source
    private var stream = z_stream()
    private var input: [UInt8] = []
    private var offset = 0
    private var started = false
    private var finished = false
    private let file: String

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
                    return nil
                }
                input = chunk
                offset = 0
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
            if status == Z_STREAM_END {
                inflateReset(&stream)  // a further member may follow
            } else if status != Z_OK && status != Z_BUF_ERROR {
                inflateEnd(&stream)
                finished = true
                throw CSVError(file: file, line: 0, message: "corrupt gzip data (zlib status \(status))")
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
/// line breaks inside quoted fields; CRLF or LF line ends; a leading UTF-8 BOM dropped.
/// Reports each record with the physical line it starts on.
struct CSVReader<Source: ByteChunks> {
    private var source: Source
    private var buffer: [UInt8] = []
    private var position = 0
    private var line = 1
    private var atEnd = false
    private var firstField = true

    /// The file name errors are reported against.
    let file: String

    init(_ source: Source, file: String = "") {
        self.source = source
        self.file = file
    }

    private mutating func byte() throws -> UInt8? {
        if position >= buffer.count {
            guard !atEnd, let chunk = try source.next() else {
                atEnd = true
                return nil
            }
            buffer = chunk
            position = 0
        }
        defer { position += 1 }
        return buffer[position]
    }

    /// The next record and its starting line; nil at the end. An unterminated quote is an error.
    mutating func next() throws -> (line: Int, fields: [String])? {
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var fieldStarted = false
        let startLine = line
        while true {
            guard let byte = try byte() else {
                if quoted { throw CSVError(file: file, line: startLine, message: "quoted field not closed before the end of the file") }
                if fields.isEmpty && field.isEmpty && !fieldStarted { return nil }
                fields.append(text(field))
                return (startLine, fields)
            }
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if let following = try peek(), following == UInt8(ascii: "\"") {
                        position += 1
                        field.append(byte)
                    } else {
                        quoted = false
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: ","):
                fields.append(text(field))
                field.removeAll(keepingCapacity: true)
                fieldStarted = true
            case UInt8(ascii: "\"") where field.isEmpty:
                quoted = true
                fieldStarted = true
            case UInt8(ascii: "\r"):
                continue
            case UInt8(ascii: "\n"):
                line += 1
                if fields.isEmpty && field.isEmpty && !fieldStarted { return try next() }  // blank line
                fields.append(text(field))
                return (startLine, fields)
            default:
                field.append(byte)
                fieldStarted = true
            }
        }
    }

    /// A field's text; the file's very first field loses a UTF-8 byte order mark.
    private mutating func text(_ bytes: [UInt8]) -> String {
        guard firstField else { return String(decoding: bytes, as: UTF8.self) }
        firstField = false
        return String(decoding: bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes, as: UTF8.self)
    }

    private mutating func peek() throws -> UInt8? {
        if position >= buffer.count {
            guard !atEnd, let chunk = try source.next() else {
                atEnd = true
                return nil
            }
            buffer = chunk
            position = 0
        }
        return buffer[position]
    }
}
